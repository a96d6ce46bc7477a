#include "tests/support/tls_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sovereign::test {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error queued" : out;
}

// Socket closes its descriptor on every path.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

int ParseStatus(const std::string& response) {
  // "HTTP/1.1 200 OK\r\n..."
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (response[i] < '0' || response[i] > '9') return 0;
    status = status * 10 + (response[i] - '0');
  }
  return status;
}

}  // namespace

TlsProbeResult ProbeTls(int port, const std::filesystem::path& ca, const CertFiles& identity,
                        const TlsProbeOptions& options) {
  TlsProbeResult result;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx.get(), identity.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), identity.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    result.error = "client set-up: " + OpenSslErrors();
    return result;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (options.max_version != 0 && SSL_CTX_set_max_proto_version(ctx.get(), options.max_version) != 1) {
    result.error = "max version: " + OpenSslErrors();
    return result;
  }
  if (!options.tls12_ciphers.empty() && SSL_CTX_set_cipher_list(ctx.get(), options.tls12_ciphers.c_str()) != 1) {
    result.error = "cipher list: " + OpenSslErrors();
    return result;
  }

  Socket sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.fd() < 0) {
    result.error = std::string("socket: ") + std::strerror(errno);
    return result;
  }
  timeval timeout{10, 0};
  ::setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(sock.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    result.error = std::string("connect: ") + std::strerror(errno);
    return result;
  }

  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), sock.fd()) != 1 ||
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1") != 1 ||
      (options.resume && SSL_set_session(ssl.get(), options.resume.get()) != 1)) {
    result.error = "connection set-up: " + OpenSslErrors();
    return result;
  }
  if (SSL_connect(ssl.get()) != 1) {
    result.error = "handshake: " + OpenSslErrors();
    return result;
  }
  result.handshake_ok = true;
  result.session_reused = SSL_session_reused(ssl.get()) == 1;
  result.protocol = SSL_get_version(ssl.get());
  result.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));

  std::string request = options.method + " " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!options.body.empty()) {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(options.body.size()) + "\r\n";
  }
  request += "\r\n" + options.body;
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) != static_cast<int>(request.size())) {
    result.error = "write: " + OpenSslErrors();
  } else {
    std::string response;
    char buf[4096];
    for (;;) {
      const int n = SSL_read(ssl.get(), buf, sizeof buf);
      if (n <= 0) break;
      response.append(buf, static_cast<std::size_t>(n));
    }
    if (response.empty()) result.error = "no answer: " + OpenSslErrors();
    result.http_status = ParseStatus(response);
    const std::size_t blank = response.find("\r\n\r\n");
    if (blank != std::string::npos) result.body = response.substr(blank + 4);
  }
  // After reading, so that TLS 1.3 tickets (if the server sent any) are in it.
  result.session.reset(SSL_get1_session(ssl.get()), SSL_SESSION_free);
  result.resumable = result.session && SSL_SESSION_is_resumable(result.session.get()) == 1;
  return result;
}

}  // namespace sovereign::test
