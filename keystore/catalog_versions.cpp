// Catalog: key version lifecycle and usage (see catalog.hpp).
#include <sqlite3.h>

#include <fmt/format.h>

#include "keystore/internal/catalog.hpp"

namespace sovereign::keystore_internal {

Status Catalog::SetMinDecryptVersion(std::uint32_t key_id, std::uint32_t version) {
  auto s = db_.Prepare("UPDATE keys SET min_decrypt_version = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{version}).Bind(2, std::int64_t{key_id});
  return s->Run();
}

Status Catalog::SetVersionState(std::uint32_t key_id, std::uint32_t version, KeyVersionState state) {
  if (state != KeyVersionState::kEnabled && state != KeyVersionState::kDisabled) {
    return Status(ErrorCode::kInternal, "catalog: SetVersionState sets only enabled or disabled");
  }
  auto s = db_.Prepare("UPDATE key_versions SET state = ? WHERE key_id = ? AND version = ? AND state != 'destroyed'");
  if (!s.ok()) return s.status();
  s->Bind(1, KeyVersionStateName(state)).Bind(2, std::int64_t{key_id}).Bind(3, std::int64_t{version});
  return s->Run();
}

Status Catalog::DestroyVersion(std::uint32_t key_id, std::uint32_t version) {
  // The row shrinks in place; secure_delete zeroes the bytes the blob held.
  auto s = db_.Prepare("UPDATE key_versions SET state = 'destroyed', wrapped = NULL WHERE key_id = ? AND version = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).Bind(2, std::int64_t{version});
  return s->Run();
}

Status Catalog::RecordUse(std::uint32_t key_id, std::uint32_t version, TimePoint now, bool random_primary) {
  auto s = db_.Prepare(
      "UPDATE key_versions SET issues = issues + 1, random_issues = random_issues + ?, last_used_at = ? "
      "WHERE key_id = ? AND version = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{random_primary ? 1 : 0}).Bind(2, ToMicros(now));
  s->Bind(3, std::int64_t{key_id}).Bind(4, std::int64_t{version});
  return s->Run();
}

Result<std::vector<Catalog::WrappedVersion>> Catalog::ListWrappedVersions() {
  auto s = db_.Prepare("SELECT key_id, version, wrapped FROM key_versions WHERE wrapped IS NOT NULL");
  if (!s.ok()) return s.status();
  std::vector<WrappedVersion> out;
  for (;;) {
    auto row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(WrappedVersion{static_cast<std::uint32_t>(s->ColumnInt(0)),
                                 static_cast<std::uint32_t>(s->ColumnInt(1)), s->ColumnBlob(2)});
  }
}

Status Catalog::SetWrapped(std::uint32_t key_id, std::uint32_t version, std::span<const std::uint8_t> wrapped) {
  auto s = db_.Prepare("UPDATE key_versions SET wrapped = ? WHERE key_id = ? AND version = ? AND wrapped IS NOT NULL");
  if (!s.ok()) return s.status();
  s->BindBlob(1, wrapped).Bind(2, std::int64_t{key_id}).Bind(3, std::int64_t{version});
  return s->Run();
}

Status Catalog::SetRootWrap(std::span<const std::uint8_t> root_key_check,
                            std::span<const std::uint8_t> wrapped_audit_key) {
  auto s = db_.Prepare("UPDATE meta SET root_key_check = ?, wrapped_audit_key = ? WHERE id = 1");
  if (!s.ok()) return s.status();
  s->BindBlob(1, root_key_check).BindBlob(2, wrapped_audit_key);
  return s->Run();
}

Status Catalog::WipeWal() {
  int log_frames = 0;
  int checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                           &checkpointed);
  if (rc == SQLITE_BUSY) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  "the catalog's WAL could not be truncated: another process is reading; it is truncated at the "
                  "next complete checkpoint");
  }
  if (rc != SQLITE_OK) return SqliteStatus(db_.handle(), rc, "wal_checkpoint(TRUNCATE)");
  return OkStatus();
}

}  // namespace sovereign::keystore_internal
