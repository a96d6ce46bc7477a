// Service: the state one `sovereign serve` process shares between request
// threads, and the plumbing every route uses (principal, JSON in and out,
// errors, fail-closed audit).
//
// Thread safety: everything here is safe to use from httplib's worker
// threads; the access policy is swapped atomically on SIGHUP and each request
// uses the one it started with.
#pragma once

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "keystore/internal/access_policy.hpp"
#include "keystore/internal/metrics.hpp"
#include "keystore/internal/server_config.hpp"
#include "keystore/internal/service_keystore.hpp"
#include "keystore/service/quotas.hpp"
#include "sovereign/client.hpp"

namespace sovereign::service {

namespace ki = keystore_internal;

inline constexpr std::size_t kMaxBodySize = std::size_t{4} << 20;
inline constexpr std::size_t kMaxBatchItems = 1000;
// kMaxJsonDepth bounds the nesting of a request body.
inline constexpr int kMaxJsonDepth = 32;
// kMaxAuditGroups bounds the (key, label, mode) groups one audit entry of a
// batch names; the rest are summed under key and label "*" (a name no key or
// label can have), so no request can make an entry longer than this.
inline constexpr std::size_t kMaxAuditGroups = 64;
// The principal the service itself is audited as (its Client's key fetches,
// policy reloads).
inline constexpr std::string_view kServicePrincipal = "sovereign:serve";

class Service {
 public:
  Service(std::filesystem::path config_path, ki::ServerConfig config, ki::OpenedKeystore keystore,
          std::unique_ptr<Client> client);

  const ki::ServerConfig& config() const noexcept { return config_; }
  const std::filesystem::path& config_path() const noexcept { return config_path_; }
  const std::string& region() const noexcept { return config_.region; }
  ki::ServiceKeystore& keystore() noexcept { return *keystore_.service; }
  ki::OpenedKeystore& opened() noexcept { return keystore_; }
  const Client& client() const noexcept { return *client_; }
  ki::Metrics& metrics() noexcept { return metrics_; }
  Quotas& quotas() noexcept { return quotas_; }

  std::shared_ptr<const ki::AccessPolicy> policy() const;
  // set_policy swaps the policy and starts every quota window afresh (the
  // new policy numbers its rules anew).
  void set_policy(ki::AccessPolicy policy);

  // Audit appends `event` as `principal`, durably, and counts the write.
  // Not ok means the caller must answer 503 and serve nothing.
  Status Audit(std::string_view principal, const ki::AuditEvent& event);

 private:
  std::filesystem::path config_path_;
  ki::ServerConfig config_;
  ki::OpenedKeystore keystore_;
  std::unique_ptr<Client> client_;
  ki::Metrics metrics_;
  Quotas quotas_;
  mutable std::mutex policy_mu_;
  std::shared_ptr<const ki::AccessPolicy> policy_;
};

// Call is one request being answered: who asks, under which policy.
struct Call {
  Service& service;
  const httplib::Request& req;
  httplib::Response& res;
  std::string principal;
  std::shared_ptr<const ki::AccessPolicy> policy;
};

using RouteHandler = std::function<void(Call&)>;

// AddRoute registers `handler` for `method` ("GET"/"POST") and `pattern`.
// `endpoint` is the route template used in metrics. The wrapper derives the
// principal (403 without one), times the request, turns exceptions into 500
// and counts the answer.
void AddRoute(httplib::Server& server, Service& service, std::string_view method, const std::string& pattern,
              std::string endpoint, RouteHandler handler);

// HttpStatusFor maps an error code to the HTTP status of a whole-request error.
int HttpStatusFor(ErrorCode code) noexcept;

// ErrorJson is {"code": ..., "message": ...}.
nlohmann::json ErrorJson(std::string_view code, std::string_view message);
nlohmann::json ErrorJson(const Status& status);

// ReplyError answers `http` with {"error": {...}}.
void ReplyError(httplib::Response& res, int http, std::string_view code, std::string_view message);
void ReplyError(httplib::Response& res, const Status& status);

// ReplyJson answers `http` with `body`.
void ReplyJson(httplib::Response& res, int http, const nlohmann::json& body);

// ReplySensitive answers 200 with a body that holds key bytes or plaintext:
// the buffer is wiped once httplib has sent it.
void ReplySensitive(httplib::Response& res, std::string body);

// ParseBody parses the request body as a JSON object with only `allowed`
// members (nesting depth bounded). kInvalidArgument otherwise.
Result<nlohmann::json> ParseBody(const httplib::Request& req, std::initializer_list<std::string_view> allowed);

// ReadBatch parses a batch request body {"items": [...]} into `body` and
// points `items` at the array. On a malformed body (including more than
// kMaxBatchItems items) it answers 400 and returns false.
bool ReadBatch(Call& call, nlohmann::json& body, const nlohmann::json*& items);

// Deny records a refused whole request (403) as `op` and answers it; 503 if
// the refusal cannot be recorded.
void Deny(Call& call, std::string_view op, ki::Permission permission, std::string_view message);

// RuleUses counts a request's allowed values per access rule (the rule each
// was allowed by) and kind, for ChargeQuota.
using RuleUses = std::vector<Quotas::RuleUse>;

// AddRuleUse adds one value allowed by `rule` to `uses`; `equality` when it
// is a deterministic ciphertext or a blind index, `subject` when it is
// encrypted for a subject.
void AddRuleUse(RuleUses& uses, std::size_t rule, bool equality = false, bool subject = false);

// ChargeQuota charges `uses` to the caller's quotas. When a quota refuses, it
// records `op` as denied (reason "quota", with `counts`) and answers 429 with
// Retry-After (503 if the refusal cannot be recorded), and returns false:
// nothing of the request may then be done.
bool ChargeQuota(Call& call, std::string_view op, const RuleUses& uses, const nlohmann::json& counts);

// ValidateItemNames checks the `key` and `label` members of a request item
// (read from `where`) against the catalog's name rules, so that no name that
// could never exist reaches an audit entry or a log line. The message names
// the member, never its value.
Status ValidateItemNames(std::string_view where, std::string_view key, std::string_view label);

// KeyJson describes a key as `sovereign keys list --json` and `keys status --json` do.
nlohmann::json KeyJson(const KeyInfo& key, const std::string& region);

// Rfc3339 formats a time as "YYYY-MM-DDTHH:MM:SSZ".
std::string Rfc3339(std::chrono::system_clock::time_point t);

// WipeString overwrites `s` (plaintext, key bytes) before it is freed.
void WipeString(std::string& s) noexcept;

// Route registration, one file each.
void AddHealthAndMetricsRoutes(httplib::Server& server, Service& service);
void AddLeaseRoutes(httplib::Server& server, Service& service);
void AddRemoteCryptoRoutes(httplib::Server& server, Service& service);
void AddKeyRoutes(httplib::Server& server, Service& service);  // also adds the lifecycle routes
void AddKeyLifecycleRoutes(httplib::Server& server, Service& service);
void AddAuditRoutes(httplib::Server& server, Service& service);

}  // namespace sovereign::service
