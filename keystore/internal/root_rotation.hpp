// Root key rotation: a new DIR/root.key, with every wrapped secret of the
// catalog (key versions, the audit key) re-wrapped under it.
//
// Crash ordering (docs/rotation.md#root-key-rotation), all under the
// catalog's write lock (BEGIN IMMEDIATE):
//   1. the new key is published as DIR/root.key.new (0600, fsync, dir fsync);
//   2. the same transaction re-wraps every secret, replaces the catalog's
//      root key check value (which names the key that wraps the rows) and
//      appends a "keystore.rotate_root" audit entry; it commits;
//   3. under the lock again, root.key.new is renamed over root.key and the
//      directory fsynced.
// A crash leaves either no root.key.new (nothing happened, or all did), or
// root.key.new beside root.key with the catalog wrapped under exactly one of
// them; ReconcileRootKeyFiles, run by every open, finishes or undoes the
// rotation by asking which key the catalog's check value names.
//
// The audit key itself does not change, only its wrapping: the log's chain
// and MACs continue across the rotation and `audit verify` covers the whole log.
#pragma once

#include <filesystem>
#include <string>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// RotateRootKey rotates DIR's root key, audited as `principal`, and returns
// the number of key versions re-wrapped. Processes that have DIR open keep
// the old key in memory: their key creations and rotations are refused, and
// their field key issues fail, until they reopen it (restart the service).
Result<std::size_t> RotateRootKey(const std::filesystem::path& dir, const std::string& principal);

// ReconcileRootKeyFiles finishes or undoes a rotation a crash interrupted
// (see above). Ok when DIR has no root.key.new. kFailedPrecondition if
// neither file's key matches the catalog.
Status ReconcileRootKeyFiles(const std::filesystem::path& dir);

}  // namespace sovereign::keystore_internal
