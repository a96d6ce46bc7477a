#include "tests/support/https_client.hpp"

#include <stdexcept>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <httplib.h>
#pragma GCC diagnostic pop

namespace sovereign::test {

std::string HttpResponse::ErrorCode() const {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("error") || !doc["error"].is_object()) return {};
  const auto& code = doc["error"]["code"];
  return code.is_string() ? code.get<std::string>() : std::string();
}

struct HttpsClient::Impl {
  std::unique_ptr<httplib::SSLClient> client;
};

HttpsClient::HttpsClient(int port, const std::filesystem::path& ca, const std::optional<CertFiles>& identity)
    : impl_(std::make_unique<Impl>()) {
  if (identity) {
    impl_->client =
        std::make_unique<httplib::SSLClient>("127.0.0.1", port, identity->cert.string(), identity->key.string());
  } else {
    impl_->client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  }
  if (!impl_->client->is_valid()) throw std::runtime_error("httplib::SSLClient: cannot load the client identity");
  impl_->client->set_ca_cert_path(ca.string());
  impl_->client->enable_server_certificate_verification(true);
  impl_->client->set_keep_alive(true);
  impl_->client->set_connection_timeout(10);
  impl_->client->set_read_timeout(30);
  impl_->client->set_write_timeout(30);
}

HttpsClient::~HttpsClient() = default;

namespace {

HttpResponse Convert(const httplib::Result& result) {
  HttpResponse response;
  if (!result) {
    response.transport_error = httplib::to_string(result.error());
    return response;
  }
  response.status = result->status;
  response.body = result->body;
  response.content_type = result->get_header_value("Content-Type");
  return response;
}

}  // namespace

HttpResponse HttpsClient::Get(const std::string& path) { return Convert(impl_->client->Get(path.c_str())); }

HttpResponse HttpsClient::Post(const std::string& path, const std::string& body, const std::string& content_type) {
  return Convert(impl_->client->Post(path.c_str(), body, content_type.c_str()));
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}

std::string Base64Url(std::string_view bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    if (rest == 2) out += kAlphabet[v >> 6 & 63];
  }
  return out;
}

std::string Base64UrlDecode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const char* at = std::char_traits<char>::find(kAlphabet, 64, c);
    if (at == nullptr) throw std::invalid_argument("not base64url");
    buffer = buffer << 6 | static_cast<unsigned>(at - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(buffer >> bits & 0xff);
    }
  }
  if (text.size() % 4 == 1) throw std::invalid_argument("bad base64url length");
  return out;
}

}  // namespace sovereign::test
