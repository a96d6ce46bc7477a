// Key version lifecycle over HTTP (permission `admin`), and one key's status
// (`admin` or `audit`):
//
//   GET  /v1/keys/{name}                          the key, its versions, states and usage
//   POST /v1/keys/{name}/retire                   {"below": V}
//   POST /v1/keys/{name}/versions/{v}/disable     {} or no body
//   POST /v1/keys/{name}/versions/{v}/enable      {} or no body
//   POST /v1/keys/{name}/versions/{v}/destroy     {"confirm": true}
//   POST /v1/keys/{name}/subjects/shred           {"subject": "...", "reason": "..."}
//
// The keystore audits every change, refused ones too (ServiceKeystore::ChangeKeyAs).
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/service/service.hpp"

namespace sovereign::service {
namespace {

using Json = nlohmann::json;
using Kind = ki::KeyChange::Kind;

std::string Match(const Call& call, std::size_t i) {
  return call.req.matches.size() > i ? std::string(call.req.matches[i]) : std::string();
}

Result<std::uint32_t> ParseVersion(const std::string& text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return Status(ErrorCode::kInvalidArgument, "the key version must be an integer from 1 to 4294967295");
  }
  return value;
}

void Reply(Call& call, const Result<KeyInfo>& key) {
  if (!key.ok()) return ReplyError(call.res, key.status());
  ReplyJson(call.res, 200, KeyJson(*key, call.service.region()));
}

void HandleGetKey(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin) &&
      !call.policy->Allows(call.principal, ki::Permission::kAudit)) {
    return Deny(call, "key.status", ki::Permission::kAdmin, "describing a key needs the 'admin' or 'audit' permission");
  }
  Reply(call, call.service.opened().embedded->GetKey(Match(call, 1)));
}

void HandleRetire(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin)) {
    return Deny(call, "key.retire", ki::Permission::kAdmin, "retiring key versions needs the 'admin' permission");
  }
  auto body = ParseBody(call.req, {"below"});
  if (!body.ok()) return ReplyError(call.res, body.status());
  std::optional<std::uint64_t> below;
  Status ok = ki::ReadUnsigned(*body, "", "below", 1, std::numeric_limits<std::uint32_t>::max(), below);
  if (ok.ok() && !below) ok = Status(ErrorCode::kInvalidArgument, "missing member below");
  if (!ok.ok()) return ReplyError(call.res, ok);
  const ki::KeyChange change{Kind::kRetireBelow, static_cast<std::uint32_t>(*below)};
  Reply(call, call.service.keystore().ChangeKeyAs(call.principal, Match(call, 1), change));
}

void HandleVersionChange(Call& call) {
  const std::string action = Match(call, 3);
  const Kind kind = action == "enable" ? Kind::kEnable : action == "disable" ? Kind::kDisable : Kind::kDestroy;
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin)) {
    return Deny(call, ki::KeyChangeOp(kind), ki::Permission::kAdmin,
                fmt::format("to {} a key version needs the 'admin' permission", action));
  }
  auto version = ParseVersion(Match(call, 2));
  if (!version.ok()) return ReplyError(call.res, version.status());
  if (kind == Kind::kDestroy) {
    // Destruction is irreversible: the request must say so explicitly.
    auto body = ParseBody(call.req, {"confirm"});
    if (!body.ok()) return ReplyError(call.res, body.status());
    const auto confirm = body->find("confirm");
    if (confirm == body->end() || *confirm != true) {
      return ReplyError(call.res, Status(ErrorCode::kInvalidArgument, "destroying a key version needs {\"confirm\": true}"));
    }
  } else if (!call.req.body.empty()) {
    auto body = ParseBody(call.req, {});
    if (!body.ok()) return ReplyError(call.res, body.status());
  }
  Reply(call, call.service.keystore().ChangeKeyAs(call.principal, Match(call, 1), ki::KeyChange{kind, *version}));
}

void HandleShred(Call& call) {
  if (!call.policy->Allows(call.principal, ki::Permission::kAdmin)) {
    return Deny(call, "subject.shred", ki::Permission::kAdmin, "shredding a subject needs the 'admin' permission");
  }
  auto body = ParseBody(call.req, {"subject", "reason"});
  if (!body.ok()) return ReplyError(call.res, body.status());
  std::string subject;
  std::string reason;
  Status ok = ki::ReadString(*body, "", "subject", subject, /*required=*/true);
  if (ok.ok()) ok = ki::ReadString(*body, "", "reason", reason, /*required=*/false);
  // Messages name the member, never echo the subject id.
  if (ok.ok() && !ValidateSubject(subject).ok()) {
    ok = Status(ErrorCode::kInvalidArgument, fmt::format("member /subject must be 1 to {} bytes", kMaxSubjectSize));
  }
  if (ok.ok() && !ValidateShredReason(reason).ok()) {
    ok = Status(ErrorCode::kInvalidArgument,
                fmt::format("member /reason must be at most {} printable ASCII characters", kMaxShredReasonSize));
  }
  if (!ok.ok()) {
    WipeString(subject);
    return ReplyError(call.res, ok);
  }
  auto report = call.service.keystore().ShredSubjectAs(call.principal, Match(call, 1), subject, reason);
  WipeString(subject);
  if (!report.ok()) return ReplyError(call.res, report.status());
  ReplyJson(call.res, 200,
            {{"region", call.service.region()},
             {"key", report->key},
             {"subject_tag", report->subject_tag},
             {"subject_keys_destroyed", report->subject_keys_destroyed},
             {"already_shredded", report->already_shredded},
             {"wal_truncation_postponed", report->wal_truncation_postponed}});
}

}  // namespace

void AddKeyLifecycleRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "GET", R"(/v1/keys/([^/]+))", "/v1/keys/{name}", HandleGetKey);
  AddRoute(server, service, "POST", R"(/v1/keys/([^/]+)/retire)", "/v1/keys/{name}/retire", HandleRetire);
  AddRoute(server, service, "POST", R"(/v1/keys/([^/]+)/versions/([^/]+)/(enable|disable|destroy))",
           "/v1/keys/{name}/versions/{version}/{action}", HandleVersionChange);
  AddRoute(server, service, "POST", R"(/v1/keys/([^/]+)/subjects/shred)", "/v1/keys/{name}/subjects/shred",
           HandleShred);
}

}  // namespace sovereign::service
