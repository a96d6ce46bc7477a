// AccessPolicy: which principal may do what with which keys and labels, in a
// region keystore service (the `access` member of keystore.json, documented
// in docs/operations.md).
//
// A policy is a list of rules; a request is allowed when at least one rule
// allows it and denied otherwise — there are no deny rules and nothing is
// allowed by default. A rule's `principal` is a glob (fnmatch(3) without
// FNM_PATHNAME: `*` also matches '/', so `spiffe://corp/region/us/*` covers
// every path below it). `keys` and `labels` list exact names, or "*" for all;
// an absent list grants none. `admin` and `audit` do not depend on keys or
// labels.
//
// Thread safety: immutable after construction; share it by shared_ptr<const>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

enum class Permission : std::uint8_t {
  kLease = 0,          // receive field keys for local crypto
  kEncrypt = 1,        // remote batch encryption, random mode only
  kDecrypt = 2,        // remote batch decryption
  kAdmin = 3,          // create, rotate, retire keys
  kAudit = 4,          // read the audit log
  kDeterministic = 5,  // remote deterministic encryption: an equality oracle
  kIndex = 6,          // remote blind indexes: an equality oracle
  kMetrics = 7,        // read GET /metrics (usage of every key and principal)
};

// PermissionName returns "lease", "encrypt", "decrypt", "admin", "audit",
// "deterministic", "index" or "metrics".
std::string_view PermissionName(Permission permission) noexcept;
// ParsePermission accepts exactly the names PermissionName returns.
std::optional<Permission> ParsePermission(std::string_view name) noexcept;

// IsEqualityOracle reports whether `permission` returns values comparable
// with stored data (deterministic ciphertexts, blind indexes).
bool IsEqualityOracle(Permission permission) noexcept;

// RuleQuota bounds the values (batch items) one principal may have processed
// under one rule, per fixed minute and per fixed UTC day. Zero is unlimited.
struct RuleQuota {
  // Which of the rule's values count.
  enum class Counts : std::uint8_t {
    kAll,       // every value (a quota the rule gives)
    kEquality,  // deterministic ciphertexts and blind indexes
    kSubject,   // values encrypted for a subject (each may create a subject key)
  };
  std::uint64_t per_minute = 0;
  std::uint64_t per_day = 0;
  Counts counts = Counts::kAll;
};

// The quotas of a rule that gives none: on equality-revealing values when it
// grants `deterministic` or `index` (enough for lookups by hand or a support
// tool, far too few for guessing); on values for a subject when it grants
// remote encryption but not `lease` (each new subject adds a key to the
// catalog and an entry to the audit log, so a remote writer must not add
// them without bound).
inline constexpr RuleQuota kDefaultEqualityQuota{600, 20000, RuleQuota::Counts::kEquality};
inline constexpr RuleQuota kDefaultSubjectQuota{60000, 2000000, RuleQuota::Counts::kSubject};

struct AccessRule {
  std::string principal;               // glob
  std::vector<Permission> allow;
  std::vector<std::string> keys;       // exact names or "*"
  std::vector<std::string> labels;     // exact names or "*"
  // `quota`: {"values_per_minute", "values_per_day"}, counting every value;
  // a rule that gives none gets the defaults above that apply to it.
  std::vector<RuleQuota> quotas;
};

class AccessPolicy {
 public:
  // AccessPolicy() denies everything.
  AccessPolicy() = default;
  explicit AccessPolicy(std::vector<AccessRule> rules) : rules_(std::move(rules)) {}

  // FromJson parses the `access` array. `where` is the JSON Pointer of the
  // array, used in messages. Unknown members, wrong types, unknown
  // permissions, empty principals and invalid key or label names are
  // kInvalidArgument naming the member's JSON path.
  static Result<AccessPolicy> FromJson(const nlohmann::json& access, std::string_view where = "/access");

  // Allows reports whether `principal` may use `permission` on (`key`,
  // `label`). For kAdmin and kAudit, `key` and `label` are ignored.
  bool Allows(std::string_view principal, Permission permission, std::string_view key = {},
              std::string_view label = {}) const;

  // AllowingRule is the index of the first rule that allows what Allows
  // asks about, or nullopt: the rule whose quota a use is charged to.
  std::optional<std::size_t> AllowingRule(std::string_view principal, Permission permission,
                                          std::string_view key = {}, std::string_view label = {}) const;

  // AllowsSome reports whether any rule gives `principal` `permission` at all
  // (for some key and label): used to answer 403 before parsing a request.
  bool AllowsSome(std::string_view principal, Permission permission) const;

  // NamesPrincipal reports whether any rule's pattern matches `principal`
  // (whatever it grants).
  bool NamesPrincipal(std::string_view principal) const;

  const std::vector<AccessRule>& rules() const noexcept { return rules_; }

 private:
  std::vector<AccessRule> rules_;
};

// PrincipalMatches reports whether `principal` matches the glob `pattern`
// (fnmatch without FNM_PATHNAME or FNM_PERIOD: '*' and '?' match '/'). A
// pattern starting with "spiffe:" (any case) matches only principals that are
// valid SPIFFE IDs (IsSpiffeId), so no CN or unnormalised ID can match one.
bool PrincipalMatches(std::string_view pattern, std::string_view principal);

}  // namespace sovereign::keystore_internal
