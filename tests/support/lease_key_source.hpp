// LeaseKeySource: a KeySource that gets field keys from POST /v1/leases.
//
// A deliberately independent reading of docs/keystore-api.md, so the tests
// can check that keys leased over HTTPS open what the server's remote batch
// operations produce (and the reverse) with the SDK's own Client, whatever
// the production remote client does.
//
// Thread safety: one HttpsClient behind a mutex.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "sovereign/key_source.hpp"
#include "tests/support/https_client.hpp"

namespace sovereign::test {

class LeaseKeySource : public KeySource {
 public:
  LeaseKeySource(std::string region, std::unique_ptr<HttpsClient> client)
      : region_(std::move(region)), client_(std::move(client)) {}

  const std::string& region() const noexcept override { return region_; }
  Result<FieldKeyMaterial> PrimaryFieldKey(std::string_view key_name, Mode mode, std::string_view label) override;
  Result<FieldKeyMaterial> FieldKey(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                    std::uint32_t label_id) override;

  // requests counts POST /v1/leases calls made.
  int requests() const { return requests_.load(); }

 private:
  Result<FieldKeyMaterial> Lease(const nlohmann::json& item);

  std::string region_;
  std::mutex mu_;
  std::unique_ptr<HttpsClient> client_;
  std::atomic<int> requests_{0};
};

}  // namespace sovereign::test
