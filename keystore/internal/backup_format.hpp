// The backup file's container (format in backup.hpp): encoding, and decoding
// with every checksum and size checked.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "keystore/internal/catalog.hpp"
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
};

// EncodeBackup returns the complete backup file.
Result<std::string> EncodeBackup(const BackupHeader& header, std::string_view catalog_image,
                                 std::string_view audit_log);

// DecodeBackup parses a backup file. kFailedPrecondition, saying what is
// wrong, for a file that is not a backup, is truncated or extended, or whose
// sections do not match their SHA-256.
Result<DecodedBackup> DecodeBackup(std::string_view file);

}  // namespace sovereign::keystore_internal
