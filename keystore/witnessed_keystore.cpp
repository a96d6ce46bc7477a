// WitnessedKeystore (contract in witnessed_keystore.hpp).
#include "keystore/internal/witnessed_keystore.hpp"

namespace sovereign::keystore_internal {
namespace {

class WitnessedKeystore final : public ServiceKeystore {
 public:
  WitnessedKeystore(std::shared_ptr<ServiceKeystore> inner, std::shared_ptr<WitnessPublisher> witness)
      : inner_(std::move(inner)), witness_(std::move(witness)) {}

  const std::string& region() const noexcept override { return inner_->region(); }

  Result<FieldKeyMaterial> PrimaryFieldKeyAs(std::string_view principal, std::string_view op,
                                             std::string_view key_name, Mode mode, std::string_view label) override {
    return Witnessed(inner_->PrimaryFieldKeyAs(principal, op, key_name, mode, label));
  }
  Result<FieldKeyMaterial> FieldKeyAs(std::string_view principal, std::string_view op, std::uint32_t key_id,
                                      std::uint32_t version, Mode mode, std::uint32_t label_id) override {
    return Witnessed(inner_->FieldKeyAs(principal, op, key_id, version, mode, label_id));
  }
  std::vector<Result<FieldKeyMaterial>> FieldKeysAs(std::string_view principal, std::string_view op,
                                                    std::span<const FieldKeyRequest> requests,
                                                    std::vector<std::optional<FieldKeyMaterial>>* decoys = nullptr) override {
    auto results = inner_->FieldKeysAs(principal, op, requests, decoys);
    Status published = witness_->Publish();
    if (!published.ok()) {
      for (auto& result : results) result = published;  // the keys are wiped with the results
      if (decoys != nullptr) {
        decoys->clear();
        decoys->resize(results.size());
      }
    }
    return results;
  }
  Result<KeyInfo> CreateKeyAs(std::string_view principal, std::string_view name) override {
    return Witnessed(inner_->CreateKeyAs(principal, name));
  }
  Result<KeyInfo> RotateKeyAs(std::string_view principal, std::string_view name) override {
    return Witnessed(inner_->RotateKeyAs(principal, name));
  }
  Result<KeyInfo> ChangeKeyAs(std::string_view principal, std::string_view name, const KeyChange& change) override {
    return Witnessed(inner_->ChangeKeyAs(principal, name, change));
  }
  Result<ShredReport> ShredSubjectAs(std::string_view principal, std::string_view name, std::string_view subject,
                                     std::string_view reason) override {
    return Witnessed(inner_->ShredSubjectAs(principal, name, subject, reason));
  }
  Status Record(std::string_view principal, const AuditEvent& event) override {
    Status recorded = inner_->Record(principal, event);
    if (!recorded.ok()) return recorded;
    return witness_->Publish();
  }

  Result<ResolvedNames> ResolveNames(std::uint32_t key_id, std::uint32_t label_id) override {
    return inner_->ResolveNames(key_id, label_id);
  }
  Result<bool> HasLabel(std::string_view label) override { return inner_->HasLabel(label); }
  Result<AuditPage> ReadAudit(std::uint64_t after, std::size_t limit) override {
    return inner_->ReadAudit(after, limit);
  }

 private:
  // Witnessed publishes after a call whatever its outcome (a refusal is
  // recorded as well) and withholds the result if that fails.
  template <typename T>
  Result<T> Witnessed(Result<T> result) {
    Status published = witness_->Publish();
    if (!published.ok()) return published;
    return result;
  }

  std::shared_ptr<ServiceKeystore> inner_;
  std::shared_ptr<WitnessPublisher> witness_;
};

}  // namespace

std::shared_ptr<ServiceKeystore> WitnessKeystore(std::shared_ptr<ServiceKeystore> inner,
                                                 std::shared_ptr<WitnessPublisher> witness) {
  return std::make_shared<WitnessedKeystore>(std::move(inner), std::move(witness));
}

}  // namespace sovereign::keystore_internal
