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

// OpenChecks are the checks of OpenKeystoreFiles that cost more than a few
// system calls, for the callers that want them.
struct OpenChecks {
  // Verify all of audit.log (every MAC, seq and prev) against the catalog's
  // audit head before returning, reading the file once, sequentially, in
  // constant memory (VerifyAuditLog): a line deleted, edited or reordered
  // anywhere in the log refuses the open, not only damage at its end (which
  // every append checks anyway). Costs a pass over the whole log (about
  // docs/operations.md's figure per million entries); `sovereign serve`
  // always asks for it, the CLI's short commands do not.
  bool verify_audit_log = false;
};

// OpenKeystoreFiles checks DIR (exists, not writable by group/others), loads
// the root key (see LoadRootKeyFile), checks that catalog.db and audit.log
// are private regular files (CheckPrivateFile: mode 0600, one link, owned by
// the effective user), opens the catalog, verifies the root key against the
// catalog's check value, unwraps the audit key and runs `checks`.
// kFailedPrecondition, naming the file at fault, for anything missing or wrong.
Result<KeystoreFiles> OpenKeystoreFiles(const std::filesystem::path& dir, OpenChecks checks = {});

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
