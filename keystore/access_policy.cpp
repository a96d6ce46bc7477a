#include "keystore/internal/access_policy.hpp"

#include <fnmatch.h>
#include <strings.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/internal/principal.hpp"
#include "sovereign/keystore.hpp"

namespace sovereign::keystore_internal {
namespace {

using Json = nlohmann::json;

constexpr std::array<std::string_view, 8> kPermissionNames = {"lease", "encrypt",       "decrypt", "admin",
                                                               "audit", "deterministic", "index",   "metrics"};
constexpr std::string_view kAll = "*";
constexpr std::uint64_t kMaxQuota = std::uint64_t{1} << 40;

bool NameMatches(const std::vector<std::string>& granted, std::string_view name) {
  if (name.empty()) return false;
  return std::any_of(granted.begin(), granted.end(), [&](const std::string& g) { return g == kAll || g == name; });
}

bool NeedsKeyAndLabel(Permission permission) {
  return permission == Permission::kLease || permission == Permission::kEncrypt || permission == Permission::kDecrypt ||
         IsEqualityOracle(permission);
}

bool Grants(const AccessRule& rule, Permission permission) {
  return std::find(rule.allow.begin(), rule.allow.end(), permission) != rule.allow.end();
}

// ReadNames reads `keys` or `labels`: exact names checked with `validate`, or "*".
Status ReadNames(const Json& rule, std::string_view where, std::string_view member,
                 Status (*validate)(std::string_view), std::vector<std::string>& out) {
  SOVEREIGN_RETURN_IF_ERROR(ReadStringArray(rule, where, member, out));
  const std::string path = MemberPath(where, member);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == kAll) continue;
    Status valid = validate(out[i]);
    if (!valid.ok()) {
      return Status(ErrorCode::kInvalidArgument, fmt::format("{}: {}", ElementPath(path, i), valid.message()));
    }
  }
  return OkStatus();
}

// ReadQuota reads a rule's optional `quota` object.
Status ReadQuota(const Json& rule, const std::string& where, std::vector<RuleQuota>& quotas) {
  const Json* q = Member(rule, "quota");
  if (q == nullptr) return OkStatus();
  const std::string path = MemberPath(where, "quota");
  SOVEREIGN_RETURN_IF_ERROR(ExpectObject(*q, path, {"values_per_minute", "values_per_day"}));
  std::optional<std::uint64_t> per_minute;
  std::optional<std::uint64_t> per_day;
  SOVEREIGN_RETURN_IF_ERROR(ReadUnsigned(*q, path, "values_per_minute", 1, kMaxQuota, per_minute));
  SOVEREIGN_RETURN_IF_ERROR(ReadUnsigned(*q, path, "values_per_day", 1, kMaxQuota, per_day));
  if (!per_minute && !per_day) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} must give values_per_minute, values_per_day or both", path));
  }
  quotas.push_back({per_minute.value_or(0), per_day.value_or(0), RuleQuota::Counts::kAll});
  return OkStatus();
}

Result<AccessRule> ParseRule(const Json& j, const std::string& where) {
  SOVEREIGN_RETURN_IF_ERROR(ExpectObject(j, where, {"principal", "allow", "keys", "labels", "quota"}));
  AccessRule rule;
  SOVEREIGN_RETURN_IF_ERROR(ReadString(j, where, "principal", rule.principal, /*required=*/true));
  if (rule.principal.empty()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("member {} must not be empty", MemberPath(where, "principal")));
  }
  if (Member(j, "allow") == nullptr) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("missing member {}", MemberPath(where, "allow")));
  }
  std::vector<std::string> allow;
  SOVEREIGN_RETURN_IF_ERROR(ReadStringArray(j, where, "allow", allow));
  const std::string allow_path = MemberPath(where, "allow");
  for (std::size_t i = 0; i < allow.size(); ++i) {
    auto permission = ParsePermission(allow[i]);
    if (!permission) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("unknown permission '{}' at {} (expected lease, encrypt, deterministic, index, "
                                "decrypt, admin, audit or metrics)",
                                allow[i], ElementPath(allow_path, i)));
    }
    rule.allow.push_back(*permission);
  }
  SOVEREIGN_RETURN_IF_ERROR(ReadNames(j, where, "keys", &ValidateKeyName, rule.keys));
  SOVEREIGN_RETURN_IF_ERROR(ReadNames(j, where, "labels", &ValidateLabel, rule.labels));
  SOVEREIGN_RETURN_IF_ERROR(ReadQuota(j, where, rule.quotas));
  if (rule.quotas.empty()) {
    const auto grants = [&](Permission p) { return Grants(rule, p); };
    if (grants(Permission::kDeterministic) || grants(Permission::kIndex)) rule.quotas.push_back(kDefaultEqualityQuota);
    if ((grants(Permission::kEncrypt) || grants(Permission::kDeterministic)) && !grants(Permission::kLease)) {
      rule.quotas.push_back(kDefaultSubjectQuota);
    }
  }
  return rule;
}

}  // namespace

std::string_view PermissionName(Permission permission) noexcept {
  const auto index = static_cast<std::size_t>(permission);
  return index < kPermissionNames.size() ? kPermissionNames[index] : std::string_view("unknown");
}

bool IsEqualityOracle(Permission permission) noexcept {
  return permission == Permission::kDeterministic || permission == Permission::kIndex;
}

std::optional<Permission> ParsePermission(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kPermissionNames.size(); ++i) {
    if (kPermissionNames[i] == name) return static_cast<Permission>(i);
  }
  return std::nullopt;
}

bool PrincipalMatches(std::string_view pattern, std::string_view principal) {
  // fnmatch needs NUL-terminated strings; an embedded NUL never matches.
  if (pattern.find('\0') != std::string_view::npos || principal.find('\0') != std::string_view::npos) return false;
  // A SPIFFE pattern matches only a valid SPIFFE ID in normal form: never a
  // CN principal, never "…/svc/../../cn/eng/alice", "…/svc//x" or "%2e".
  if (pattern.size() >= 7 && ::strncasecmp(pattern.data(), "spiffe:", 7) == 0 && !IsSpiffeId(principal)) return false;
  const std::string p(pattern);
  const std::string s(principal);
  return ::fnmatch(p.c_str(), s.c_str(), 0) == 0;
}

Result<AccessPolicy> AccessPolicy::FromJson(const Json& access, std::string_view where) {
  if (!access.is_array()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("member {} must be an array of rules", where));
  }
  std::vector<AccessRule> rules;
  for (std::size_t i = 0; i < access.size(); ++i) {
    auto rule = ParseRule(access[i], ElementPath(where, i));
    if (!rule.ok()) return rule.status();
    rules.push_back(std::move(rule).value());
  }
  return AccessPolicy(std::move(rules));
}

bool AccessPolicy::Allows(std::string_view principal, Permission permission, std::string_view key,
                          std::string_view label) const {
  return AllowingRule(principal, permission, key, label).has_value();
}

std::optional<std::size_t> AccessPolicy::AllowingRule(std::string_view principal, Permission permission,
                                                      std::string_view key, std::string_view label) const {
  if (principal.empty()) return std::nullopt;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const AccessRule& rule = rules_[i];
    if (!Grants(rule, permission) || !PrincipalMatches(rule.principal, principal)) continue;
    if (!NeedsKeyAndLabel(permission)) return i;
    if (NameMatches(rule.keys, key) && NameMatches(rule.labels, label)) return i;
  }
  return std::nullopt;
}

bool AccessPolicy::NamesPrincipal(std::string_view principal) const {
  if (principal.empty()) return false;
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const AccessRule& rule) { return PrincipalMatches(rule.principal, principal); });
}

bool AccessPolicy::AllowsSome(std::string_view principal, Permission permission) const {
  if (principal.empty()) return false;
  for (const AccessRule& rule : rules_) {
    if (!Grants(rule, permission) || !PrincipalMatches(rule.principal, principal)) continue;
    if (!NeedsKeyAndLabel(permission) || (!rule.keys.empty() && !rule.labels.empty())) return true;
  }
  return false;
}

}  // namespace sovereign::keystore_internal
