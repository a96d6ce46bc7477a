// A thin RAII layer over the SQLite C API: a connection, prepared statements
// and transactions, with every SQLite failure turned into a Status.
//
// Thread safety: none. The keystore guards its one connection with a mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace sovereign::keystore_internal {

// SqliteStatus maps an SQLite result code: busy, locked, I/O, full and
// can't-open are kKeystoreUnavailable (retrying or fixing the disk may help);
// everything else is kInternal. The message carries sqlite3_errmsg.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

class StatementCache;

// Statement is one prepared statement. A statement from Database::Prepare
// goes back to its database's cache when destroyed (reset, bindings
// cleared), so a hot query is parsed once per connection.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, StatementCache* cache = nullptr) : db_(db), stmt_(stmt), cache_(cache) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind* bind parameter `index` (1-based).
  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::span<const std::uint8_t> blob);

  // Step returns true when a row is available, false when done.
  Result<bool> Step();
  // Run steps a statement that returns no rows.
  Status Run();

  std::int64_t ColumnInt(int index) const;
  std::string ColumnText(int index) const;
  std::vector<std::uint8_t> ColumnBlob(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  StatementCache* cache_;  // where the statement returns to; null: finalize
  int bind_rc_ = 0;        // first bind failure, reported by Step
};

class Database {
 public:
  // Open opens `path` read-write with foreign keys on, WAL mode, a busy
  // timeout, synchronous=FULL (an audit head commit must survive power
  // loss) and secure_delete on (freed and overwritten bytes are zeroed).
  // With `create` the file may be created (it must already exist with
  // the right mode: see CreatePrivateFile); without, a missing file is an error.
  static Result<Database> Open(const std::filesystem::path& path, bool create);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  Status Exec(std::string_view sql);
  // Prepare returns a statement for `sql`, reusing a cached one when the same
  // text was prepared before and is not in use.
  Result<Statement> Prepare(std::string_view sql);
  sqlite3* handle() const noexcept { return db_.get(); }
  // Changes is how many rows the last INSERT, UPDATE or DELETE changed.
  std::int64_t Changes() const noexcept;

 private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept;
  };
  explicit Database(sqlite3* db);
  std::unique_ptr<sqlite3, Closer> db_;
  // Declared after db_ so it is destroyed (its statements finalized) first.
  std::unique_ptr<StatementCache> cache_;
};

// Transaction rolls back on destruction unless committed.
class Transaction {
 public:
  // BeginImmediate takes SQLite's write lock now (waiting up to the busy
  // timeout), so the transaction is serialised against every other writer,
  // in this process or another.
  static Result<Transaction> BeginImmediate(Database& db);
  // BeginRead starts a deferred transaction: a consistent snapshot for reads.
  static Result<Transaction> BeginRead(Database& db);

  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace sovereign::keystore_internal
