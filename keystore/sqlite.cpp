#include "keystore/internal/sqlite.hpp"

#include <sqlite3.h>

#include <string>
#include <unordered_map>

#include <fmt/format.h>

namespace sovereign::keystore_internal {
namespace {
constexpr int kBusyTimeoutMs = 10000;
}  // namespace

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = fmt::format("catalog: {}: {}", what, detail);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return Status(ErrorCode::kKeystoreUnavailable, std::move(message));
    default:
      return Status(ErrorCode::kInternal, std::move(message));
  }
}

// StatementCache holds the idle prepared statements of one connection, by SQL text.
class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  ~StatementCache() {
    for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  }

  // Take removes and returns an idle statement for `sql`, or null.
  sqlite3_stmt* Take(std::string_view sql) {
    auto it = idle_.find(std::string(sql));
    if (it == idle_.end()) return nullptr;
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);
    return stmt;
  }

  // Return resets `stmt` and keeps it for reuse (or finalizes it when an
  // equal statement is already idle).
  void Return(sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    auto [it, inserted] = idle_.try_emplace(sqlite3_sql(stmt), stmt);
    if (!inserted) sqlite3_finalize(stmt);
  }

 private:
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
};

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (cache_ != nullptr) {
    cache_->Return(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), cache_(other.cache_), bind_rc_(other.bind_rc_) {
  other.stmt_ = nullptr;
}

Statement& Statement::Bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const std::uint8_t> blob) {
  // A zero-length blob must still bind as a blob, not NULL: pass a non-null pointer.
  static const std::uint8_t kEmpty = 0;
  int rc = sqlite3_bind_blob64(stmt_, index, blob.empty() ? &kEmpty : blob.data(), blob.size(), SQLITE_TRANSIENT);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return SqliteStatus(db_, bind_rc_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, sqlite3_sql(stmt_));
}

Status Statement::Run() {
  auto row = Step();
  if (!row.ok()) return row.status();
  return OkStatus();
}

std::int64_t Statement::ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Statement::ColumnText(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

std::vector<std::uint8_t> Statement::ColumnBlob(int index) const {
  const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index));
  if (blob == nullptr) return {};
  return std::vector<std::uint8_t>(blob, blob + size);
}

bool Statement::ColumnIsNull(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

void Database::Closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

Database::Database(sqlite3* db) : db_(db), cache_(std::make_unique<StatementCache>()) {}

Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Result<Database> Database::Open(const std::filesystem::path& path, bool create) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the keystore serialises use of the connection itself.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(raw, rc, fmt::format("cannot open {}", path.string()));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  SOVEREIGN_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON"));
  // journal_mode returns a row; WAL lets readers proceed while one process writes.
  auto wal = db.Prepare("PRAGMA journal_mode = WAL");
  if (!wal.ok()) return wal.status();
  auto row = wal->Step();
  if (!row.ok()) return row.status();
  if (!*row || wal->ColumnText(0) != "wal") {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("catalog {}: cannot switch to WAL mode", path.string()));
  }
  SOVEREIGN_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = FULL"));
  // A reset WAL is cut to nothing rather than overwritten from its start, so
  // frames of destroyed key material do not linger in its tail.
  SOVEREIGN_RETURN_IF_ERROR(db.Exec("PRAGMA journal_size_limit = 0"));
  // Deleted or overwritten content (a destroyed version's wrapped secret) is
  // zeroed in the page rather than left in free space.
  SOVEREIGN_RETURN_IF_ERROR(db.Exec("PRAGMA secure_delete = ON"));
  return db;
}

Status Database::Exec(std::string_view sql) {
  std::string owned(sql);
  int rc = sqlite3_exec(db_.get(), owned.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_.get(), rc, sql);
  return OkStatus();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  if (sqlite3_stmt* cached = cache_->Take(sql)) return Statement(db_.get(), cached, cache_.get());
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(db_.get(), rc, sql);
  }
  // Only a whole, single statement is cached: its text is the cache key.
  if (stmt == nullptr || std::string_view(sqlite3_sql(stmt)) != sql) return Statement(db_.get(), stmt);
  return Statement(db_.get(), stmt, cache_.get());
}

Result<Transaction> Transaction::BeginImmediate(Database& db) {
  SOVEREIGN_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Result<Transaction> Transaction::BeginRead(Database& db) {
  SOVEREIGN_RETURN_IF_ERROR(db.Exec("BEGIN DEFERRED"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr && sqlite3_get_autocommit(db_->handle()) == 0) {
    (void)db_->Exec("ROLLBACK");
  }
}

Status Transaction::Commit() {
  Database* db = db_;
  db_ = nullptr;
  Status status = db->Exec("COMMIT");
  // A failed COMMIT may leave the transaction open: make sure it ends.
  if (!status.ok() && sqlite3_get_autocommit(db->handle()) == 0) (void)db->Exec("ROLLBACK");
  return status;
}

std::int64_t Database::Changes() const noexcept { return sqlite3_changes64(db_.get()); }

}  // namespace sovereign::keystore_internal
