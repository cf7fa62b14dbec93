// store/sqlite.cpp: see sqlite.h.
#include "store/sqlite.h"

#include <cstring>
#include <utility>

#include "ragperf/error.h"

namespace ragperf::store {
namespace {

std::string code_name(int rc) {
  const char* s = sqlite3_errstr(rc);
  return "SQLITE_" + std::to_string(rc & 0xff) + " " + (s ? s : "");
}

}  // namespace

Statement::Statement(const Sqlite* owner, sqlite3* db, sqlite3_stmt* stmt, std::string sql)
    : owner_(owner), db_(db), stmt_(stmt), sql_(std::move(sql)) {}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : owner_(other.owner_),
      db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)) {}

void Statement::bind(int index, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw QueryError(code_name(rc), sqlite3_errmsg(db_), sql_);
}

void Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) throw QueryError(code_name(rc), sqlite3_errmsg(db_), sql_);
}

void Statement::bind_double(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) throw QueryError(code_name(rc), sqlite3_errmsg(db_), sql_);
}

void Statement::bind_blob(int index, std::span<const float> values) {
  int rc = sqlite3_bind_blob(stmt_, index, values.data(), static_cast<int>(values.size_bytes()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw QueryError(code_name(rc), sqlite3_errmsg(db_), sql_);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  owner_->fail(rc, sql_);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::real(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  int n = sqlite3_column_bytes(stmt_, column);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

const float* Statement::floats(int column, size_t* count) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  *count = static_cast<size_t>(n) / sizeof(float);
  return static_cast<const float*>(p);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Sqlite::Sqlite(const std::filesystem::path& path) : path_(path) {
  int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError("cannot open local store " + path.string() + ": " + msg +
                     "; check the folder's permissions or set RAGPERF_HOME elsewhere");
  }
  sqlite3_busy_timeout(db_, 10000);
  sqlite3_extended_result_codes(db_, 1);
  try {
    // Reading the schema is the first access: it fails here for a file that is not SQLite.
    exec("PRAGMA schema_version");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Sqlite::~Sqlite() {
  if (db_) sqlite3_close_v2(db_);
}

void Sqlite::fail(int rc, const std::string& sql) const {
  int primary = rc & 0xff;
  std::string msg = sqlite3_errmsg(db_);
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    throw InputError("local store file " + path_.string() + " is not a usable SQLite database (" +
                     msg +
                     "); move it aside (the store is recreated empty) or restore it from a "
                     "backup");
  }
  throw QueryError(code_name(rc), msg + " (local store " + path_.string() + ")", sql);
}

void Sqlite::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) fail(rc, sql);
}

Statement Sqlite::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, sql);
  return Statement(this, db_, stmt, sql);
}

int64_t Sqlite::changes() const {
  return sqlite3_changes64(db_);
}

int64_t Sqlite::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

Transaction::Transaction(Sqlite& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // The transaction is gone already (e.g. the connection failed); nothing to undo.
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace ragperf::store
