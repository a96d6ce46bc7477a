// Root key rotation and its crash recovery (see root_rotation.hpp).
#include "keystore/internal/root_rotation.hpp"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/catalog.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/posix_file.hpp"
#include "keystore/internal/root_key.hpp"
#include "keystore/internal/wrap.hpp"

namespace sovereign::keystore_internal {
namespace {

namespace fs = std::filesystem;

Result<bool> Matches(const SecretBytes& key, const CatalogMeta& meta) {
  auto check = RootKeyCheckValue(key, meta.region);
  if (!check.ok()) return check.status();
  return check->size() == meta.root_key_check.size() &&
         CRYPTO_memcmp(check->data(), meta.root_key_check.data(), check->size()) == 0;
}

Status Rename(const fs::path& dir, const char* from, const char* to) {
  if (::rename((dir / from).c_str(), (dir / to).c_str()) != 0) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot rename {} to {}: {}", (dir / from).string(), to, ErrnoText(errno)));
  }
  return FsyncPath(dir);
}

Status RemoveNewKey(const fs::path& dir) {
  if (::unlink((dir / kNewRootKeyFileName).c_str()) != 0) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot remove {}: {}", (dir / kNewRootKeyFileName).string(), ErrnoText(errno)));
  }
  return FsyncPath(dir);
}

// Rewrap re-wraps every secret under `next` and appends the audit entry,
// inside the caller's transaction.
Result<std::size_t> Rewrap(KeystoreFiles& files, const SecretBytes& next, const std::string& principal) {
  auto versions = files.catalog.ListWrappedVersions();
  if (!versions.ok()) return versions.status();
  for (const auto& v : *versions) {
    const AssociatedData ad = KeyVersionAssociatedData(files.region, v.key_id, v.version);
    auto secret = UnwrapSecret(files.root_key, ad, v.wrapped, fmt::format("key id {} version {}", v.key_id, v.version));
    if (!secret.ok()) return secret.status();
    auto wrapped = WrapSecret(next, ad, *secret);
    if (!wrapped.ok()) return wrapped.status();
    SOVEREIGN_RETURN_IF_ERROR(files.catalog.SetWrapped(v.key_id, v.version, *wrapped));
  }
  auto subject_secrets = files.catalog.ListWrappedSubjectSecrets();
  if (!subject_secrets.ok()) return subject_secrets.status();
  for (const auto& s : *subject_secrets) {
    const AssociatedData ad = SubjectSecretAssociatedData(files.region, s.key_id);
    auto secret = UnwrapSecret(files.root_key, ad, s.wrapped, fmt::format("key id {} subject secret", s.key_id));
    if (!secret.ok()) return secret.status();
    auto wrapped = WrapSecret(next, ad, *secret);
    if (!wrapped.ok()) return wrapped.status();
    SOVEREIGN_RETURN_IF_ERROR(files.catalog.SetWrappedSubjectSecret(s.key_id, *wrapped));
  }
  auto check = RootKeyCheckValue(next, files.region);
  if (!check.ok()) return check.status();
  auto audit_key = WrapSecret(next, AuditKeyAssociatedData(files.region), files.audit_key);
  if (!audit_key.ok()) return audit_key.status();
  SOVEREIGN_RETURN_IF_ERROR(files.catalog.SetRootWrap(*check, *audit_key));
  auto log = AuditLog::New(files.dir / kAuditLogFileName, files.audit_key, files.region, principal);
  if (!log.ok()) return log.status();
  AuditEvent event;
  event.op = "keystore.rotate_root";
  SOVEREIGN_RETURN_IF_ERROR(log->Append(files.catalog, event, std::chrono::system_clock::now()));
  return versions->size();
}

}  // namespace

Status ReconcileRootKeyFiles(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir / kNewRootKeyFileName, ec))) return OkStatus();
  auto catalog = Catalog::Open(dir / kCatalogFileName);
  if (!catalog.ok()) return catalog.status();
  // Under the write lock: a rotation in progress holds it from creating
  // root.key.new to its commit, so what is seen here is a finished or an
  // abandoned one, never one about to commit.
  auto tx = Transaction::BeginImmediate(catalog->db());
  if (!tx.ok()) return tx.status();
  if (!fs::exists(fs::symlink_status(dir / kNewRootKeyFileName, ec))) return OkStatus();
  auto meta = catalog->ReadMeta();
  if (!meta.ok()) return meta.status();
  auto next = LoadRootKeyFile(dir, kNewRootKeyFileName);
  if (next.ok()) {
    auto committed = Matches(*next, *meta);
    if (!committed.ok()) return committed.status();
    // The re-wrap committed: only the rename was missing.
    if (*committed) return Rename(dir, kNewRootKeyFileName, kRootKeyFileName);
  }
  auto current = LoadRootKeyFile(dir);
  if (!current.ok()) return current.status();
  auto unchanged = Matches(*current, *meta);
  if (!unchanged.ok()) return unchanged.status();
  if (!*unchanged) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("neither {} nor {} belongs to catalog {}", (dir / kRootKeyFileName).string(),
                              (dir / kNewRootKeyFileName).string(), (dir / kCatalogFileName).string()));
  }
  // The re-wrap never committed: the new key wraps nothing and is dropped.
  return RemoveNewKey(dir);
}

Result<std::size_t> RotateRootKey(const fs::path& dir, const std::string& principal) {
  auto files = OpenKeystoreFiles(dir);  // reconciles an interrupted rotation first
  if (!files.ok()) return files.status();
  std::size_t rewrapped = 0;
  SecretBytes next;
  {
    auto tx = Transaction::BeginImmediate(files->catalog.db());
    if (!tx.ok()) return tx.status();
    // Another process may have rotated since this one opened the files.
    auto meta = files->catalog.ReadMeta();
    if (!meta.ok()) return meta.status();
    auto current = Matches(files->root_key, *meta);
    if (!current.ok()) return current.status();
    if (!*current) {
      return Status(ErrorCode::kFailedPrecondition, "the root key changed while rotating it; run the rotation again");
    }
    // Created and made durable under the write lock, before anything is wrapped under it.
    auto created = CreateRootKeyFile(files->dir, kNewRootKeyFileName);
    if (!created.ok()) return created.status();
    next = std::move(created).value();
    auto count = Rewrap(*files, next, principal);
    if (!count.ok()) {
      // Nothing is wrapped under the new key (the transaction rolls back), so
      // it can go; if removing it fails, the next open does it.
      (void)RemoveNewKey(files->dir);
      return count.status();
    }
    // A failed COMMIT may still have reached the disk (an fsync error after
    // the WAL frames were written): the new key must stay until the check
    // value says which key the catalog names; the next open decides.
    SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
    rewrapped = *count;
  }
  // Publish the new key the way every open finishes a rotation: by the
  // catalog's check value, under the write lock. Never rename whatever
  // root.key.new happens to be there: after this commit another process may
  // have finished the rename and begun (and lost) a rotation of its own, and
  // its file must not replace the key the catalog names.
  if (Status published = ReconcileRootKeyFiles(files->dir); !published.ok()) {
    // The rotation itself is committed: say so, so nobody restores the old key over it.
    return Status(published.code(),
                  fmt::format("the root key was rotated ({} key versions re-wrapped under {}), but publishing it as "
                              "{} failed: {}; the next open of the keystore finishes it, and the old root key no "
                              "longer opens this keystore",
                              rewrapped, kNewRootKeyFileName, kRootKeyFileName, published.message()));
  }
  return rewrapped;
}

}  // namespace sovereign::keystore_internal
