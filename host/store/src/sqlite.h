// sqlite.h — a thin RAII layer over the SQLite C API, private to the store. Every failure becomes
// compaudit::Error(io) naming the database file, so callers never see a raw SQLite code.
#pragma once

#include <compaudit/error.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace compaudit::store::detail {

[[noreturn]] inline void fail(const std::string& file, const std::string& what) {
  throw Error(ErrorCode::io, what, SourceLocation{file, 0, 0});
}

/// A prepared statement. Bind by 1-based index; step() returns true while there is a row.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& file, const char* sql) : db_(db), file_(file) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      fail(file_, std::string("results store query failed (") + sqlite3_errmsg(db) + ")");
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Stmt& bind(int i, int v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Stmt& bind_blob(int i, const void* data, std::size_t bytes) {
    // A zero-length blob is stored as an empty blob, not NULL: NULL means "absent".
    return check(sqlite3_bind_blob64(stmt_, i, bytes ? data : "", bytes, SQLITE_TRANSIENT));
  }
  Stmt& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }

  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(file_, std::string("results store access failed (") + sqlite3_errmsg(db_) + ")");
  }
  /// Steps once (for statements without rows) and resets, ready for new bindings.
  void run() {
    step();
    reset();
  }
  void reset() { sqlite3_reset(stmt_); }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double f64(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  /// Copies a blob column into a vector of T (little-endian host assumed, as on every platform LibTorch supports).
  template <class T>
  std::vector<T> blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
    std::vector<T> out(bytes / sizeof(T));
    if (p && !out.empty()) std::memcpy(out.data(), p, out.size() * sizeof(T));
    return out;
  }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) fail(file_, std::string("results store bind failed (") + sqlite3_errmsg(db_) + ")");
    return *this;
  }
  sqlite3* db_;
  std::string file_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace compaudit::store::detail
