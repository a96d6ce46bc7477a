// Serve: configuration, keystore, TLS with mandatory client certificates,
// routes, signals. Request handling lives in the route files.
#include "keystore/service/server.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "keystore/internal/posix_file.hpp"
#include "keystore/internal/witnessed_keystore.hpp"
#include "keystore/service/limits.hpp"
#include "keystore/service/service.hpp"

namespace sovereign::service {
namespace {

// httplib holds a worker per open connection (ServerLimits::workers); these
// bound how long one may sit idle or trickle bytes before it is closed.
constexpr std::size_t kKeepAliveMaxRequests = 100000;
constexpr std::chrono::seconds kReadTimeout{5};
constexpr std::chrono::seconds kWriteTimeout{5};
constexpr std::chrono::seconds kKeepAliveTimeout{5};

void Log(std::string_view line) {
  fmt::print(stderr, "sovereign serve: {}\n", line);
  std::fflush(stderr);
}

std::string OpenSslError() {
  unsigned long err = ERR_get_error();
  if (err == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// ConfigureTls sets up `ctx` for mandatory, verified client certificates.
// On failure `error` names the file and the reason.
bool ConfigureTls(SSL_CTX& ctx, const ki::ServerTlsConfig& tls, std::string& error) {
  const auto fail = [&](std::string what) {
    error = fmt::format("{}: {}", what, OpenSslError());
    return false;
  };
  if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return fail("cannot require TLS 1.2");
  // AEAD suites with forward secrecy only: TLS 1.2 would otherwise also offer
  // CBC-SHA suites (MAC-then-encrypt, Lucky13-style padding oracles). TLS 1.3
  // suites are all AEADs; CCM stays out, as in OpenSSL's default.
  static constexpr const char* kTls12Ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  static constexpr const char* kTls13Ciphersuites =
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  if (SSL_CTX_set_cipher_list(&ctx, kTls12Ciphers) != 1) return fail("cannot set the TLS 1.2 cipher list");
  if (SSL_CTX_set_ciphersuites(&ctx, kTls13Ciphersuites) != 1) return fail("cannot set the TLS 1.3 cipher suites");
  // No session resumption at all (no tickets in TLS 1.2 or 1.3, no session
  // cache): a resumed session would skip certificate verification, so an
  // expired certificate, or one from a CA since removed, would keep working.
  SSL_CTX_set_options(&ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_num_tickets(&ctx, 0) != 1) return fail("cannot turn off TLS 1.3 session tickets");
  SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(&ctx, tls.cert.c_str()) != 1) {
    return fail(fmt::format("cannot load server certificate {}", tls.cert.string()));
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(fmt::format("cannot load server key {}", tls.key.string()));
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) {
    return fail(fmt::format("server key {} does not match certificate {}", tls.key.string(), tls.cert.string()));
  }
  if (SSL_CTX_load_verify_locations(&ctx, tls.client_ca.c_str(), nullptr) != 1) {
    return fail(fmt::format("cannot load client CA {}", tls.client_ca.string()));
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str());
  if (names == nullptr) return fail(fmt::format("no CA names in {}", tls.client_ca.string()));
  SSL_CTX_set_client_CA_list(&ctx, names);
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // No session id context: with resumption off it is not needed, and should a
  // session ever be found, OpenSSL then fails that handshake instead of resuming.
  return true;
}

// ReloadPolicy re-reads the configuration and replaces the access policy if
// it is valid; otherwise the old one stays. Either way it is audited.
void ReloadPolicy(Service& service) {
  auto config = ki::LoadServerConfig(service.config_path());
  ki::AuditEvent event;
  event.op = "policy.reload";
  if (config.ok() && config->region != service.region()) {
    config = Status(ErrorCode::kInvalidArgument,
                    fmt::format("region changed from '{}' to '{}'; restart to change regions", service.region(),
                                config->region));
  }
  if (!config.ok()) {
    event.outcome = "error";
    event.reason = std::string(ErrorCodeName(config.code()));
    Log(fmt::format("SIGHUP: new access policy rejected, keeping the previous one: {}", config.status().message()));
    (void)service.Audit(kServicePrincipal, event);
    return;
  }
  event.counts = nlohmann::json::array({{{"rules", config->access.rules().size()}}});
  Status audited = service.Audit(kServicePrincipal, event);
  if (!audited.ok()) {
    Log("SIGHUP: the reload cannot be audited; keeping the previous access policy");
    return;
  }
  const std::size_t rules = config->access.rules().size();
  service.set_policy(std::move(config->access));
  Log(fmt::format("SIGHUP: access policy reloaded ({} rules)", rules));
}

void InstallErrorHandlers(httplib::Server& server, Service& service) {
  // Called for every answer >= 400; ours already have a JSON body. The rest
  // come from httplib itself (unknown route, body too large, bad request line).
  server.set_error_handler([&service](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404: ReplyError(res, 404, "not_found", "no such endpoint"); break;
      case 413: ReplyError(res, 413, "invalid_argument", "request body exceeds 4 MiB"); break;
      default: ReplyError(res, res.status, "invalid_argument", "malformed HTTP request"); break;
    }
    service.metrics().CountRequest("other", res.status, 0);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    ReplyError(res, 500, "internal", "internal error");
  });
}

// CheckTlsKeyFile refuses a server private key that group or others may
// read, that has another hard link, or that another user owns, as the
// keystore's own root key is refused. A symbolic link is followed (certificate
// managers publish keys that way); the file it names is checked.
Status CheckTlsKeyFile(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("cannot stat server TLS key {}: {}", path.string(), ki::ErrnoText(errno)));
  }
  return ki::CheckOwnerOnly(path, st, "server TLS key", "600");
}

std::string UrlHost(const std::string& host) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]", host) : host;
}

}  // namespace

int Serve(const std::filesystem::path& config_path) {
  auto config = ki::LoadServerConfig(config_path);
  if (!config.ok()) {
    Log(config.status().message());
    return 1;
  }
  if (Status key_file = CheckTlsKeyFile(config->tls.key); !key_file.ok()) {
    Log(key_file.message());
    return 1;
  }
  EmbeddedKeystoreOptions options;
  options.principal = std::string(kServicePrincipal);
  options.field_key_ttl = config->lease_ttl;
  // The whole audit chain is verified before anything is served: a line
  // deleted, edited or reordered anywhere in the log refuses the start.
  const auto open_start = std::chrono::steady_clock::now();
  auto keystore = ki::OpenServiceKeystore(config->store_dir, options, ki::OpenChecks{.verify_audit_log = true});
  if (!keystore.ok()) {
    Log(fmt::format("cannot open the keystore: {}", keystore.status().message()));
    return 1;
  }
  Log(fmt::format("keystore opened, audit log verified in {:.3f} s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - open_start).count()));
  if (keystore->embedded->region() != config->region) {
    Log(fmt::format("configuration region '{}' does not match the keystore's region '{}' in {}", config->region,
                    keystore->embedded->region(), config->store_dir.string()));
    return 1;
  }
  // Rollback detection: refuse a store behind its witness, then witness
  // every change before it is acknowledged (docs/operations.md#rollback-witness).
  if (!config->witness_path.empty()) {
    auto witness = ki::StartWitness(config->witness_path, config->store_dir, Log);
    if (!witness.ok()) {
      Log(fmt::format("refusing to start: {}", witness.status().message()));
      return 1;
    }
    keystore->service = ki::WitnessKeystore(std::move(keystore->service), std::move(witness).value());
  } else {
    Log("no rollback witness configured: a restored older copy of catalog.db and audit.log would go unnoticed");
  }
  auto client = Client::New(keystore->embedded);
  if (!client.ok()) {
    Log(fmt::format("cannot create the crypto client: {}", client.status().message()));
    return 1;
  }
  Service service(std::filesystem::absolute(config_path), *config, std::move(keystore).value(),
                  std::move(client).value());

  // Signals are taken by one thread with sigwait; every other thread
  // (including httplib's workers, created later) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // A file size limit (RLIMIT_FSIZE) must fail the write (EFBIG), which the
  // audit log turns into a refused request, not kill the service.
  ::signal(SIGXFSZ, SIG_IGN);

  std::string tls_error;
  const ki::ServerTlsConfig tls = config->tls;
  // Declared before the server: connections still open when it is destroyed
  // give their allowance back to it.
  Limits limits(config->limits, config->identity);
  httplib::SSLServer server([&](SSL_CTX& ctx) {
    if (!ConfigureTls(ctx, tls, tls_error)) return false;
    if (!limits.InstallTls(ctx)) {
      tls_error = "cannot install the per-principal connection limit";
      return false;
    }
    return true;
  });
  if (!server.is_valid()) {
    Log(fmt::format("TLS set-up failed: {}", tls_error.empty() ? OpenSslError() : tls_error));
    return 1;
  }
  const std::size_t workers = config->limits.workers;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_payload_max_length(kMaxBodySize);
  server.set_read_timeout(kReadTimeout);
  server.set_write_timeout(kWriteTimeout);
  server.set_keep_alive_timeout(kKeepAliveTimeout.count());
  limits.InstallHttp(server, service);
  server.set_keep_alive_max_count(kKeepAliveMaxRequests);
  // Answers are small and sent at once: without TCP_NODELAY each one waits
  // for the client's delayed ACK (~40 ms), capping a connection at ~25 req/s.
  server.set_tcp_nodelay(true);
  InstallErrorHandlers(server, service);
  AddHealthAndMetricsRoutes(server, service);
  AddLeaseRoutes(server, service);
  AddRemoteCryptoRoutes(server, service);
  AddKeyRoutes(server, service);
  AddAuditRoutes(server, service);

  int port = config->listen_port;
  if (port == 0) {
    port = server.bind_to_any_port(config->listen_host);
    if (port < 0) port = 0;
  } else if (!server.bind_to_port(config->listen_host, port)) {
    port = 0;
  }
  if (port <= 0) {
    Log(fmt::format("cannot listen on {}:{}", config->listen_host, config->listen_port));
    return 1;
  }

  std::atomic<bool> stopping{false};
  std::atomic<bool> listen_done{false};
  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (stopping.load()) return;
      if (sig == SIGHUP) {
        ReloadPolicy(service);
        continue;
      }
      Log(fmt::format("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      stopping.store(true);
      // stop() is a no-op until listen_after_bind() runs; a signal that
      // arrives right after the "listening" line must still stop the server.
      while (!server.is_running() && !listen_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      server.stop();
      return;
    }
  });

  fmt::print("listening on https://{}:{}\n", UrlHost(config->listen_host), port);
  std::fflush(stdout);
  Log(fmt::format("region {} serving store {} ({} access rules)", service.region(), config->store_dir.string(),
                  service.policy()->rules().size()));
  const bool listened = server.listen_after_bind();
  listen_done.store(true);
  if (!stopping.exchange(true)) {
    // The server stopped on its own: wake the signal thread so it can exit.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  Log("stopped");
  return listened ? 0 : 1;
}

}  // namespace sovereign::service
