// TlsConnection: one raw mTLS connection to a service that a test holds open
// and writes arbitrary bytes to, as a hostile client would: idle connections,
// bodies without Content-Length, chunked uploads, slow writers.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tests/support/https_client.hpp"
#include "tests/support/pki.hpp"

namespace sovereign::test {

class TlsConnection {
 public:
  // Connects to 127.0.0.1:`port` and completes the handshake presenting
  // `identity`; handshake_ok() says whether it did (error() why not).
  TlsConnection(int port, const std::filesystem::path& ca, const CertFiles& identity);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // handshake_ok is the client's side of the handshake. In TLS 1.3 the
  // server judges the client certificate after that: use Served to know
  // whether the server took the connection.
  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }

  // Send writes all of `bytes`; false once the peer has gone.
  bool Send(std::string_view bytes);

  // Read reads one HTTP response (headers, then Content-Length bytes of
  // body) within `timeout`; status 0 when none came (transport_error says why).
  HttpResponse Read(std::chrono::milliseconds timeout);

  // Served asks GET /v1/health and reports whether it was answered 200: the
  // server accepted this connection and keeps it open for more.
  bool Served();

  // PeerClosed waits up to `timeout` for the server to end the connection.
  bool PeerClosed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
  std::string error_;
  std::string buffered_;
};

}  // namespace sovereign::test
