#include "keystore/service/service.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <ctime>
#include <exception>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/internal/principal.hpp"
#include "keystore/service/request_parse.hpp"
#include "sovereign/key_admin.hpp"

namespace sovereign::service {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace); }

}  // namespace

Service::Service(std::filesystem::path config_path, ki::ServerConfig config, ki::OpenedKeystore keystore,
                 std::unique_ptr<Client> client)
    : config_path_(std::move(config_path)),
      config_(std::move(config)),
      keystore_(std::move(keystore)),
      client_(std::move(client)),
      policy_(std::make_shared<const ki::AccessPolicy>(config_.access)) {}

std::shared_ptr<const ki::AccessPolicy> Service::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

void Service::set_policy(ki::AccessPolicy policy) {
  auto next = std::make_shared<const ki::AccessPolicy>(std::move(policy));
  std::lock_guard lock(policy_mu_);
  policy_ = std::move(next);
  quotas_.Reset();
}

Status Service::Audit(std::string_view principal, const ki::AuditEvent& event) {
  Status status = keystore_.service->Record(principal, event);
  metrics_.CountAuditWrite(status.ok());
  if (!status.ok()) {
    fmt::print(stderr, "sovereign serve: audit write failed, request refused (fail closed): {}\n", status.message());
    return Status(ErrorCode::kKeystoreUnavailable, "the audit record cannot be written; nothing is served");
  }
  return status;
}

int HttpStatusFor(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kInvalidCiphertext: return 400;
    case ErrorCode::kWrongRegion: return 400;
    case ErrorCode::kDenied: return 403;
    case ErrorCode::kKeyNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kKeyVersionUnusable: return 409;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kKeystoreUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kShredded: return 410;
    case ErrorCode::kResourceExhausted: return 429;
  }
  return 500;
}

Json ErrorJson(std::string_view code, std::string_view message) {
  return Json{{"code", std::string(code)}, {"message", std::string(message)}};
}

Json ErrorJson(const Status& status) {
  // The store's failures name server files and system errors: they go to the
  // operator's log, and the client learns only that the keystore is down.
  if (status.code() == ErrorCode::kKeystoreUnavailable || status.code() == ErrorCode::kInternal) {
    fmt::print(stderr, "sovereign serve: request refused: {}: {}\n", ErrorCodeName(status.code()), status.message());
    return ErrorJson(ErrorCodeName(status.code()),
                     status.code() == ErrorCode::kInternal
                         ? "internal error; details are in the service log"
                         : "the keystore is unavailable, nothing is served; details are in the service log");
  }
  return ErrorJson(ErrorCodeName(status.code()), status.message());
}

void ReplyJson(httplib::Response& res, int http, const Json& body) {
  res.status = http;
  res.set_content(Dump(body), "application/json");
}

void ReplyError(httplib::Response& res, int http, std::string_view code, std::string_view message) {
  ReplyJson(res, http, Json{{"error", ErrorJson(code, message)}});
}

void ReplyError(httplib::Response& res, const Status& status) {
  ReplyJson(res, HttpStatusFor(status.code()), Json{{"error", ErrorJson(status)}});
}

void ReplySensitive(httplib::Response& res, std::string body) {
  auto buffer = std::make_shared<std::string>(std::move(body));
  res.status = 200;
  res.set_content_provider(
      buffer->size(), "application/json",
      [buffer](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        if (offset > buffer->size()) return false;
        return sink.write(buffer->data() + offset, std::min(length, buffer->size() - offset));
      },
      [buffer](bool) { WipeString(*buffer); });
}

void WipeString(std::string& s) noexcept {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// The parsing itself lives in request_parse.cpp, where the fuzzer reaches it.
Result<Json> ParseBody(const httplib::Request& req, std::initializer_list<std::string_view> allowed) {
  return ParseBodyText(req.body, kMaxJsonDepth, allowed);
}

bool ReadBatch(Call& call, Json& body, const Json*& items) {
  Status parsed = ParseBatchText(call.req.body, kMaxJsonDepth, kMaxBatchItems, body, items);
  if (!parsed.ok()) {
    ReplyError(call.res, parsed);
    return false;
  }
  return true;
}

void Deny(Call& call, std::string_view op, ki::Permission permission, std::string_view message) {
  call.service.metrics().CountDenial(ki::PermissionName(permission));
  ki::AuditEvent event;
  event.op = std::string(op);
  event.outcome = "denied";
  event.reason = fmt::format("no '{}' permission", ki::PermissionName(permission));
  Status audited = call.service.Audit(call.principal, event);
  if (!audited.ok()) return ReplyError(call.res, audited);
  ReplyError(call.res, 403, "denied", message);
}

void AddRuleUse(RuleUses& uses, std::size_t rule, bool equality, bool subject) {
  for (auto& use : uses) {
    if (use.rule == rule && use.equality == equality && use.subject == subject) {
      ++use.values;
      return;
    }
  }
  uses.push_back({rule, equality, subject, 1});
}

bool ChargeQuota(Call& call, std::string_view op, const RuleUses& uses, const Json& counts) {
  auto refused = call.service.quotas().Charge(*call.policy, call.principal, uses, std::chrono::system_clock::now());
  if (!refused) return true;
  call.service.metrics().CountDenial("quota");
  ki::AuditEvent event;
  event.op = std::string(op);
  event.outcome = "denied";
  const std::string what = refused->limit == 0
                               ? std::string("the service tracks as many quota windows as it may")
                               : fmt::format("the access rule allows {} values per {}", refused->limit, refused->window);
  event.reason = fmt::format("quota: {} (rule /access/{})", what, refused->rule);
  event.counts = counts;
  Status audited = call.service.Audit(call.principal, event);
  if (!audited.ok()) {
    ReplyError(call.res, audited);
    return false;
  }
  call.res.set_header("Retry-After", std::to_string(refused->retry_after.count()));
  ReplyError(call.res, 429, ErrorCodeName(ErrorCode::kResourceExhausted),
             fmt::format("quota exceeded: {}; retry in {} s", what, refused->retry_after.count()));
  return false;
}

Status ValidateItemNames(std::string_view where, std::string_view key, std::string_view label) {
  if (!ValidateKeyName(key).ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} is not a valid key name (1 to 64 of a-z 0-9 _ -, starting with a letter)",
                              ki::MemberPath(where, "key")));
  }
  if (!ValidateLabel(label).ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} is not a valid label (1 to 64 of A-Z a-z 0-9 _ . -)",
                              ki::MemberPath(where, "label")));
  }
  return OkStatus();
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

void AddRoute(httplib::Server& server, Service& service, std::string_view method, const std::string& pattern,
              std::string endpoint, RouteHandler handler) {
  httplib::Server::Handler wrapped = [&service, endpoint = std::move(endpoint), handler = std::move(handler)](
                                         const httplib::Request& req, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    try {
      // Identity comes only from the verified client certificate.
      auto principal = ki::PrincipalFromCertificate(req.ssl == nullptr ? nullptr : SSL_get0_peer_certificate(req.ssl),
                                                    service.config().identity);
      if (!principal.ok()) {
        ReplyError(res, 403, "denied", principal.status().message());
      } else {
        Call call{service, req, res, std::move(principal).value(), service.policy()};
        handler(call);
      }
    } catch (const std::exception&) {
      // Exception texts may quote request data; say nothing specific.
      ReplyError(res, 500, "internal", "internal error");
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    service.metrics().CountRequest(endpoint, res.status, elapsed.count());
  };
  if (method == "GET") {
    server.Get(pattern, std::move(wrapped));
  } else {
    server.Post(pattern, std::move(wrapped));
  }
}

}  // namespace sovereign::service
