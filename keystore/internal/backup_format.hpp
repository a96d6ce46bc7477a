// The backup file's container (format in backup.hpp): encoding, and decoding
// with every checksum and size checked.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "keystore/internal/catalog.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

struct BackupHeader {
  std::string region;
  TimePoint created_at;
  AuditHead audit_head;
};

struct DecodedBackup {
  BackupHeader header;
  std::string catalog_image;
  std::string audit_log;
  std::size_t authenticated_bytes = 0;  // the file's bytes the MAC covers
  std::string mac;                      // hex HMAC-SHA256
};

// EncodeBackup returns the complete backup file, authenticated with
// HMAC-SHA256 under HKDF-SHA256(root_key, "sovereign/v1/backup-mac") — the
// root key the catalog image is wrapped under.
Result<std::string> EncodeBackup(const BackupHeader& header, std::string_view catalog_image,
                                 std::string_view audit_log, const SecretBytes& root_key);

// DecodeBackup parses a backup file. kFailedPrecondition, saying what is
// wrong, for a file that is not a backup (or an unauthenticated format 1
// one), is truncated or extended, or whose sections do not match their SHA-256.
Result<DecodedBackup> DecodeBackup(std::string_view file);

// VerifyBackupMac checks the decoded file's MAC under `root_key` (constant
// time). kFailedPrecondition when it does not verify: the file was altered
// after it was written, or the root key is not the one it was made under.
Status VerifyBackupMac(std::string_view file, const DecodedBackup& backup, const SecretBytes& root_key);

}  // namespace sovereign::keystore_internal
