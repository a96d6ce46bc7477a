// AccessPolicy: deny by default, globs on principals, exact or "*" keys and labels.
#include <catch2/catch.hpp>

#include "keystore/internal/access_policy.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;
using ki::AccessPolicy;
using ki::Permission;
using Json = nlohmann::json;

AccessPolicy Parse(const char* text) {
  auto policy = AccessPolicy::FromJson(Json::parse(text));
  INFO(policy.status().ToString());
  REQUIRE(policy.ok());
  return *policy;
}

std::string ParseError(const char* text) {
  auto policy = AccessPolicy::FromJson(Json::parse(text));
  REQUIRE_FALSE(policy.ok());
  CHECK(policy.code() == ErrorCode::kInvalidArgument);
  return policy.status().message();
}

const char* kIssuePolicy = R"([
  {"principal": "spiffe://corp.example/region/us/svc/*", "allow": ["lease", "encrypt", "decrypt"], "keys": ["users"], "labels": ["*"]},
  {"principal": "spiffe://corp.example/region/us/security/*", "allow": ["admin", "audit"]},
  {"principal": "spiffe://corp.example/region/cn/*", "allow": ["encrypt"], "keys": ["users"], "labels": ["email"]}
])";

constexpr const char* kApp = "spiffe://corp.example/region/us/svc/app";
constexpr const char* kOfficer = "spiffe://corp.example/region/us/security/officer";
constexpr const char* kAlice = "spiffe://corp.example/region/cn/eng/alice";

TEST_CASE("an empty policy denies every principal every permission") {
  AccessPolicy policy;
  for (Permission p : {Permission::kLease, Permission::kEncrypt, Permission::kDecrypt, Permission::kAdmin,
                       Permission::kAudit}) {
    CHECK_FALSE(policy.Allows(kApp, p, "users", "email"));
    CHECK_FALSE(policy.AllowsSome(kApp, p));
  }
  CHECK(Parse("[]").rules().empty());
}

TEST_CASE("the issue's policy grants in-region services keys and labels of their rule only") {
  AccessPolicy policy = Parse(kIssuePolicy);
  CHECK(policy.Allows(kApp, Permission::kLease, "users", "email"));
  CHECK(policy.Allows(kApp, Permission::kDecrypt, "users", "ssn"));
  CHECK(policy.Allows(kApp, Permission::kEncrypt, "users", "anything.at-all_1"));
  CHECK_FALSE(policy.Allows(kApp, Permission::kLease, "payments", "email"));
  CHECK_FALSE(policy.Allows(kApp, Permission::kAdmin));
  CHECK_FALSE(policy.Allows(kApp, Permission::kAudit));
}

TEST_CASE("the offshore engineer may encrypt but never decrypt or lease") {
  AccessPolicy policy = Parse(kIssuePolicy);
  CHECK(policy.Allows(kAlice, Permission::kEncrypt, "users", "email"));
  CHECK_FALSE(policy.Allows(kAlice, Permission::kEncrypt, "users", "ssn"));
  CHECK_FALSE(policy.Allows(kAlice, Permission::kDecrypt, "users", "email"));
  CHECK_FALSE(policy.Allows(kAlice, Permission::kLease, "users", "email"));
  CHECK_FALSE(policy.AllowsSome(kAlice, Permission::kDecrypt));
  CHECK(policy.AllowsSome(kAlice, Permission::kEncrypt));
}

TEST_CASE("admin and audit do not depend on keys or labels") {
  AccessPolicy policy = Parse(kIssuePolicy);
  CHECK(policy.Allows(kOfficer, Permission::kAdmin));
  CHECK(policy.Allows(kOfficer, Permission::kAudit, "whatever", "whatever"));
  CHECK(policy.AllowsSome(kOfficer, Permission::kAdmin));
  CHECK_FALSE(policy.Allows(kOfficer, Permission::kDecrypt, "users", "email"));
}

TEST_CASE("keys and labels default to none") {
  AccessPolicy policy = Parse(R"([{"principal": "*", "allow": ["decrypt"], "keys": ["users"]},
                                  {"principal": "*", "allow": ["lease"], "labels": ["*"]}])");
  CHECK_FALSE(policy.Allows(kApp, Permission::kDecrypt, "users", "email"));
  CHECK_FALSE(policy.Allows(kApp, Permission::kLease, "users", "email"));
  CHECK_FALSE(policy.AllowsSome(kApp, Permission::kDecrypt));
  CHECK_FALSE(policy.AllowsSome(kApp, Permission::kLease));
}

TEST_CASE("an empty key or label name never matches, not even *") {
  AccessPolicy policy = Parse(R"([{"principal": "*", "allow": ["decrypt"], "keys": ["*"], "labels": ["*"]}])");
  CHECK(policy.Allows(kApp, Permission::kDecrypt, "users", "email"));
  CHECK_FALSE(policy.Allows(kApp, Permission::kDecrypt, "", "email"));
  CHECK_FALSE(policy.Allows(kApp, Permission::kDecrypt, "users", ""));
  CHECK_FALSE(policy.Allows("", Permission::kDecrypt, "users", "email"));
}

TEST_CASE("rules add up: a permission from one rule and keys from another do not combine") {
  AccessPolicy policy = Parse(R"([{"principal": "p", "allow": ["lease"], "keys": ["a"], "labels": ["x"]},
                                  {"principal": "p", "allow": ["decrypt"], "keys": ["b"], "labels": ["y"]}])");
  CHECK(policy.Allows("p", Permission::kLease, "a", "x"));
  CHECK(policy.Allows("p", Permission::kDecrypt, "b", "y"));
  CHECK_FALSE(policy.Allows("p", Permission::kLease, "b", "y"));
  CHECK_FALSE(policy.Allows("p", Permission::kDecrypt, "a", "x"));
  CHECK_FALSE(policy.Allows("p", Permission::kDecrypt, "b", "x"));
}

TEST_CASE("principal globs: * matches across '/', ? one character, classes work, the rest is literal") {
  using ki::PrincipalMatches;
  CHECK(PrincipalMatches("spiffe://corp/region/us/*", "spiffe://corp/region/us/svc/app"));
  // A trailing '/' is not a SPIFFE ID, so no spiffe:// pattern matches it (principal_test has the rest).
  CHECK_FALSE(PrincipalMatches("spiffe://corp/region/us/*", "spiffe://corp/region/us/"));
  CHECK_FALSE(PrincipalMatches("spiffe://corp/region/us/*", "spiffe://corp/region/usa/svc"));
  CHECK_FALSE(PrincipalMatches("spiffe://corp/region/us/*", "spiffe://corp/region/cn/us/x"));
  CHECK(PrincipalMatches("*", "anything/at/all"));
  CHECK(PrincipalMatches("svc-?", "svc-1"));
  CHECK_FALSE(PrincipalMatches("svc-?", "svc-12"));
  CHECK(PrincipalMatches("svc-[ab]", "svc-b"));
  CHECK_FALSE(PrincipalMatches("svc-[ab]", "svc-c"));
  CHECK(PrincipalMatches("exact", "exact"));
  CHECK_FALSE(PrincipalMatches("exact", "exact2"));
  CHECK_FALSE(PrincipalMatches("exact", "Exact"));
  CHECK(PrincipalMatches("*/.hidden", "a/.hidden"));  // no FNM_PERIOD
  CHECK_FALSE(PrincipalMatches(std::string_view("a\0b", 3), "a"));
  CHECK_FALSE(PrincipalMatches("*", std::string_view("a\0b", 3)));
}

TEST_CASE("an unknown permission is an error naming it and its path") {
  std::string message = ParseError(R"([{"principal": "p", "allow": ["lease"]},
                                       {"principal": "q", "allow": ["encrypt", "read"]}])");
  CHECK_THAT(message, Catch::Contains("'read'") && Catch::Contains("/access/1/allow/1"));
}

TEST_CASE("unknown members, wrong types and missing members are errors naming the member") {
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": [], "deny": ["lease"]}])"),
             Catch::Contains("deny") && Catch::Contains("/access/0/deny"));
  CHECK_THAT(ParseError(R"([{"principal": 7, "allow": []}])"), Catch::Contains("/access/0/principal"));
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": "lease"}])"), Catch::Contains("/access/0/allow"));
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": [1]}])"), Catch::Contains("/access/0/allow/0"));
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": ["lease"], "keys": "users"}])"),
             Catch::Contains("/access/0/keys"));
  CHECK_THAT(ParseError(R"([{"allow": ["lease"]}])"), Catch::Contains("/access/0/principal"));
  CHECK_THAT(ParseError(R"([{"principal": "p"}])"), Catch::Contains("/access/0/allow"));
  CHECK_THAT(ParseError(R"([{"principal": "", "allow": []}])"), Catch::Contains("/access/0/principal"));
  CHECK_THAT(ParseError(R"(["p"])"), Catch::Contains("/access/0"));
  CHECK_THAT(ParseError(R"({"principal": "p"})"), Catch::Contains("/access"));
}

TEST_CASE("key and label names in rules are validated") {
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": ["lease"], "keys": ["Users"], "labels": ["*"]}])"),
             Catch::Contains("/access/0/keys/0"));
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": ["lease"], "keys": ["*"], "labels": ["a b"]}])"),
             Catch::Contains("/access/0/labels/0"));
  CHECK_THAT(ParseError(R"([{"principal": "p", "allow": ["lease"], "keys": ["us*"], "labels": ["*"]}])"),
             Catch::Contains("/access/0/keys/0"));
}

TEST_CASE("permission names round-trip and nothing else parses") {
  for (Permission p : {Permission::kLease, Permission::kEncrypt, Permission::kDecrypt, Permission::kAdmin,
                       Permission::kAudit}) {
    auto parsed = ki::ParsePermission(ki::PermissionName(p));
    REQUIRE(parsed);
    CHECK(*parsed == p);
  }
  CHECK_FALSE(ki::ParsePermission("Lease"));
  CHECK_FALSE(ki::ParsePermission(""));
  CHECK_FALSE(ki::ParsePermission("*"));
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

using keystore_internal::RuleQuota;

TEST_CASE("encrypt never implies deterministic, index or metrics") {
  const AccessPolicy policy = Parse(kIssuePolicy);
  CHECK(policy.Allows(kAlice, Permission::kEncrypt, "users", "email"));
  for (Permission p : {Permission::kDeterministic, Permission::kIndex, Permission::kDecrypt, Permission::kLease}) {
    CHECK_FALSE(policy.Allows(kAlice, p, "users", "email"));
  }
  CHECK_FALSE(policy.Allows(kOfficer, Permission::kMetrics));
  const AccessPolicy granted = Parse(R"([
    {"principal": "spiffe://corp.example/region/us/ops/*", "allow": ["metrics"]},
    {"principal": "spiffe://corp.example/region/us/svc/*", "allow": ["deterministic", "index"], "keys": ["users"], "labels": ["email"]}
  ])");
  CHECK(granted.Allows("spiffe://corp.example/region/us/ops/prom", Permission::kMetrics));
  CHECK(granted.Allows(kApp, Permission::kDeterministic, "users", "email"));
  CHECK(granted.Allows(kApp, Permission::kIndex, "users", "email"));
  CHECK_FALSE(granted.Allows(kApp, Permission::kIndex, "users", "ssn"));
  CHECK_FALSE(granted.Allows(kApp, Permission::kEncrypt, "users", "email"));
  CHECK(granted.AllowingRule(kApp, Permission::kIndex, "users", "email") == std::optional<std::size_t>(1));
}

TEST_CASE("rules get the default quotas that apply to them unless they give their own") {
  const AccessPolicy policy = Parse(R"([
    {"principal": "a", "allow": ["lease", "encrypt", "decrypt"], "keys": ["*"], "labels": ["*"]},
    {"principal": "b", "allow": ["deterministic", "index"], "keys": ["*"], "labels": ["*"]},
    {"principal": "c", "allow": ["encrypt"], "keys": ["*"], "labels": ["*"]},
    {"principal": "d", "allow": ["deterministic"], "keys": ["*"], "labels": ["*"], "quota": {"values_per_day": 7}}
  ])");
  const auto& rules = policy.rules();
  CHECK(rules[0].quotas.empty());  // may hold keys anyway: nothing to bound here
  // Deterministic encryption may be for a subject too, and b cannot lease.
  REQUIRE(rules[1].quotas.size() == 2);
  CHECK(rules[1].quotas[0].counts == RuleQuota::Counts::kEquality);
  CHECK(rules[1].quotas[0].per_minute == ki::kDefaultEqualityQuota.per_minute);
  CHECK(rules[1].quotas[1].counts == RuleQuota::Counts::kSubject);
  REQUIRE(rules[2].quotas.size() == 1);
  CHECK(rules[2].quotas[0].counts == RuleQuota::Counts::kSubject);
  REQUIRE(rules[3].quotas.size() == 1);
  CHECK(rules[3].quotas[0].counts == RuleQuota::Counts::kAll);
  CHECK(rules[3].quotas[0].per_day == 7);
  CHECK(rules[3].quotas[0].per_minute == 0);
}

TEST_CASE("a malformed quota names the member") {
  CHECK_THAT(ParseError(R"([{"principal": "a", "allow": ["index"], "keys": ["*"], "labels": ["*"], "quota": {}}])"),
             Catch::Contains("/0/quota"));
  CHECK_THAT(ParseError(R"([{"principal": "a", "allow": ["index"], "keys": ["*"], "labels": ["*"],
                            "quota": {"values_per_minute": 0}}])"),
             Catch::Contains("values_per_minute"));
  CHECK_THAT(ParseError(R"([{"principal": "a", "allow": ["index"], "keys": ["*"], "labels": ["*"],
                            "quota": {"per_hour": 5}}])"),
             Catch::Contains("per_hour"));
}

}  // namespace
}  // namespace sovereign
