#include "tests/support/tls_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sovereign::test {
namespace {

std::string OpenSslError() {
  const unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return "no OpenSSL error queued";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof buf);
  return buf;
}

bool WaitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

}  // namespace

TlsConnection::TlsConnection(int port, const std::filesystem::path& ca, const CertFiles& identity) {
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx_, identity.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, identity.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    error_ = "client set-up: " + OpenSslError();
    return;
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return;
  }
  timeval timeout{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    return;
  }
  ssl_ = SSL_new(ctx_);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1 ||
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1") != 1) {
    error_ = "connection set-up: " + OpenSslError();
    return;
  }
  if (SSL_connect(ssl_) != 1) {
    error_ = "handshake: " + OpenSslError();
    return;
  }
  handshake_ok_ = true;
}

TlsConnection::~TlsConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

bool TlsConnection::Send(std::string_view bytes) {
  if (ssl_ == nullptr) return false;
  while (!bytes.empty()) {
    const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 16)));
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

HttpResponse TlsConnection::Read(std::chrono::milliseconds timeout) {
  HttpResponse response;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t body_start = std::string::npos;
  std::size_t length = 0;
  char buf[4096];
  for (;;) {
    if (body_start == std::string::npos) {
      const std::size_t blank = buffered_.find("\r\n\r\n");
      if (blank != std::string::npos) {
        body_start = blank + 4;
        const std::string head = buffered_.substr(0, blank);
        const std::size_t cl = head.find("Content-Length: ");
        if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
        if (head.rfind("HTTP/1.1 ", 0) == 0) response.status = std::stoi(head.substr(9, 3));
      }
    }
    if (body_start != std::string::npos && buffered_.size() >= body_start + length) {
      response.body = buffered_.substr(body_start, length);
      buffered_.erase(0, body_start + length);
      return response;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (SSL_pending(ssl_) == 0 && !WaitReadable(fd_, left))) {
      response.status = 0;
      response.transport_error = "timed out";
      return response;
    }
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      response.status = 0;
      response.transport_error = "closed: " + OpenSslError();
      return response;
    }
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
}

bool TlsConnection::Served() {
  if (!handshake_ok_ || !Send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) return false;
  return Read(std::chrono::seconds(10)).status == 200;
}

bool TlsConnection::PeerClosed(std::chrono::milliseconds timeout) {
  if (ssl_ == nullptr) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !WaitReadable(fd_, left)) return false;
    if (SSL_read(ssl_, buf, sizeof buf) <= 0) return true;
  }
}

}  // namespace sovereign::test
