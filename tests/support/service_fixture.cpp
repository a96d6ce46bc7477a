#include "tests/support/service_fixture.hpp"

#include <catch2/catch.hpp>

namespace sovereign::test {

ServiceFixture::ServiceFixture() : pki_(std::make_unique<TestPki>(tmp_.path() / "pki")) {}

Region& ServiceFixture::Prepare(const std::string& region, nlohmann::json access, int lease_ttl_seconds,
                                const std::vector<std::string>& keys) {
  if (access.is_null()) access = DefaultAccess(region);
  regions_[region] = PrepareRegion(tmp_.path(), region, *pki_, access, lease_ttl_seconds, keys);
  return regions_[region];
}

ServerProcess& ServiceFixture::Start(const std::string& region) {
  servers_.erase(region);
  auto server = std::make_unique<ServerProcess>(regions_.at(region).config_path);
  auto& ref = *server;
  servers_[region] = std::move(server);
  return ref;
}

std::unique_ptr<HttpsClient> ServiceFixture::Client(const std::string& region,
                                                    const std::optional<CertFiles>& identity) {
  return std::make_unique<HttpsClient>(server(region).port(), pki_->ca(), identity);
}

std::shared_ptr<RemoteKeystore> ServiceFixture::Keystore(const std::string& region, const CertFiles& identity) {
  auto keystore = RemoteKeystore::Connect(
      {server(region).Url(), identity.cert.string(), identity.key.string(), pki_->ca().string()});
  INFO(keystore.status().ToString());
  REQUIRE(keystore.ok());
  return std::move(keystore).value();
}

std::vector<std::string> ServiceFixture::Remote(const std::string& region, const CertFiles& identity) {
  return {"--keystore", server(region).Url(),  "--tls-cert", identity.cert.string(),
          "--tls-key",  identity.key.string(), "--tls-ca",   pki_->ca().string()};
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

nlohmann::json EncryptItem(const std::string& key, const std::string& label, const std::string& mode,
                           const std::string& path, const std::optional<std::string>& record_id,
                           std::string_view plaintext) {
  nlohmann::json item = {
      {"key", key}, {"label", label}, {"mode", mode}, {"path", path}, {"plaintext", Base64Url(plaintext)}};
  if (record_id) item["record_id"] = *record_id;
  return item;
}

nlohmann::json DecryptItem(const std::string& ciphertext, const std::string& path,
                           const std::optional<std::string>& record_id) {
  nlohmann::json item = {{"ciphertext", ciphertext}, {"path", path}};
  if (record_id) item["record_id"] = *record_id;
  return item;
}

std::string RemoteEncrypt(HttpsClient& client, const std::string& label, std::string_view plaintext,
                          const std::string& path, const std::optional<std::string>& record_id, const std::string& mode,
                          const std::string& key) {
  auto r = client.PostJson("/v1/encrypt", Items({EncryptItem(key, label, mode, path, record_id, plaintext)}));
  INFO("POST /v1/encrypt -> " << r.status << " " << r.body << r.transport_error);
  REQUIRE(r.status == 200);
  auto doc = r.json();
  REQUIRE(doc["items"].size() == 1);
  REQUIRE(doc["items"][0].contains("ciphertext"));
  return doc["items"][0]["ciphertext"].get<std::string>();
}

std::size_t CountAudit(const Region& region, const std::string& principal, const std::string& outcome) {
  std::size_t n = 0;
  for (const auto& e : AuditLines(region)) {
    if (e.value("principal", "") == principal && e.value("outcome", "") == outcome) ++n;
  }
  return n;
}

}  // namespace sovereign::test
