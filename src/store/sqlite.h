// store/sqlite.h: a thin RAII layer over SQLite3 for LocalStore (private to src/store).
//
//   Sqlite db(path);                       // throws InputError naming the path if not a database
//   auto st = db.prepare("SELECT n FROM t WHERE name=?");
//   st.bind(1, name);
//   while (st.step()) use(st.int64(0));
//
// Errors become QueryError with SQLSTATE "SQLITE_<code>" and the statement. Not thread-safe:
// callers serialise access to one Sqlite (LocalStore holds a mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace ragperf::store {

class Sqlite;

class Statement {
 public:
  Statement(const Sqlite* owner, sqlite3* db, sqlite3_stmt* stmt, std::string sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  void bind(int index, std::string_view text);
  void bind(int index, int64_t value);
  void bind_double(int index, double value);
  void bind_blob(int index, std::span<const float> values);
  /// Steps once: true while a row is available, false when done. Throws QueryError on failure.
  bool step();
  /// Steps to completion (for statements without rows).
  void run();
  void reset();

  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  /// The blob as floats; `count` receives the number of floats (bytes / 4).
  const float* floats(int column, size_t* count) const;
  bool is_null(int column) const;

 private:
  const Sqlite* owner_;
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

class Sqlite {
 public:
  /// Opens (creating) the database at `path` and checks that it is readable as SQLite.
  explicit Sqlite(const std::filesystem::path& path);
  ~Sqlite();
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t changes() const;
  int64_t last_insert_rowid() const;
  const std::filesystem::path& path() const { return path_; }

  /// Throws the right ragperf error for `rc` (InputError naming the file when it is not a
  /// database or is corrupt, QueryError otherwise).
  [[noreturn]] void fail(int rc, const std::string& sql) const;

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// RAII transaction: BEGIN IMMEDIATE on construction, ROLLBACK unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Sqlite& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Sqlite& db_;
  bool done_ = false;
};

}  // namespace ragperf::store
