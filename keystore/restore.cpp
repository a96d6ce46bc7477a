// RestoreKeystore: a new keystore directory from a backup and the root key
// file kept apart from it (see backup.hpp).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "keystore/internal/backup.hpp"
#include "keystore/internal/backup_format.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/posix_file.hpp"
#include "keystore/internal/root_key.hpp"
#include "keystore/internal/sqlite.hpp"
#include "keystore/internal/service_keystore.hpp"

namespace sovereign::keystore_internal {
namespace {

namespace fs = std::filesystem;

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Result<std::string> ReadWhole(const fs::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kFailedPrecondition, fmt::format("cannot read {} {}", what, path.string()));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status(ErrorCode::kKeystoreUnavailable, fmt::format("cannot read {} {}", what, path.string()));
  return bytes;
}

// Staging is a private directory next to the target, removed unless released.
struct Staging {
  fs::path path;
  ~Staging() {
    if (!path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

Status CheckIntegrity(Catalog& catalog) {
  auto s = catalog.db().Prepare("PRAGMA integrity_check");
  if (!s.ok()) return s.status();
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row || s->ColumnText(0) != "ok") {
    return Status(ErrorCode::kFailedPrecondition, "the backup's catalog fails SQLite's integrity check");
  }
  return OkStatus();
}

// CheckNoActiveSchema refuses a catalog image with triggers or views: the
// keystore creates neither, and a trigger planted in an edited backup (say,
// one that copies every wrapped secret aside before a destroy wipes it) would
// run inside the restored keystore. Checked before anything writes to it.
Status CheckNoActiveSchema(const fs::path& catalog_path) {
  auto db = Database::Open(catalog_path, /*create=*/false);
  if (!db.ok()) return db.status();
  auto s = db->Prepare("SELECT type, name FROM sqlite_schema WHERE type IN ('trigger', 'view') LIMIT 1");
  if (!s.ok()) return s.status();
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("the backup's catalog holds a {} the keystore never creates; refusing to restore it",
                              s->ColumnText(0)));
  }
  return OkStatus();
}

// Fill writes the backup's files into `staging` and checks them as Open does,
// plus the catalog's integrity and the audit log, then records the restore.
Status Fill(const fs::path& staging, const DecodedBackup& backup, const SecretBytes& root_key,
            const std::string& root_key_name, const std::string& principal) {
  SOVEREIGN_RETURN_IF_ERROR(PublishRootKeyFile(staging, kRootKeyFileName, root_key));
  SOVEREIGN_RETURN_IF_ERROR(PublishNewFile(staging, kCatalogFileName, Bytes(backup.catalog_image)));
  SOVEREIGN_RETURN_IF_ERROR(PublishNewFile(staging, kAuditLogFileName, Bytes(backup.audit_log)));
  SOVEREIGN_RETURN_IF_ERROR(CheckNoActiveSchema(staging / kCatalogFileName));
  {
    auto files = OpenKeystoreFiles(staging);  // root key matches, audit key unwraps
    if (!files.ok()) {
      return Status(files.code(), fmt::format("the backup does not open with {} (a backup restores only with the "
                                              "root key file it was taken under): {}",
                                              root_key_name, files.status().message()));
    }
    if (files->region != backup.header.region) {
      return Status(ErrorCode::kFailedPrecondition, "the backup's header and catalog name different regions");
    }
    SOVEREIGN_RETURN_IF_ERROR(CheckIntegrity(files->catalog));
    auto head = files->catalog.ReadAuditHead();
    if (!head.ok()) return head.status();
    if (head->seq != backup.header.audit_head.seq || head->hash != backup.header.audit_head.hash) {
      return Status(ErrorCode::kFailedPrecondition, "the backup's catalog head differs from its header");
    }
  }
  auto verified = VerifyKeystoreAuditLog(staging);
  if (!verified.ok()) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("the backup's audit log does not verify: {}", verified.status().message()));
  }
  EmbeddedKeystoreOptions options;
  options.principal = principal;
  auto opened = OpenServiceKeystore(staging, options);
  if (!opened.ok()) return opened.status();
  AuditEvent event;
  event.op = "keystore.restore";
  return opened->service->Record(principal, event);
}

}  // namespace

Result<BackupSummary> RestoreKeystore(const fs::path& from, const fs::path& dir_in, const fs::path& root_key_file,
                                      const std::string& principal) {
  fs::path dir = fs::absolute(dir_in).lexically_normal();
  if (dir.filename().empty() && dir.has_parent_path()) dir = dir.parent_path();
  std::error_code ec;
  const auto type = fs::symlink_status(dir, ec).type();
  if (type != fs::file_type::not_found && (type != fs::file_type::directory || !fs::is_empty(dir, ec))) {
    return Status(ErrorCode::kAlreadyExists,
                  fmt::format("{} exists and is not an empty directory; restore never overwrites", dir.string()));
  }
  auto file = ReadWhole(from, "backup");
  if (!file.ok()) return file.status();
  auto backup = DecodeBackup(*file);
  if (!backup.ok()) return backup.status();
  // Read as the keystore reads its own: no symlink, private, exactly a root key file; into secure memory.
  const fs::path root_key_path = fs::absolute(root_key_file);
  auto root_key = LoadRootKeyFile(root_key_path.parent_path(), root_key_path.filename().string());
  if (!root_key.ok()) return root_key.status();
  // Before anything of the backup is used: it is exactly what a keystore
  // holding this root key wrote.
  SOVEREIGN_RETURN_IF_ERROR(VerifyBackupMac(*file, *backup, *root_key));

  fs::create_directories(dir.parent_path(), ec);
  std::string tmpl = (dir.parent_path() / fmt::format(".{}.restore-XXXXXX", dir.filename().string())).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot create a staging directory next to {}: {}", dir.string(), ErrnoText(errno)));
  }
  Staging staging{tmpl};
  Status filled = ::chmod(staging.path.c_str(), 0700) == 0
                      ? Fill(staging.path, *backup, *root_key, root_key_file.string(), principal)
                      : Status(ErrorCode::kKeystoreUnavailable, "cannot make the staging directory private");
  SOVEREIGN_RETURN_IF_ERROR(filled);
  SOVEREIGN_RETURN_IF_ERROR(FsyncPath(staging.path));
  // rename(2) replaces DIR only if it is an empty directory.
  if (::rename(staging.path.c_str(), dir.c_str()) != 0) {
    return Status(ErrorCode::kAlreadyExists,
                  fmt::format("cannot move the restored keystore into {}: {}", dir.string(), ErrnoText(errno)));
  }
  staging.path.clear();
  SOVEREIGN_RETURN_IF_ERROR(FsyncPath(dir.parent_path()));
  return BackupSummary{backup->header.region, backup->header.audit_head.seq, backup->catalog_image.size(),
                       backup->audit_log.size()};
}

}  // namespace sovereign::keystore_internal
