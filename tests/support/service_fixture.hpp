// ServiceFixture: a test PKI plus any number of region keystores, each served
// by its own `sovereign serve` process, and clients for them.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sovereign/remote_keystore.hpp"
#include "tests/support/https_client.hpp"
#include "tests/support/pki.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign::test {

class ServiceFixture {
 public:
  ServiceFixture();

  TestPki& pki() { return *pki_; }
  const std::filesystem::path& root() const { return tmp_.path(); }

  // Prepare lays out `region` (see PrepareRegion); a null `access` means DefaultAccess(region).
  Region& Prepare(const std::string& region, nlohmann::json access = nullptr, int lease_ttl_seconds = 300,
                  const std::vector<std::string>& keys = {"users"});
  // Start starts (or restarts) the server of a prepared region.
  ServerProcess& Start(const std::string& region);
  // PrepareAndStart does both with the defaults.
  ServerProcess& PrepareAndStart(const std::string& region) {
    Prepare(region);
    return Start(region);
  }

  Region& region(const std::string& name) { return regions_.at(name); }
  ServerProcess& server(const std::string& name) { return *servers_.at(name); }

  // Client connects to the region's server as `identity` (nullopt: no client certificate).
  std::unique_ptr<HttpsClient> Client(const std::string& region, const std::optional<CertFiles>& identity);

  // Keystore connects the SDK's RemoteKeystore to the region's server as `identity`.
  std::shared_ptr<RemoteKeystore> Keystore(const std::string& region, const CertFiles& identity);

  // Remote is the CLI options that reach the region's server as `identity`.
  std::vector<std::string> Remote(const std::string& region, const CertFiles& identity);

 private:
  TempDir tmp_;
  std::unique_ptr<TestPki> pki_;
  std::map<std::string, Region> regions_;
  std::map<std::string, std::unique_ptr<ServerProcess>> servers_;
};

// Concat returns `a` followed by `b`, for building CLI argument lists.
std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b);

// EncryptItem builds one /v1/encrypt item.
nlohmann::json EncryptItem(const std::string& key, const std::string& label, const std::string& mode,
                           const std::string& path, const std::optional<std::string>& record_id,
                           std::string_view plaintext);

// DecryptItem builds one /v1/decrypt item.
nlohmann::json DecryptItem(const std::string& ciphertext, const std::string& path,
                           const std::optional<std::string>& record_id);

// Items wraps request items as {"items": [...]}.
inline nlohmann::json Items(nlohmann::json items) { return {{"items", std::move(items)}}; }

// RemoteEncrypt encrypts one value through /v1/encrypt and returns the
// ciphertext; fails the test if the server does not answer with one.
std::string RemoteEncrypt(HttpsClient& client, const std::string& label, std::string_view plaintext,
                          const std::string& path, const std::optional<std::string>& record_id = std::nullopt,
                          const std::string& mode = "random", const std::string& key = "users");

// CountAudit counts the region's audit entries whose principal is `principal`
// and whose outcome is `outcome`.
std::size_t CountAudit(const Region& region, const std::string& principal, const std::string& outcome);

}  // namespace sovereign::test
