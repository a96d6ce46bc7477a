#include "keystore/service/limits.hpp"

#include <malloc.h>
#include <poll.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "keystore/internal/principal.hpp"
#include "keystore/service/service.hpp"

namespace sovereign::service {
namespace {

// Certificates that name no valid principal are all counted under this key
// (no principal is empty).
const std::string kUnidentified;

// A body over kMaxBodySize up to this size is read and dropped so that the
// client can read its 413; a larger one ends the connection at once.
constexpr std::uint64_t kMaxDiscardBytes = std::uint64_t{2} * kMaxBodySize;

// How long a request waits for the body budget before it is refused.
constexpr std::chrono::seconds kBodyBudgetWait{2};

// Bodies at least this large hand memory back to the system when done.
constexpr std::size_t kTrimAfterBodyBytes = std::size_t{256} << 10;

// OpOfPath is the audit operation of a request refused before its route ran.
std::string OpOfPath(const std::string& path) {
  if (path == "/v1/leases") return "lease";
  if (path == "/v1/encrypt") return "encrypt";
  if (path == "/v1/decrypt") return "decrypt";
  if (path == "/v1/index") return "index";
  return "request";
}

// ConnectionHold is what a verified connection's SSL carries: whose
// allowance to give back when the connection is freed.
struct ConnectionHold {
  Limits* owner;
  std::string principal;
  ~ConnectionHold() { owner->Release(principal); }
};

// FreeHold is called once per SSL when it is freed: the connection is gone.
void FreeHold(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/, void* /*argp*/) {
  delete static_cast<ConnectionHold*>(ptr);
}

int ConnectionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeHold);
  return index;
}

// HoldOf is the connection's hold, or null (no verified certificate).
const ConnectionHold* HoldOf(const httplib::Request& req) {
  if (req.ssl == nullptr) return nullptr;
  return static_cast<const ConnectionHold*>(SSL_get_ex_data(req.ssl, ConnectionIndex()));
}

int LimitsIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// The body bytes this worker thread holds for the request it is serving, and whose.
thread_local std::size_t t_body_bytes = 0;
thread_local Limits* t_body_owner = nullptr;
thread_local std::string t_body_principal;

// Whether this worker's current answer refused a body it did not read.
thread_local bool t_refused_unread = false;

// How long, and how much, a refused connection's unread bytes are drained
// after the answer, so the client reads the answer instead of a reset.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = std::size_t{8} << 20;

// Refuse answers `status` without reading the body; once the answer is sent
// the connection is ended (Linger): its unread body must never be taken for
// the next request.
httplib::Server::HandlerResponse Refuse(httplib::Response& res, int status, std::string_view code,
                                        std::string_view message) {
  ReplyError(res, status, code, message);
  res.set_header("Connection", "close");
  t_refused_unread = true;
  return httplib::Server::HandlerResponse::Handled;
}

// Linger ends a connection whose request body was refused unread: no more
// writes (the answer is out), then the bytes still coming are read and
// dropped for a bounded time — closing with unread bytes would reset the
// connection and could destroy the answer before the client reads it — and
// the read side is shut, so httplib sees the end and closes.
void Linger(const httplib::Request& req) {
  if (req.ssl == nullptr) return;
  const int fd = SSL_get_fd(req.ssl);
  ::shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + kLingerTime;
  std::size_t drained = 0;
  char buf[16384];
  while (drained < kLingerBytes) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_RD);
}

}  // namespace

Limits::Limits(const keystore_internal::ServerLimits& config, const keystore_internal::IdentityOptions& identity)
    : config_(config), identity_(identity) {}
Limits::~Limits() = default;

bool Limits::InstallTls(SSL_CTX& ctx) {
  if (SSL_CTX_set_ex_data(&ctx, LimitsIndex(), this) != 1) return false;
  SSL_CTX_set_verify(&ctx, SSL_CTX_get_verify_mode(&ctx), &Limits::Verify);
  // A renegotiation would verify (and count) the peer again.
  SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION);
  return ConnectionIndex() >= 0;
}

int Limits::Verify(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1 || X509_STORE_CTX_get_error_depth(store) != 0) return preverify_ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  auto* self = static_cast<Limits*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), LimitsIndex()));
  if (self == nullptr) return 0;
  if (SSL_get_ex_data(ssl, ConnectionIndex()) != nullptr) return 1;  // counted already
  auto principal = keystore_internal::PrincipalFromCertificate(X509_STORE_CTX_get_current_cert(store), self->identity_);
  std::string who = principal.ok() ? std::move(principal).value() : kUnidentified;
  const Service* service = self->service_.load();
  const bool named = service != nullptr && !who.empty() && service->policy()->NamesPrincipal(who);
  if (!self->Admit(who, named)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  auto* connection = new ConnectionHold{self, std::move(who)};
  if (SSL_set_ex_data(ssl, ConnectionIndex(), connection) != 1) {
    delete connection;
    return 0;
  }
  return 1;
}

bool Limits::Admit(const std::string& principal, bool named) {
  const std::size_t limit = named ? config_.connections_per_principal : config_.connections_unprivileged;
  std::lock_guard lock(mu_);
  std::size_t& held = connections_[principal];
  if (held >= limit) {
    if (held == 0) connections_.erase(principal);
    return false;
  }
  ++held;
  return true;
}

void Limits::Release(const std::string& principal) {
  std::lock_guard lock(mu_);
  auto it = connections_.find(principal);
  if (it == connections_.end()) return;
  if (--it->second == 0) connections_.erase(it);
}

std::size_t Limits::Connections(const std::string& principal) const {
  std::lock_guard lock(mu_);
  auto it = connections_.find(principal);
  return it == connections_.end() ? 0 : it->second;
}

bool Limits::ReserveBody(const std::string& principal, std::size_t bytes) {
  // No principal may hold more than half the budget, so one slow or greedy
  // sender cannot take it all; a short wait absorbs bursts, and a budget
  // that stays spent is load to shed.
  const std::size_t share = std::max(config_.body_bytes_in_flight / 2, kMaxBodySize);
  std::unique_lock lock(mu_);
  return body_freed_.wait_for(lock, kBodyBudgetWait, [&] {
    std::size_t& mine = body_bytes_by_principal_[principal];
    if (body_bytes_ + bytes > config_.body_bytes_in_flight || mine + bytes > share) {
      if (mine == 0) body_bytes_by_principal_.erase(principal);
      return false;
    }
    body_bytes_ += bytes;
    mine += bytes;
    return true;
  });
}

void Limits::ReleaseBody(const std::string& principal, std::size_t bytes) {
  {
    std::lock_guard lock(mu_);
    body_bytes_ -= std::min(bytes, body_bytes_);
    auto it = body_bytes_by_principal_.find(principal);
    if (it != body_bytes_by_principal_.end()) {
      it->second -= std::min(bytes, it->second);
      if (it->second == 0) body_bytes_by_principal_.erase(it);
    }
  }
  body_freed_.notify_all();
}

httplib::Server::HandlerResponse Limits::RefuseUnnamed(const httplib::Request& req, httplib::Response& res,
                                                       Service& service) const {
  // The same answers the routes give, before the body is read: why the
  // certificate names no principal (not audited, as there is no one to
  // name), or a denial audited under the principal no rule names.
  auto principal = keystore_internal::PrincipalFromCertificate(
      req.ssl == nullptr ? nullptr : SSL_get0_peer_certificate(req.ssl), identity_);
  if (!principal.ok()) return Refuse(res, 403, "denied", principal.status().message());
  service.metrics().CountDenial("unnamed");
  keystore_internal::AuditEvent event;
  event.op = OpOfPath(req.path);
  event.outcome = "denied";
  event.reason = "no access rule names the principal";
  Status audited = service.Audit(*principal, event);
  if (!audited.ok()) return Refuse(res, 503, ErrorCodeName(audited.code()), audited.message());
  return Refuse(res, 403, "denied", "no access rule names this principal");
}

void Limits::InstallHttp(httplib::Server& server, Service& service) {
  service_.store(&service);
  const auto release_held = [this] {
    if (t_body_owner == this && t_body_bytes != 0) ReleaseBody(t_body_principal, t_body_bytes);
    t_body_bytes = 0;
    t_body_owner = nullptr;
  };
  server.set_pre_routing_handler([this, &service, release_held](const httplib::Request& req,
                                                                httplib::Response& res) {
    release_held();  // a request of this worker that ended without reaching the logger
    t_refused_unread = false;
    if (req.has_header("Transfer-Encoding")) {
      service.metrics().CountDenial("limits");
      return Refuse(res, 411, "invalid_argument",
                    "request bodies must carry Content-Length; Transfer-Encoding is not accepted");
    }
    const bool has_length = req.has_header("Content-Length");
    if (!has_length) {
      if (req.method == "GET") return httplib::Server::HandlerResponse::Unhandled;
      service.metrics().CountDenial("limits");
      return Refuse(res, 411, "invalid_argument", "request bodies must carry Content-Length");
    }
    const std::string text = req.get_header_value("Content-Length");
    std::uint64_t length = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        req.get_header_value_count("Content-Length") != 1) {
      service.metrics().CountDenial("limits");
      return Refuse(res, 400, "invalid_argument", "malformed Content-Length");
    }
    if (length > kMaxBodySize) {
      service.metrics().CountDenial("limits");
      // httplib reads and drops a body it will not keep, so the client gets
      // its 413 instead of a reset; past kMaxDiscardBytes that is not worth
      // the bandwidth, and the connection is ended instead.
      if (length <= kMaxDiscardBytes) return httplib::Server::HandlerResponse::Unhandled;
      return Refuse(res, 413, "invalid_argument",
                    fmt::format("request body exceeds {} MiB", kMaxBodySize >> 20));
    }
    // A principal no rule names can do nothing with a body: refusing it
    // unread keeps it from holding the body budget.
    const ConnectionHold* hold = HoldOf(req);
    if (length != 0 && (hold == nullptr || hold->principal.empty() || !service.policy()->NamesPrincipal(hold->principal))) {
      return RefuseUnnamed(req, res, service);
    }
    if (length != 0 && !ReserveBody(hold->principal, length)) {
      service.metrics().CountDenial("limits");
      res.set_header("Retry-After", "1");
      return Refuse(res, 503, "resource_exhausted",
                    "the service is reading as many request bodies as it may at once; retry shortly");
    }
    t_body_bytes = length;
    t_body_owner = this;
    if (length != 0) t_body_principal = hold->principal;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_logger([release_held](const httplib::Request& req, const httplib::Response&) {
    const std::size_t bytes = t_body_bytes;
    release_held();
    if (t_refused_unread) {
      t_refused_unread = false;
      Linger(req);
    }
    // Large bodies leave large free blocks in the allocator's per-thread
    // arenas; without this the service keeps its peak size for good.
    static std::atomic<std::int64_t> last_trim{0};
    if (bytes >= kTrimAfterBodyBytes) {
      const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
      std::int64_t last = last_trim.load();
      if (now - last >= 100 && last_trim.compare_exchange_strong(last, now)) ::malloc_trim(0);
    }
  });
}

}  // namespace sovereign::service
