#include "keystore/internal/catalog.hpp"

#include <fmt/format.h>

#include "keystore/internal/posix_file.hpp"

namespace sovereign::keystore_internal {
namespace {

// Ids are u32 on the wire (envelopes carry key and label ids): the CHECKs
// keep the catalog from ever holding one that cannot be encoded.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  region TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  root_key_check BLOB NOT NULL,
  wrapped_audit_key BLOB NOT NULL
);
CREATE TABLE keys (
  id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295),
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  primary_version INTEGER NOT NULL CHECK (primary_version >= 1),
  min_decrypt_version INTEGER NOT NULL DEFAULT 1 CHECK (min_decrypt_version >= 1)
);
CREATE TABLE key_versions (
  key_id INTEGER NOT NULL REFERENCES keys(id),
  version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
  state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'retired', 'destroyed')),
  created_at INTEGER NOT NULL,
  wrapped BLOB,
  issues INTEGER NOT NULL DEFAULT 0,
  random_issues INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  CHECK ((state = 'destroyed') = (wrapped IS NULL)),
  PRIMARY KEY (key_id, version)
) WITHOUT ROWID;
CREATE TABLE labels (
  id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295),
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL CHECK (seq >= 0),
  hash TEXT NOT NULL
);
)sql";

// Schema version 3: per-subject keys (docs/keystore.md). Applied by Create
// after kSchema and by the migration from version 2.
constexpr std::string_view kSubjectSchema = R"sql(
CREATE TABLE subject_secrets (
  key_id INTEGER PRIMARY KEY REFERENCES keys(id),
  wrapped BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE subject_keys (
  key_id INTEGER NOT NULL,
  tag BLOB NOT NULL CHECK (length(tag) = 16),
  version INTEGER NOT NULL,
  wrapped BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (key_id, tag, version),
  FOREIGN KEY (key_id, version) REFERENCES key_versions(key_id, version)
) WITHOUT ROWID;
CREATE TABLE subject_shreds (
  key_id INTEGER NOT NULL REFERENCES keys(id),
  tag BLOB NOT NULL CHECK (length(tag) = 16),
  shredded_at INTEGER NOT NULL,
  PRIMARY KEY (key_id, tag)
) WITHOUT ROWID;
)sql";

Result<KeyVersionState> ParseState(std::string_view name) {
  for (auto state : {KeyVersionState::kEnabled, KeyVersionState::kDisabled, KeyVersionState::kRetired,
                     KeyVersionState::kDestroyed}) {
    if (KeyVersionStateName(state) == name) return state;
  }
  return Status(ErrorCode::kInternal, fmt::format("catalog: unknown key version state '{}'", name));
}

KeyRow ReadKeyRow(const Statement& s) {
  KeyRow row;
  row.id = static_cast<std::uint32_t>(s.ColumnInt(0));
  row.name = s.ColumnText(1);
  row.created_at = FromMicros(s.ColumnInt(2));
  row.primary_version = static_cast<std::uint32_t>(s.ColumnInt(3));
  row.min_decrypt_version = static_cast<std::uint32_t>(s.ColumnInt(4));
  return row;
}

Result<KeyVersionRow> ReadVersionRow(const Statement& s) {
  KeyVersionRow row;
  row.version = static_cast<std::uint32_t>(s.ColumnInt(0));
  auto state = ParseState(s.ColumnText(1));
  if (!state.ok()) return state.status();
  row.state = *state;
  row.created_at = FromMicros(s.ColumnInt(2));
  if (!s.ColumnIsNull(3)) row.wrapped = s.ColumnBlob(3);
  row.issues = static_cast<std::uint64_t>(s.ColumnInt(4));
  row.random_issues = static_cast<std::uint64_t>(s.ColumnInt(5));
  if (!s.ColumnIsNull(6)) row.last_used_at = FromMicros(s.ColumnInt(6));
  return row;
}

constexpr std::string_view kKeyColumns = "id, name, created_at, primary_version, min_decrypt_version";
constexpr std::string_view kVersionColumns =
    "version, state, created_at, wrapped, issues, random_issues, last_used_at";

// Migrate brings a version 1 or 2 catalog to the current schema in one
// transaction, re-reading the version under the write lock so that a
// concurrent opener's migration is not applied twice. Version 2 added the
// usage columns; version 3 the per-subject key tables.
Status Migrate(Database& db) {
  auto tx = Transaction::BeginImmediate(db);
  if (!tx.ok()) return tx.status();
  std::int64_t version = 0;
  {
    auto s = db.Prepare("SELECT schema_version FROM meta WHERE id = 1");
    if (!s.ok()) return s.status();
    auto row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status(ErrorCode::kFailedPrecondition, "catalog has no meta row");
    version = s->ColumnInt(0);
  }
  if (version == kCatalogSchemaVersion) return OkStatus();
  if (version == 1) {
    SOVEREIGN_RETURN_IF_ERROR(db.Exec(
        "ALTER TABLE key_versions ADD COLUMN issues INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE key_versions ADD COLUMN random_issues INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE key_versions ADD COLUMN last_used_at INTEGER;"));
  }
  SOVEREIGN_RETURN_IF_ERROR(db.Exec(kSubjectSchema));
  SOVEREIGN_RETURN_IF_ERROR(db.Exec(fmt::format("UPDATE meta SET schema_version = {} WHERE id = 1;",
                                                kCatalogSchemaVersion)));
  return tx->Commit();
}

Result<std::optional<KeyRow>> QueryOneKey(Database& db, std::string_view where, auto bind) {
  auto s = db.Prepare(fmt::format("SELECT {} FROM keys WHERE {}", kKeyColumns, where));
  if (!s.ok()) return s.status();
  bind(*s);
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<KeyRow>();
  return std::optional<KeyRow>(ReadKeyRow(*s));
}

}  // namespace

std::int64_t ToMicros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint FromMicros(std::int64_t micros) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(micros)));
}

Result<Catalog> Catalog::Create(const std::filesystem::path& path, const CatalogMeta& meta) {
  {
    auto fd = CreatePrivateFile(path);
    if (!fd.ok()) return fd.status();
  }
  auto db = Database::Open(path, /*create=*/false);
  if (!db.ok()) return db.status();
  Catalog catalog(std::move(db).value());
  auto tx = Transaction::BeginImmediate(catalog.db_);
  if (!tx.ok()) return tx.status();
  SOVEREIGN_RETURN_IF_ERROR(catalog.db_.Exec(kSchema));
  SOVEREIGN_RETURN_IF_ERROR(catalog.db_.Exec(kSubjectSchema));
  auto s = catalog.db_.Prepare(
      "INSERT INTO meta (id, schema_version, region, created_at, root_key_check, wrapped_audit_key) "
      "VALUES (1, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->Bind(1, meta.schema_version).Bind(2, meta.region).Bind(3, ToMicros(meta.created_at));
  s->BindBlob(4, meta.root_key_check).BindBlob(5, meta.wrapped_audit_key);
  SOVEREIGN_RETURN_IF_ERROR(s->Run());
  SOVEREIGN_RETURN_IF_ERROR(catalog.WriteAuditHead(AuditHead{0, kGenesisHash}));
  SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
  return catalog;
}

Result<Catalog> Catalog::Open(const std::filesystem::path& path) {
  auto db = Database::Open(path, /*create=*/false);
  if (!db.ok()) return db.status();
  Catalog catalog(std::move(db).value());
  std::int64_t version = 0;
  {
    auto s = catalog.db_.Prepare("SELECT schema_version FROM meta WHERE id = 1");
    if (!s.ok()) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("{} is not a Sovereign catalog ({})", path.string(), s.status().message()));
    }
    auto row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) {
      return Status(ErrorCode::kFailedPrecondition, fmt::format("catalog {} has no meta row", path.string()));
    }
    version = s->ColumnInt(0);
  }
  if (version == 1 || version == 2) {
    SOVEREIGN_RETURN_IF_ERROR(Migrate(catalog.db_));
    return catalog;
  }
  if (version != kCatalogSchemaVersion) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("catalog {} has schema version {}; this build supports {}", path.string(), version,
                              kCatalogSchemaVersion));
  }
  return catalog;
}

Result<CatalogMeta> Catalog::ReadMeta() {
  auto s = db_.Prepare(
      "SELECT schema_version, region, created_at, root_key_check, wrapped_audit_key FROM meta WHERE id = 1");
  if (!s.ok()) return s.status();
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kFailedPrecondition, "catalog has no meta row");
  CatalogMeta meta;
  meta.schema_version = s->ColumnInt(0);
  meta.region = s->ColumnText(1);
  meta.created_at = FromMicros(s->ColumnInt(2));
  meta.root_key_check = s->ColumnBlob(3);
  meta.wrapped_audit_key = s->ColumnBlob(4);
  return meta;
}

Result<std::optional<KeyRow>> Catalog::FindKey(std::string_view name) {
  return QueryOneKey(db_, "name = ?", [&](Statement& s) { s.Bind(1, name); });
}

Result<std::optional<KeyRow>> Catalog::FindKey(std::uint32_t id) {
  return QueryOneKey(db_, "id = ?", [&](Statement& s) { s.Bind(1, std::int64_t{id}); });
}

Result<std::vector<KeyRow>> Catalog::ListKeys() {
  auto s = db_.Prepare(fmt::format("SELECT {} FROM keys ORDER BY id", kKeyColumns));
  if (!s.ok()) return s.status();
  std::vector<KeyRow> out;
  for (;;) {
    auto row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(ReadKeyRow(*s));
  }
}

Result<std::vector<KeyVersionRow>> Catalog::ListVersions(std::uint32_t key_id) {
  auto s = db_.Prepare(fmt::format("SELECT {} FROM key_versions WHERE key_id = ? ORDER BY version", kVersionColumns));
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id});
  std::vector<KeyVersionRow> out;
  for (;;) {
    auto row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    auto version = ReadVersionRow(*s);
    if (!version.ok()) return version.status();
    out.push_back(std::move(version).value());
  }
}

Result<std::optional<KeyVersionRow>> Catalog::FindVersion(std::uint32_t key_id, std::uint32_t version) {
  auto s = db_.Prepare(fmt::format("SELECT {} FROM key_versions WHERE key_id = ? AND version = ?", kVersionColumns));
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).Bind(2, std::int64_t{version});
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<KeyVersionRow>();
  auto parsed = ReadVersionRow(*s);
  if (!parsed.ok()) return parsed.status();
  return std::optional<KeyVersionRow>(std::move(parsed).value());
}

Result<std::uint32_t> Catalog::InsertKey(std::string_view name, TimePoint created_at) {
  auto s = db_.Prepare(
      "INSERT INTO keys (id, name, created_at, primary_version, min_decrypt_version) "
      "SELECT COALESCE(MAX(id), 0) + 1, ?, ?, 1, 1 FROM keys RETURNING id");
  if (!s.ok()) return s.status();
  s->Bind(1, name).Bind(2, ToMicros(created_at));
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kInternal, "catalog: INSERT INTO keys returned no id");
  return static_cast<std::uint32_t>(s->ColumnInt(0));
}

Status Catalog::InsertVersion(std::uint32_t key_id, std::uint32_t version, TimePoint created_at,
                              std::span<const std::uint8_t> wrapped) {
  auto s = db_.Prepare(
      "INSERT INTO key_versions (key_id, version, state, created_at, wrapped) VALUES (?, ?, 'enabled', ?, ?)");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).Bind(2, std::int64_t{version}).Bind(3, ToMicros(created_at)).BindBlob(4, wrapped);
  return s->Run();
}

Result<std::uint32_t> Catalog::MaxVersion(std::uint32_t key_id) {
  auto s = db_.Prepare("SELECT COALESCE(MAX(version), 0) FROM key_versions WHERE key_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id});
  auto row = s->Step();
  if (!row.ok()) return row.status();
  return static_cast<std::uint32_t>(s->ColumnInt(0));
}

Status Catalog::SetPrimaryVersion(std::uint32_t key_id, std::uint32_t version) {
  auto s = db_.Prepare("UPDATE keys SET primary_version = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{version}).Bind(2, std::int64_t{key_id});
  return s->Run();
}

Result<std::optional<std::uint32_t>> Catalog::FindLabelId(std::string_view name) {
  auto s = db_.Prepare("SELECT id FROM labels WHERE name = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, name);
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::uint32_t>();
  return std::optional<std::uint32_t>(static_cast<std::uint32_t>(s->ColumnInt(0)));
}

Result<std::optional<std::string>> Catalog::FindLabelName(std::uint32_t id) {
  auto s = db_.Prepare("SELECT name FROM labels WHERE id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{id});
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->ColumnText(0));
}

Result<std::uint32_t> Catalog::InsertLabel(std::string_view name, TimePoint created_at) {
  auto s = db_.Prepare(
      "INSERT INTO labels (id, name, created_at) SELECT COALESCE(MAX(id), 0) + 1, ?, ? FROM labels RETURNING id");
  if (!s.ok()) return s.status();
  s->Bind(1, name).Bind(2, ToMicros(created_at));
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kInternal, "catalog: INSERT INTO labels returned no id");
  return static_cast<std::uint32_t>(s->ColumnInt(0));
}

Result<AuditHead> Catalog::ReadAuditHead() {
  auto s = db_.Prepare("SELECT seq, hash FROM audit_head WHERE id = 1");
  if (!s.ok()) return s.status();
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kFailedPrecondition, "catalog has no audit head row");
  return AuditHead{static_cast<std::uint64_t>(s->ColumnInt(0)), s->ColumnText(1)};
}

Status Catalog::WriteAuditHead(const AuditHead& head) {
  auto s = db_.Prepare("INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?, ?)");
  if (!s.ok()) return s.status();
  s->Bind(1, static_cast<std::int64_t>(head.seq)).Bind(2, head.hash);
  return s->Run();
}

}  // namespace sovereign::keystore_internal
