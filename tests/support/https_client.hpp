// HttpsClient: an mTLS client for the keystore service API, over cpp-httplib.
//
// The server's certificate is always verified against the given CA (host
// 127.0.0.1 must be in its SAN). One HttpsClient keeps one keep-alive
// connection; use one per thread.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tests/support/pki.hpp"

namespace sovereign::test {

// HttpResponse is what came back. `status` is 0 when there was no HTTP
// response at all (connection refused, TLS handshake failure, reset): then
// `transport_error` says why.
struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string transport_error;

  bool responded() const { return status != 0; }
  // json parses the body; throws nlohmann::json::parse_error if it is not JSON.
  nlohmann::json json() const { return nlohmann::json::parse(body); }
  // ErrorCode returns body.error.code, or "" when the body has none.
  std::string ErrorCode() const;
};

class HttpsClient {
 public:
  // Connects to https://127.0.0.1:`port`, trusting `ca` for the server and
  // presenting `identity` (none: no client certificate).
  HttpsClient(int port, const std::filesystem::path& ca, const std::optional<CertFiles>& identity);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  HttpResponse Get(const std::string& path);
  HttpResponse Post(const std::string& path, const std::string& body,
                    const std::string& content_type = "application/json");
  HttpResponse PostJson(const std::string& path, const nlohmann::json& body) { return Post(path, body.dump()); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Base64Url encodes without padding, as the API expects; Base64UrlDecode
// decodes it, throwing std::invalid_argument on bad input.
std::string Base64Url(std::string_view bytes);
std::string Base64UrlDecode(std::string_view text);

}  // namespace sovereign::test
