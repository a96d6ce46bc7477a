// GET /v1/health, GET /metrics, key administration and audit reading.
#include <charconv>

#include <fmt/format.h>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/json_members.hpp"
#include "keystore/service/service.hpp"

namespace sovereign::service {
namespace {

using Json = nlohmann::json;

void HandleHealth(Call& call) {
  ReplyJson(call.res, 200, {{"status", "ok"}, {"region", call.service.region()}, {"version", SOVEREIGN_VERSION}});
}

// The counters show how much each key, label and endpoint is used in the
// region: not for every certificate holder.
void HandleMetrics(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kMetrics)) {
    return Deny(call, "metrics.read", ki::Permission::kMetrics, "reading metrics needs the 'metrics' permission");
  }
  call.res.status = 200;
  call.res.set_content(call.service.metrics().Render(), "text/plain; version=0.0.4");
}

void HandleListKeys(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin) &&
      !call.policy->Allows(call.principal, ki::Permission::kAudit)) {
    return Deny(call, "key.list", ki::Permission::kAdmin, "listing keys needs the 'admin' or 'audit' permission");
  }
  auto keys = call.service.opened().embedded->ListKeys();
  if (!keys.ok()) return ReplyError(call.res, keys.status());
  Json out = {{"region", call.service.region()}, {"keys", Json::array()}};
  for (const auto& key : *keys) out["keys"].push_back(KeyJson(key, call.service.region()));
  ReplyJson(call.res, 200, out);
}

void HandleCreateKey(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin)) {
    return Deny(call, "key.create", ki::Permission::kAdmin, "creating keys needs the 'admin' permission");
  }
  auto body = ParseBody(call.req, {"key"});
  if (!body.ok()) return ReplyError(call.res, body.status());
  std::string name;
  Status ok = ki::ReadString(*body, "", "key", name, /*required=*/true);
  if (!ok.ok()) return ReplyError(call.res, ok);
  auto key = call.service.keystore().CreateKeyAs(call.principal, name);
  if (!key.ok()) return ReplyError(call.res, key.status());
  ReplyJson(call.res, 201, KeyJson(*key, call.service.region()));
}

void HandleRotateKey(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin)) {
    return Deny(call, "key.rotate", ki::Permission::kAdmin, "rotating keys needs the 'admin' permission");
  }
  // The body is optional; when present it must be an empty object.
  if (!call.req.body.empty()) {
    auto body = ParseBody(call.req, {});
    if (!body.ok()) return ReplyError(call.res, body.status());
  }
  const std::string name = call.req.matches.size() > 1 ? std::string(call.req.matches[1]) : std::string();
  auto key = call.service.keystore().RotateKeyAs(call.principal, name);
  if (!key.ok()) return ReplyError(call.res, key.status());
  ReplyJson(call.res, 200, KeyJson(*key, call.service.region()));
}

Status QueryNumber(const httplib::Request& req, const std::string& name, std::uint64_t& out) {
  if (!req.has_param(name)) return OkStatus();
  if (req.get_param_value_count(name) > 1) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("query parameter '{}' is given more than once", name));
  }
  const std::string text = req.get_param_value(name);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("query parameter '{}' must be a non-negative integer", name));
  }
  out = value;
  return OkStatus();
}

// GET /v1/audit?after=SEQ&limit=N: one page of at most min(N, kMaxBatchItems)
// entries and at most ki::kMaxAuditPageBytes of them, with `next_after`, the
// cursor of the next page (null once the page reaches the head).
void HandleAudit(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAudit)) {
    return Deny(call, "audit.read", ki::Permission::kAudit, "reading the audit log needs the 'audit' permission");
  }
  for (const auto& [name, value] : call.req.params) {
    if (name != "after" && name != "limit") {
      return ReplyError(call.res, 400, "invalid_argument", fmt::format("unknown query parameter {}", Json(name).dump()));
    }
  }
  std::uint64_t after = 0;
  std::uint64_t limit = kMaxBatchItems;
  Status ok = QueryNumber(call.req, "after", after);
  if (ok.ok()) ok = QueryNumber(call.req, "limit", limit);
  if (ok.ok() && limit == 0) ok = Status(ErrorCode::kInvalidArgument, "query parameter 'limit' must be at least 1");
  if (!ok.ok()) return ReplyError(call.res, ok);
  limit = std::min<std::uint64_t>(limit, kMaxBatchItems);
  // Who read the log is itself recorded, before anything is served.
  ki::AuditEvent event;
  event.op = "audit.read";
  Status audited = call.service.Audit(call.principal, event);
  if (!audited.ok()) return ReplyError(call.res, audited);
  auto page = call.service.keystore().ReadAudit(after, static_cast<std::size_t>(limit));
  if (!page.ok()) return ReplyError(call.res, page.status());
  Json next = nullptr;
  if (!page->entries.empty()) {
    const auto last = ki::PeekSeq(page->entries.back());
    if (last && *last < page->head.seq) next = *last;
  }
  ReplyJson(call.res, 200,
            {{"entries", page->entries},
             {"head", {{"seq", page->head.seq}, {"hash", page->head.hash}}},
             {"limit", limit},
             {"next_after", next}});
}

}  // namespace

Json KeyJson(const KeyInfo& key, const std::string& region) {
  Json versions = Json::array();
  for (const auto& v : key.versions) {
    Json version = {{"version", v.version},
                    {"state", KeyVersionStateName(v.state)},
                    {"primary", v.version == key.primary_version},
                    {"created_at", Rfc3339(v.created_at)},
                    {"issues", v.issues},
                    {"random_issues", v.random_issues},
                    {"random_encryptions_bound", RandomEncryptionsBound(v)},
                    {"last_used_at", nullptr}};
    if (v.last_used_at) version["last_used_at"] = Rfc3339(*v.last_used_at);
    versions.push_back(std::move(version));
  }
  return {{"name", key.name},
          {"id", key.id},
          {"region", region},
          {"primary_version", key.primary_version},
          {"min_decrypt_version", key.min_decrypt_version},
          {"created_at", Rfc3339(key.created_at)},
          {"subject_keys", key.subject_keys},
          {"shredded_subjects", key.shredded_subjects},
          {"versions", versions}};
}

void AddHealthAndMetricsRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "GET", "/v1/health", "/v1/health", HandleHealth);
  AddRoute(server, service, "GET", "/metrics", "/metrics", HandleMetrics);
}

void AddKeyRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "GET", "/v1/keys", "/v1/keys", HandleListKeys);
  AddRoute(server, service, "POST", "/v1/keys", "/v1/keys", HandleCreateKey);
  AddRoute(server, service, "POST", R"(/v1/keys/([^/]+)/rotate)", "/v1/keys/{name}/rotate", HandleRotateKey);
  AddKeyLifecycleRoutes(server, service);
}

void AddAuditRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "GET", "/v1/audit", "/v1/audit", HandleAudit);
}

}  // namespace sovereign::service
