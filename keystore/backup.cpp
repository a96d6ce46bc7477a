// BackupKeystore: a consistent, still-wrapped snapshot of a keystore (see backup.hpp).
#include "keystore/internal/backup.hpp"

#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <memory>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/backup_format.hpp"
#include "keystore/internal/posix_file.hpp"
#include "keystore/internal/root_key.hpp"
#include "keystore/internal/wrap.hpp"
#include "keystore/internal/service_keystore.hpp"

namespace sovereign::keystore_internal {
namespace {

namespace fs = std::filesystem;

// SnapshotCatalog copies the database as of `db`'s open read transaction
// into memory with SQLite's online backup API and returns its file image.
Result<std::string> SnapshotCatalog(Database& db) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(":memory:", &raw) != SQLITE_OK) {
    sqlite3_close(raw);
    return Status(ErrorCode::kInternal, "cannot open an in-memory database for the backup");
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> mem(raw, sqlite3_close);
  sqlite3_backup* backup = sqlite3_backup_init(mem.get(), "main", db.handle(), "main");
  if (backup == nullptr) return SqliteStatus(mem.get(), sqlite3_errcode(mem.get()), "backup of the catalog");
  const int rc = sqlite3_backup_step(backup, -1);
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return SqliteStatus(db.handle(), rc, "backup of the catalog");
  if (finished != SQLITE_OK) return SqliteStatus(mem.get(), finished, "backup of the catalog");
  sqlite3_int64 size = 0;
  unsigned char* image = sqlite3_serialize(mem.get(), "main", &size, 0);
  if (image == nullptr) return Status(ErrorCode::kInternal, "cannot serialise the catalog backup");
  std::string out(reinterpret_cast<const char*>(image), static_cast<std::size_t>(size));
  sqlite3_free(image);
  return out;
}

// AuditPrefix returns the bytes of the log at `path` up to and including the
// entry `head` names: line head.seq of an intact log, which must hash to head.hash.
Result<std::string> AuditPrefix(const fs::path& path, const AuditHead& head) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kKeystoreUnavailable, fmt::format("cannot read audit log {}", path.string()));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (head.seq == 0) return std::string();
  std::size_t start = 0;
  for (std::uint64_t line = 1;; ++line) {
    const std::size_t end = bytes.find('\n', start);
    if (end == std::string::npos) break;
    if (line == head.seq) {
      auto hash = Sha256Hex(std::string_view(bytes).substr(start, end - start));
      if (!hash.ok()) return hash.status();
      if (*hash != head.hash) break;
      bytes.resize(end + 1);
      return bytes;
    }
    start = end + 1;
  }
  return Status(ErrorCode::kFailedPrecondition,
                fmt::format("audit log {} does not reach the catalog's head (entry {}): run `sovereign audit verify`",
                            path.string(), head.seq));
}

}  // namespace

namespace {
// WriteBackup takes the snapshot and publishes the backup file.
Result<BackupSummary> WriteBackup(const fs::path& dir, const fs::path& out);
}  // namespace

Result<BackupSummary> BackupKeystore(const fs::path& dir, const fs::path& out, const std::string& principal) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(out, ec))) {
    return Status(ErrorCode::kAlreadyExists, fmt::format("{} already exists; a backup never replaces a file", out.string()));
  }
  // Who took a backup, and when, is in the log — and in the backup itself, so
  // it is recorded first; a backup that then fails gets a second entry saying so.
  EmbeddedKeystoreOptions options;
  options.principal = principal;
  auto opened = OpenServiceKeystore(dir, options);
  if (!opened.ok()) return opened.status();
  AuditEvent event;
  event.op = "keystore.backup";
  SOVEREIGN_RETURN_IF_ERROR(opened->service->Record(principal, event));
  auto written = WriteBackup(dir, out);
  if (!written.ok()) {
    event.outcome = "error";
    event.reason = std::string(ErrorCodeName(written.code()));
    (void)opened->service->Record(principal, event);  // the failure itself is what the caller sees
  }
  return written;
}

namespace {

Result<BackupSummary> WriteBackup(const fs::path& dir, const fs::path& out) {
  auto catalog = Catalog::Open(dir / kCatalogFileName);
  if (!catalog.ok()) return catalog.status();
  BackupHeader header;
  std::string catalog_image;
  std::vector<std::uint8_t> root_key_check;
  {
    // One read transaction: the head and the pages are one snapshot. Audit
    // lines up to the head are immutable, so reading them later is consistent.
    auto tx = Transaction::BeginRead(catalog->db());
    if (!tx.ok()) return tx.status();
    auto meta = catalog->ReadMeta();
    if (!meta.ok()) return meta.status();
    auto head = catalog->ReadAuditHead();
    if (!head.ok()) return head.status();
    auto image = SnapshotCatalog(catalog->db());
    if (!image.ok()) return image.status();
    SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
    header.region = meta->region;
    root_key_check = meta->root_key_check;
    header.audit_head = *head;
    catalog_image = std::move(image).value();
  }
  auto audit = AuditPrefix(dir / kAuditLogFileName, header.audit_head);
  if (!audit.ok()) return audit.status();
  // The MAC key comes from the root key the snapshot is wrapped under; a
  // root rotation that published a new key meanwhile is caught here.
  auto root_key = LoadRootKeyFile(dir, kRootKeyFileName);
  if (!root_key.ok()) return root_key.status();
  auto check = RootKeyCheckValue(*root_key, header.region);
  if (!check.ok()) return check.status();
  if (*check != root_key_check) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the root key changed while the backup was taken (a root rotation ran): back up again");
  }
  header.created_at = std::chrono::system_clock::now();
  auto file = EncodeBackup(header, catalog_image, *audit, *root_key);
  if (!file.ok()) return file.status();
  const fs::path target = fs::absolute(out).lexically_normal();
  SOVEREIGN_RETURN_IF_ERROR(PublishNewFile(
      target.parent_path(), target.filename().string(),
      {reinterpret_cast<const std::uint8_t*>(file->data()), file->size()}));
  return BackupSummary{header.region, header.audit_head.seq, catalog_image.size(), audit->size()};
}

}  // namespace

}  // namespace sovereign::keystore_internal
