// POST /v1/leases: field keys for local crypto, for principals with `lease`.
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/service/request_parse.hpp"
#include "keystore/service/service.hpp"
#include "sdk/internal/base64url.hpp"
#include "sdk/internal/hex.hpp"

namespace sovereign::service {
namespace {

using Json = nlohmann::json;

// AppendLease appends {"ok": {...}} for `key`; the field key is encoded
// straight into `out`, which the caller wipes after sending.
void AppendLease(std::string& out, const FieldKeyMaterial& key, const std::string& expires_at) {
  Json meta = {{"region", key.region}, {"key", key.key_name},     {"key_id", key.key_id},
               {"version", key.version}, {"mode", ModeName(key.mode)}, {"label", key.label},
               {"label_id", key.label_id}, {"expires_at", expires_at}};
  if (key.subject_tag) meta["subject_tag"] = internal::ToHex(*key.subject_tag);
  std::string text = meta.dump();
  text.pop_back();  // the closing brace: field_key goes last
  out += "{\"ok\":";
  out += text;
  out += ",\"field_key\":\"";
  internal::Base64UrlEncode(key.key.bytes(InsecureSecretKeyAccess::Get()), out);
  out += "\"}}";
}

void HandleLeases(Call& call) {
  Json body;
  const Json* items = nullptr;
  if (!ReadBatch(call, body, items)) return;
  std::vector<LeaseItem> parsed;
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto item = ReadLeaseItem((*items)[i], ki::ElementPath("/items", i));
    if (!item.ok()) return ReplyError(call.res, item.status());
    parsed.push_back(std::move(item).value());
  }

  Service& service = call.service;
  const bool may_lease = call.policy->AllowsSome(call.principal, ki::Permission::kLease);
  std::vector<std::optional<Status>> errors(parsed.size());
  std::vector<std::optional<FieldKeyMaterial>> keys(parsed.size());
  std::map<std::pair<std::string, std::string>, std::uint64_t> denied;
  std::vector<ki::FieldKeyRequest> requests;
  std::vector<std::size_t> request_items;  // item index of each request
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    LeaseItem& item = parsed[i];
    if (!item.by_name && may_lease) {
      auto names = service.keystore().ResolveNames(item.key_id, item.label_id);
      if (!names.ok()) return ReplyError(call.res, names.status());
      if (names->key && names->label) {
        item.key = *names->key;
        item.label = *names->label;
      }
    }
    const bool resolved = item.by_name || !item.key.empty();
    if (!may_lease || (resolved && !call.policy->Allows(call.principal, ki::Permission::kLease, item.key, item.label))) {
      // At most kMaxAuditGroups names per entry; the rest are summed under "*".
      std::pair<std::string, std::string> names{item.key, item.label};
      if (denied.size() >= kMaxAuditGroups && denied.find(names) == denied.end()) names = {"*", "*"};
      ++denied[names];
      errors[i] = Status(ErrorCode::kDenied,
                         item.by_name || resolved
                             ? fmt::format("principal may not lease key '{}' label '{}'", item.key, item.label)
                             : std::string("principal may not lease field keys"));
      continue;
    }
    ki::FieldKeyRequest request;
    request.by_name = item.by_name;
    request.key_name = item.key;
    request.label = item.label;
    request.key_id = item.key_id;
    request.version = item.version;
    request.label_id = item.label_id;
    request.mode = item.mode;
    if (item.subject) request.subject = std::string_view(*item.subject);
    request.subject_tag = item.subject_tag;
    requests.push_back(request);
    request_items.push_back(i);
  }
  // Issuing audits each field key (op "lease") before returning it; the
  // request's keys share group commits.
  auto issued = service.keystore().FieldKeysAs(call.principal, "lease", requests);
  for (std::size_t r = 0; r < issued.size(); ++r) {
    auto& key = issued[r];
    const std::size_t i = request_items[r];
    service.metrics().CountAuditWrite(key.code() != ErrorCode::kKeystoreUnavailable);
    if (key.code() == ErrorCode::kKeystoreUnavailable) return ReplyError(call.res, key.status());
    if (key.ok()) {
      keys[i] = std::move(key).value();
    } else {
      errors[i] = key.status();
    }
  }

  if (!denied.empty()) {
    ki::AuditEvent event;
    event.op = "lease";
    event.outcome = "denied";
    event.reason = "no 'lease' permission for these keys and labels";
    event.counts = Json::array();
    std::uint64_t total = 0;
    for (const auto& [names, n] : denied) {
      event.counts.push_back({{"key", names.first}, {"label", names.second}, {"denied", n}});
      total += n;
    }
    service.metrics().CountDenial("lease", total);
    Status audited = service.Audit(call.principal, event);
    if (!audited.ok()) return ReplyError(call.res, audited);
  }

  std::string out;
  out.reserve(64 + parsed.size() * 512);
  out += fmt::format("{{\"ttl_seconds\":{},\"items\":[", service.config().lease_ttl.count());
  std::uint64_t leased = 0;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if (i != 0) out += ',';
    if (keys[i]) {
      AppendLease(out, *keys[i], Rfc3339(keys[i]->expires_at));
      ++leased;
    } else {
      out += Json{{"error", ErrorJson(*errors[i])}}.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
  }
  out += "]}";
  service.metrics().CountLeases(leased);
  service.metrics().CountBatchItems("/v1/leases", "ok", leased);
  service.metrics().CountBatchItems("/v1/leases", "denied", [&] {
    std::uint64_t n = 0;
    for (const auto& [names, count] : denied) n += count;
    return n;
  }());
  ReplySensitive(call.res, std::move(out));
}

}  // namespace

void AddLeaseRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "POST", "/v1/leases", "/v1/leases", HandleLeases);
}

}  // namespace sovereign::service
