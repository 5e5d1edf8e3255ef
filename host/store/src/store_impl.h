// store_impl.h — Store's private state, shared by store.cpp (open, schema, transactions) and tables.cpp.
#pragma once

#include <compaudit/store/store.h>

#include <mutex>

#include "sqlite.h"

namespace compaudit::store {

struct Store::Impl {
  sqlite3* db = nullptr;
  std::string run_dir, path;
  bool read_only = false;
  int lock_fd = -1;
  int depth = 0;               ///< Transaction nesting depth (0: none open).
  int version = kSchemaVersion;  ///< The file's schema; below kSchemaVersion only when opened read-only (v1 reads).
  std::recursive_mutex mutex;  ///< Serializes every call; transaction() holds it throughout.
  void exec(const char* sql);
  ~Impl();
};

namespace detail {
/// Library-internal access to a Store's connection, for whole-table work such as merging shard stores (merge.cpp).
struct RawAccess {
  static Store::Impl& impl(Store& s) { return *s.impl_; }
};
}  // namespace detail

}  // namespace compaudit::store
