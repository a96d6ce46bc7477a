// ServiceKeystore: what the keystore service needs from an embedded keystore
// beyond the public EmbeddedKeystore API — acting for a remote principal.
//
// The embedded keystore records `EmbeddedKeystoreOptions::principal` in every
// audit entry; the service acts for many principals over one open keystore,
// so these methods take the principal per call. They have the same
// fail-closed contract as the public ones: a key or a change is returned only
// once its audit record is durable and the catalog transaction committed.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/catalog.hpp"
#include "keystore/internal/field_key_request.hpp"
#include "keystore/internal/key_lifecycle.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/keystore.hpp"

namespace sovereign::keystore_internal {

// ResolvedNames are the names behind the ids an envelope header carries;
// each is nullopt when the catalog has no such id.
struct ResolvedNames {
  std::optional<std::string> key;
  std::optional<std::string> label;
};

// AuditPage is a slice of the audit log, lines exactly as stored.
struct AuditPage {
  std::vector<std::string> entries;
  AuditHead head;
};

class ServiceKeystore {
 public:
  virtual ~ServiceKeystore();

  virtual const std::string& region() const noexcept = 0;

  // PrimaryFieldKeyAs is KeySource::PrimaryFieldKey audited as `principal`
  // with operation `op` (e.g. "lease").
  virtual Result<FieldKeyMaterial> PrimaryFieldKeyAs(std::string_view principal, std::string_view op,
                                                     std::string_view key_name, Mode mode,
                                                     std::string_view label) = 0;
  // FieldKeyAs is KeySource::FieldKey audited as `principal` with `op`.
  virtual Result<FieldKeyMaterial> FieldKeyAs(std::string_view principal, std::string_view op,
                                              std::uint32_t key_id, std::uint32_t version, Mode mode,
                                              std::uint32_t label_id) = 0;
  // FieldKeysAs issues every request of a batch, audited as `principal` with
  // `op`, one result per request in order, each as the single-key call would
  // return it. The batch's audit records share group commits (fsyncs) with
  // each other and with concurrent callers.
  //
  // With `decoys`, it is resized to the requests and, for each encryption
  // request (by name) refused kShredded, holds a decoy: the header that key
  // would have (region, key id, primary version, mode, label id, subject
  // tag) with random key bytes nothing stores. An envelope sealed with it
  // looks like any other and is as unrecoverable as the subject's other
  // fields, so a caller that may not decrypt can be answered without
  // learning of the shred. The refusal is audited as it happened.
  virtual std::vector<Result<FieldKeyMaterial>> FieldKeysAs(
      std::string_view principal, std::string_view op, std::span<const FieldKeyRequest> requests,
      std::vector<std::optional<FieldKeyMaterial>>* decoys = nullptr) = 0;
  // CreateKeyAs and RotateKeyAs are EmbeddedKeystore's, audited as `principal`.
  virtual Result<KeyInfo> CreateKeyAs(std::string_view principal, std::string_view name) = 0;
  virtual Result<KeyInfo> RotateKeyAs(std::string_view principal, std::string_view name) = 0;
  // ChangeKeyAs applies a lifecycle change (KeyAdmin's RetireVersionsBelow,
  // SetVersionEnabled, DestroyVersion), audited as `principal`.
  virtual Result<KeyInfo> ChangeKeyAs(std::string_view principal, std::string_view name, const KeyChange& change) = 0;

  // ShredSubjectAs is KeyAdmin::ShredSubject audited as `principal`.
  virtual Result<ShredReport> ShredSubjectAs(std::string_view principal, std::string_view name,
                                             std::string_view subject, std::string_view reason) = 0;
  // Record appends `event` as `principal` in its own transaction. Ok only
  // once the line is durable and the head committed; else kKeystoreUnavailable
  // (the caller must then refuse to answer: fail closed).
  virtual Status Record(std::string_view principal, const AuditEvent& event) = 0;

  // ResolveNames returns the names of `key_id` and `label_id` (read only, not audited).
  virtual Result<ResolvedNames> ResolveNames(std::uint32_t key_id, std::uint32_t label_id) = 0;

  // HasLabel reports whether the catalog has given `label` an id yet (read
  // only, not audited). Issuing a key for a new label registers it, so the
  // service asks first where a caller may not grow the catalog.
  virtual Result<bool> HasLabel(std::string_view label) = 0;

  // ReadAudit returns up to `limit` entries with seq > `after`, and the head.
  virtual Result<AuditPage> ReadAudit(std::uint64_t after, std::size_t limit) = 0;

 protected:
  ServiceKeystore() = default;
};

// OpenedKeystore is one open keystore seen through both interfaces.
struct OpenedKeystore {
  std::shared_ptr<EmbeddedKeystore> embedded;
  std::shared_ptr<ServiceKeystore> service;
};

// OpenServiceKeystore opens DIR like EmbeddedKeystore::Open, plus `checks`
// (`sovereign serve` verifies the whole audit log). `options.principal` is
// what the embedded view records (the service's own identity).
Result<OpenedKeystore> OpenServiceKeystore(const std::filesystem::path& dir, EmbeddedKeystoreOptions options,
                                           OpenChecks checks = {});

// ReadAuditLines returns the complete lines of the log at `path` whose seq is
// in (after, head.seq], at most `limit`. kKeystoreUnavailable if unreadable.
Result<std::vector<std::string>> ReadAuditLines(const std::filesystem::path& path, std::uint64_t after,
                                                std::uint64_t up_to, std::size_t limit);

}  // namespace sovereign::keystore_internal
