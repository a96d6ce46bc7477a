// Opening and creating a keystore directory: the checks shared by Init, Open
// and offline tools (audit verification).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/catalog.hpp"
#include "sovereign/keystore.hpp"
#include "sovereign/secret.hpp"

namespace sovereign::keystore_internal {

// KeystoreFiles is an opened, checked keystore directory.
struct KeystoreFiles {
  std::filesystem::path dir;
  std::string region;
  SecretBytes root_key;
  SecretBytes audit_key;
  Catalog catalog;
};

// OpenKeystoreFiles checks DIR (exists, not writable by group/others), loads
// the root key (see LoadRootKeyFile), opens the catalog, verifies the root
// key against the catalog's check value and unwraps the audit key.
// kFailedPrecondition, naming the file at fault, for anything missing or wrong.
Result<KeystoreFiles> OpenKeystoreFiles(const std::filesystem::path& dir);

// CheckRootKeyCurrent is kFailedPrecondition when the catalog is no longer
// wrapped under `files.root_key` (`keystore rotate-root` ran since it was
// loaded): a secret wrapped under it now would be lost with it. Call it
// inside the write transaction that would wrap something new.
Status CheckRootKeyCurrent(KeystoreFiles& files);

// NewEmbeddedKeystore wraps opened files in the EmbeddedKeystore implementation.
Result<std::shared_ptr<EmbeddedKeystore>> NewEmbeddedKeystore(KeystoreFiles files, EmbeddedKeystoreOptions options);

// VerifyKeystoreAuditLog verifies DIR/audit.log against the catalog head
// (read in one snapshot) with the keystore's audit key. For `sovereign audit verify`.
Result<AuditVerification> VerifyKeystoreAuditLog(const std::filesystem::path& dir);
// VerifyKeystoreAuditLog with `log` verifies another copy of the log (e.g. a
// backup or one fetched from GET /v1/audit) against DIR's head and audit key.
Result<AuditVerification> VerifyKeystoreAuditLog(const std::filesystem::path& dir, const std::filesystem::path& log);

// DefaultPrincipal is "unix:<user name>" of the effective user ("unix:uid:<n>" if unnamed).
std::string DefaultPrincipal();

}  // namespace sovereign::keystore_internal
