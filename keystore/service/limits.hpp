// Limits: what one certificate holder can take from `sovereign serve` —
// connections, request bodies, memory — so that hostile load is shed before
// the region's own callers starve (docs/threat-model.md).
//
// - Connections per principal: counted from the TLS handshake, when the
//   client certificate is verified, to the moment the connection is freed.
//   A handshake over the limit fails, so idle connections cannot hold the
//   service's workers. A principal no access rule names gets a small
//   allowance, and certificates that name no valid principal share one.
// - Request bodies: a POST must carry Content-Length (no chunked or
//   unbounded bodies) within kMaxBodySize; a principal no rule names may
//   send none; all bodies being read or handled at once share a byte
//   budget, of which one principal holds at most half; a request waits
//   briefly for room, then is answered 503 with Retry-After before its body
//   is read.
// - Memory held by the allocator after large bodies is handed back.
//
// Thread safety: all methods are safe to call from httplib's workers and
// OpenSSL's callbacks concurrently.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>

#include "keystore/internal/server_config.hpp"

namespace sovereign::service {

class Service;

class Limits {
 public:
  // `identity` decides which principal a connection counts against.
  Limits(const keystore_internal::ServerLimits& config, const keystore_internal::IdentityOptions& identity);
  ~Limits();
  Limits(const Limits&) = delete;
  Limits& operator=(const Limits&) = delete;

  // InstallTls makes `ctx` count connections per principal; call after the
  // context's verification is set up (it keeps the verify mode).
  bool InstallTls(SSL_CTX& ctx);

  // InstallHttp adds the body rules to `server`, and the handing back of
  // memory; `service` counts what is shed in its metrics.
  void InstallHttp(httplib::Server& server, Service& service);

  // Connections returns how many connections `principal` holds now.
  std::size_t Connections(const std::string& principal) const;

  // Release gives back one connection of `principal` (when its SSL is freed).
  void Release(const std::string& principal);

  const keystore_internal::ServerLimits& config() const noexcept { return config_; }

 private:
  static int Verify(int preverify_ok, X509_STORE_CTX* store);
  httplib::Server::HandlerResponse RefuseUnnamed(const httplib::Request& req, httplib::Response& res,
                                                 Service& service) const;
  bool Admit(const std::string& principal, bool named);
  bool ReserveBody(const std::string& principal, std::size_t bytes);
  void ReleaseBody(const std::string& principal, std::size_t bytes);

  keystore_internal::ServerLimits config_;
  keystore_internal::IdentityOptions identity_;
  std::atomic<const Service*> service_{nullptr};  // set by InstallHttp: whose policy names principals
  mutable std::mutex mu_;
  std::map<std::string, std::size_t, std::less<>> connections_;
  std::size_t body_bytes_ = 0;
  std::map<std::string, std::size_t, std::less<>> body_bytes_by_principal_;
  std::condition_variable body_freed_;
};

}  // namespace sovereign::service
