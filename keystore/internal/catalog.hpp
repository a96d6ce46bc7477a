// Catalog: the keystore's SQLite database, DIR/catalog.db (schema in docs/keystore.md).
//
// The catalog stores key metadata, key versions wrapped under the root key,
// the region's label ids and the audit log head. It never holds an unwrapped
// secret. Methods do not open transactions: callers group each operation's
// reads and writes in one Transaction (BEGIN IMMEDIATE for writes).
//
// Thread safety: none; the keystore serialises access.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keystore/internal/sqlite.hpp"
#include "sovereign/keystore.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

inline constexpr char kCatalogFileName[] = "catalog.db";
// Version 2 added per-version usage columns (issues, random_issues,
// last_used_at); version 3 the per-subject key tables. Open migrates a
// version 1 or 2 catalog in place.
inline constexpr std::int64_t kCatalogSchemaVersion = 3;

using TimePoint = std::chrono::system_clock::time_point;

struct CatalogMeta {
  std::int64_t schema_version = kCatalogSchemaVersion;
  std::string region;
  TimePoint created_at;
  std::vector<std::uint8_t> root_key_check;
  std::vector<std::uint8_t> wrapped_audit_key;
};

struct KeyRow {
  std::uint32_t id = 0;
  std::string name;
  TimePoint created_at;
  std::uint32_t primary_version = 0;
  std::uint32_t min_decrypt_version = 1;
};

struct KeyVersionRow {
  std::uint32_t version = 0;
  KeyVersionState state = KeyVersionState::kEnabled;
  TimePoint created_at;
  std::optional<std::vector<std::uint8_t>> wrapped;  // nullopt once destroyed
  std::uint64_t issues = 0;         // field keys of this version issued, any mode
  std::uint64_t random_issues = 0;  // of those, random-mode keys of the primary (may encrypt)
  std::optional<TimePoint> last_used_at;
};

// AuditHead is the last entry appended to the audit log: its sequence number
// and the hex SHA-256 of its line. seq 0 means the log is empty.
struct AuditHead {
  std::uint64_t seq = 0;
  std::string hash;
};

// kGenesisHash is the `prev` of the first audit entry.
inline const std::string kGenesisHash(64, '0');

class Catalog {
 public:
  // Create makes a new catalog at `path` (the file is created 0600 first, so
  // SQLite's -wal and -shm files inherit that mode) with the schema, `meta`
  // and an empty audit head, in one transaction.
  static Result<Catalog> Create(const std::filesystem::path& path, const CatalogMeta& meta);
  // Open opens an existing catalog and checks its schema version.
  static Result<Catalog> Open(const std::filesystem::path& path);

  Database& db() noexcept { return db_; }

  Result<CatalogMeta> ReadMeta();

  Result<std::optional<KeyRow>> FindKey(std::string_view name);
  Result<std::optional<KeyRow>> FindKey(std::uint32_t id);
  Result<std::vector<KeyRow>> ListKeys();
  Result<std::vector<KeyVersionRow>> ListVersions(std::uint32_t key_id);
  Result<std::optional<KeyVersionRow>> FindVersion(std::uint32_t key_id, std::uint32_t version);
  // InsertKey adds key `name` (id = max + 1) with primary version 1; the
  // caller inserts version 1 in the same transaction.
  Result<std::uint32_t> InsertKey(std::string_view name, TimePoint created_at);
  Status InsertVersion(std::uint32_t key_id, std::uint32_t version, TimePoint created_at,
                       std::span<const std::uint8_t> wrapped);
  Result<std::uint32_t> MaxVersion(std::uint32_t key_id);
  Status SetPrimaryVersion(std::uint32_t key_id, std::uint32_t version);

  // Lifecycle (catalog_versions.cpp). Callers check the transitions are allowed.
  Status SetMinDecryptVersion(std::uint32_t key_id, std::uint32_t version);
  // SetVersionState sets enabled or disabled; never destroyed (see DestroyVersion).
  Status SetVersionState(std::uint32_t key_id, std::uint32_t version, KeyVersionState state);
  // DestroyVersion marks the version destroyed and sets its wrapped secret to
  // NULL. With secure_delete on (Database::Open) the old bytes are zeroed in
  // the page; the caller checkpoints the WAL after commit (see WipeWal).
  Status DestroyVersion(std::uint32_t key_id, std::uint32_t version);
  // RecordUse counts one issued field key of `version` at `now`;
  // `random_primary` when it was a random-mode key of the primary version.
  Status RecordUse(std::uint32_t key_id, std::uint32_t version, TimePoint now, bool random_primary);
  // Root key rotation (root_rotation.cpp) rewrites every wrapped secret.
  struct WrappedVersion {
    std::uint32_t key_id = 0;
    std::uint32_t version = 0;
    std::vector<std::uint8_t> wrapped;
  };
  Result<std::vector<WrappedVersion>> ListWrappedVersions();
  Status SetWrapped(std::uint32_t key_id, std::uint32_t version, std::span<const std::uint8_t> wrapped);
  Status SetRootWrap(std::span<const std::uint8_t> root_key_check, std::span<const std::uint8_t> wrapped_audit_key);

  // WipeWal checkpoints the WAL into the database and truncates it to zero
  // bytes, so frames holding overwritten pages do not linger there. Must be
  // called outside a transaction. kKeystoreUnavailable if a reader in another
  // connection kept the checkpoint from completing.
  Status WipeWal();

  Result<std::optional<std::uint32_t>> FindLabelId(std::string_view name);
  Result<std::optional<std::string>> FindLabelName(std::uint32_t id);
  // InsertLabel registers `name` with id = max + 1.
  Result<std::uint32_t> InsertLabel(std::string_view name, TimePoint created_at);

  // Per-subject keys (catalog_subjects.cpp). A key's subject secret (wrapped
  // under the root key) keys the tags that name its subjects; a subject key
  // is stored per (key, tag, version), wrapped under that version.
  Result<std::optional<std::vector<std::uint8_t>>> FindSubjectSecret(std::uint32_t key_id);
  Status InsertSubjectSecret(std::uint32_t key_id, std::span<const std::uint8_t> wrapped, TimePoint created_at);
  Result<std::vector<WrappedVersion>> ListWrappedSubjectSecrets();  // `version` is 0
  Status SetWrappedSubjectSecret(std::uint32_t key_id, std::span<const std::uint8_t> wrapped);
  Result<std::optional<std::vector<std::uint8_t>>> FindSubjectKey(std::uint32_t key_id, std::uint32_t version,
                                                                  std::span<const std::uint8_t> tag);
  Status InsertSubjectKey(std::uint32_t key_id, std::uint32_t version, std::span<const std::uint8_t> tag,
                          std::span<const std::uint8_t> wrapped, TimePoint created_at);
  Result<bool> IsShredded(std::uint32_t key_id, std::span<const std::uint8_t> tag);
  // Shred deletes every version's key of the subject (secure_delete zeroes
  // them in the page) and records the shred; returns how many keys it deleted.
  Result<std::uint64_t> Shred(std::uint32_t key_id, std::span<const std::uint8_t> tag, TimePoint now);
  // DeleteSubjectKeys deletes the subject keys of one version (on destroy).
  Status DeleteSubjectKeys(std::uint32_t key_id, std::uint32_t version);
  // SubjectCounts is (subject keys, shredded subjects) of a key.
  Result<std::pair<std::uint64_t, std::uint64_t>> SubjectCounts(std::uint32_t key_id);

  Result<AuditHead> ReadAuditHead();
  Status WriteAuditHead(const AuditHead& head);

 private:
  explicit Catalog(Database db) : db_(std::move(db)) {}
  Database db_;
};

// Micros converts a time point to microseconds since the Unix epoch (the
// catalog's time representation) and back.
std::int64_t ToMicros(TimePoint t);
TimePoint FromMicros(std::int64_t micros);

}  // namespace sovereign::keystore_internal
