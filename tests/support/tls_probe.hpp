// TlsProbe: one raw OpenSSL client connection to a service, for tests that
// must control what httplib hides: the TLS version and cipher suites offered,
// and a saved session offered for resumption.
//
// The probe verifies the server against the given CA (IP 127.0.0.1), presents
// the given client identity, sends one HTTP/1.1 request with
// "Connection: close" and reads the answer to its end.
#pragma once

#include <openssl/ssl.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/pki.hpp"

namespace sovereign::test {

struct TlsProbeOptions {
  int max_version = 0;                  // e.g. TLS1_2_VERSION; 0: the library's highest
  std::string tls12_ciphers;            // OpenSSL cipher list for TLS <= 1.2; empty: default
  std::shared_ptr<SSL_SESSION> resume;  // offered for resumption when set
  std::string method = "GET";
  std::string path = "/v1/health";
  std::string body;                     // sent as application/json when not empty
};

struct TlsProbeResult {
  bool handshake_ok = false;  // the client side of the handshake completed
  std::string error;          // why the connection failed, when it did
  bool session_reused = false;
  std::string protocol;  // "TLSv1.2", "TLSv1.3"
  std::string cipher;    // the negotiated suite's OpenSSL name
  int http_status = 0;   // 0: no HTTP answer
  std::string body;
  std::shared_ptr<SSL_SESSION> session;  // this connection's session, to offer later
  bool resumable = false;                // whether the server gave anything to resume it with
};

// ProbeTls connects to 127.0.0.1:`port` once. It never throws for a refused
// connection or handshake: the result says what happened.
TlsProbeResult ProbeTls(int port, const std::filesystem::path& ca, const CertFiles& identity,
                        const TlsProbeOptions& options = {});

}  // namespace sovereign::test
