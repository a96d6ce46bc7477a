// Keystore backup and restore: one file holding a consistent snapshot of the
// catalog and of the audit log up to the catalog's head.
//
// File format (version 1):
//   "SOVBKUP1\n"
//   one JSON line: {"format": 1, "region", "created_at", "catalog_bytes",
//                   "catalog_sha256", "audit_bytes", "audit_sha256",
//                   "audit_head": {"seq", "hash"}}
//   the catalog database image (catalog_bytes), then the audit log (audit_bytes)
//
// Security: the backup holds key versions and the audit key only wrapped
// under the root key, and never the root key itself: root.key is backed up
// separately (docs/keystore.md#backup-and-restore) and given to Restore. A
// backup is written 0600 and published atomically, never replacing a file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

struct BackupSummary {
  std::string region;
  std::uint64_t audit_entries = 0;  // the audit head's seq in the backup
  std::uint64_t catalog_bytes = 0;
  std::uint64_t audit_bytes = 0;
};

// BackupKeystore records a "keystore.backup" audit entry as `principal` in
// DIR, then snapshots DIR's catalog (SQLite online backup, under the write
// lock so no audit entry can be committed meanwhile) and its audit log up to
// the snapshot's head, and publishes them as `out`. kAlreadyExists if `out`
// exists; kFailedPrecondition if the audit log does not reach the head.
Result<BackupSummary> BackupKeystore(const std::filesystem::path& dir, const std::filesystem::path& out,
                                     const std::string& principal);

// RestoreKeystore creates DIR (which must not exist or be an empty
// directory) from the backup `from` and the root key file `root_key_file`:
// it checks the backup's checksums, the catalog's integrity, that the root
// key belongs to the catalog and that the audit log verifies, then records a
// "keystore.restore" entry as `principal` and moves the keystore into place
// (atomically: DIR is either untouched or complete). kAlreadyExists if DIR
// holds a keystore; kFailedPrecondition for a damaged or foreign backup.
Result<BackupSummary> RestoreKeystore(const std::filesystem::path& from, const std::filesystem::path& dir,
                                      const std::filesystem::path& root_key_file, const std::string& principal);

}  // namespace sovereign::keystore_internal
