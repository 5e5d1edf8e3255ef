// The results store: opening, locking, schema, transactions. The per-table reads and writes are in tables.cpp.
#include <compaudit/version.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "lock.h"
#include "store_impl.h"

namespace compaudit::store {

namespace fs = std::filesystem;
using detail::Stmt;

namespace {

// Table definitions: see the schema comment in store.h, which must stay in step with this.
constexpr const char* kSchema = R"sql(
CREATE TABLE run(id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, pipeline_path TEXT NOT NULL,
  pipeline_toml TEXT NOT NULL, created_at TEXT NOT NULL, compaudit_version TEXT NOT NULL,
  schema_version INTEGER NOT NULL, settings TEXT NOT NULL);
CREATE TABLE arms(position INTEGER NOT NULL, name TEXT PRIMARY KEY, base_name TEXT NOT NULL, level REAL NOT NULL,
  sweep TEXT NOT NULL, steps TEXT NOT NULL, finetune_epochs INTEGER NOT NULL, reference TEXT NOT NULL);
CREATE TABLE data(id INTEGER PRIMARY KEY CHECK (id = 1), kind TEXT NOT NULL, num_classes INTEGER NOT NULL,
  class_names TEXT NOT NULL, input_shape TEXT NOT NULL);
CREATE TABLE splits(name TEXT PRIMARY KEY, position INTEGER NOT NULL, n INTEGER NOT NULL, targets BLOB NOT NULL);
CREATE TABLE thumbnails(split TEXT NOT NULL, example_id INTEGER NOT NULL, channels INTEGER NOT NULL,
  height INTEGER NOT NULL, width INTEGER NOT NULL, pixels BLOB NOT NULL, PRIMARY KEY(split, example_id));
CREATE TABLE cells(arm TEXT NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT NOT NULL, records TEXT NOT NULL, size TEXT NOT NULL,
  train_seconds REAL NOT NULL, eval_seconds REAL NOT NULL, failure TEXT NOT NULL DEFAULT '', PRIMARY KEY(arm, seed));
CREATE TABLE predictions(arm TEXT NOT NULL, seed INTEGER NOT NULL, split TEXT NOT NULL, n INTEGER NOT NULL,
  label_bytes INTEGER NOT NULL, labels BLOB NOT NULL, true_prob BLOB, num_classes INTEGER NOT NULL, probs BLOB,
  PRIMARY KEY(arm, seed, split));
CREATE TABLE metrics(metric_index INTEGER NOT NULL, metric_id TEXT NOT NULL, arm TEXT NOT NULL,
  reference TEXT NOT NULL, result TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY(metric_index, arm, reference));
CREATE TABLE memorization(split TEXT PRIMARY KEY, n INTEGER NOT NULL, scores BLOB NOT NULL);
CREATE TABLE blobs(arm TEXT NOT NULL, seed INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
  crc32 INTEGER, PRIMARY KEY(arm, seed, name));
CREATE TABLE log(id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, level TEXT NOT NULL, text TEXT NOT NULL);
)sql";

std::string store_path(const std::string& run_dir) { return (fs::path(run_dir) / kStoreFile).string(); }

// Version 1 -> 2: ALTER TABLE appends the columns, where CREATE TABLE puts them now (last), so `SELECT *` (merge.cpp)
// lines up; failed cells get the kind their text tells. One transaction: a store is either migrated or left as it was.
template <class Impl>  // Store::Impl, which is private: instantiated by Store::connect
void migrate_from_v1(Impl& impl) {
  impl.exec("BEGIN IMMEDIATE");
  try {
    impl.exec("ALTER TABLE cells ADD COLUMN failure TEXT NOT NULL DEFAULT ''; "
              "ALTER TABLE blobs ADD COLUMN crc32 INTEGER");
    std::vector<std::pair<std::pair<std::string, std::int64_t>, std::string>> failed;
    {
      Stmt q(impl.db, impl.path, "SELECT arm, seed, error FROM cells WHERE status = 'failed'");
      while (q.step()) failed.push_back({{q.text(0), q.i64(1)}, q.text(2)});
    }
    Stmt u(impl.db, impl.path, "UPDATE cells SET failure = ? WHERE arm = ? AND seed = ?");
    for (const auto& [key, error] : failed) {
      u.bind(1, to_string(classify_failure(error))).bind(2, key.first).bind(3, key.second);
      u.run();
    }
    impl.exec(fmt::format("UPDATE run SET schema_version = {0}; PRAGMA user_version = {0}", kSchemaVersion).c_str());
    impl.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(impl.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  impl.version = kSchemaVersion;
}

}  // namespace

const char* to_string(FailureKind k) noexcept {
  switch (k) {
    case FailureKind::none:
      return "";
    case FailureKind::plugin:
      return "plugin";
    case FailureKind::environment:
      return "environment";
    case FailureKind::dependency:
      return "dependency";
  }
  return "";
}

FailureKind failure_kind_from_string(const std::string& s) noexcept {
  for (auto k : {FailureKind::none, FailureKind::environment, FailureKind::dependency})
    if (s == to_string(k)) return k;
  return FailureKind::plugin;
}

FailureKind classify_failure(const std::string& error) noexcept {
  if (error.rfind("the dense model of seed ", 0) == 0) return FailureKind::dependency;
  // SQLite's texts for a full disk and I/O errors; the OS's; allocators' (std, LibTorch); isolation's (worker.cpp).
  static const char* const signs[] = {"database or disk is full", "disk I/O error", "No space left on device",
                                      "Input/output error", "Disk quota exceeded", "database is locked",
                                      "unable to open database file", "out of memory", "bad_alloc",
                                      "not enough memory", "can't allocate memory", "Cannot allocate memory",
                                      "timed out after", "killed by signal", "without committing the cell"};
  for (const char* sign : signs)
    if (error.find(sign) != std::string::npos) return FailureKind::environment;
  return FailureKind::plugin;
}

void Store::Impl::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    detail::fail(path, "results store access failed (" + text + ")");
  }
}

Store::Impl::~Impl() {
  if (db) sqlite3_close_v2(db);
  detail::release_run_lock(lock_fd);
}

const char* to_string(CellStatus s) noexcept {
  switch (s) {
    case CellStatus::pending:
      return "pending";
    case CellStatus::running:
      return "running";
    case CellStatus::done:
      return "done";
    case CellStatus::failed:
      return "failed";
  }
  return "pending";
}

std::optional<CellStatus> cell_status_from_string(const std::string& s) noexcept {
  for (auto c : {CellStatus::pending, CellStatus::running, CellStatus::done, CellStatus::failed})
    if (s == to_string(c)) return c;
  return std::nullopt;
}

bool Store::exists(const std::string& run_dir) { return fs::exists(store_path(run_dir)); }

// Opens the SQLite connection and checks that the file is a compaudit store of a schema we can read.
std::unique_ptr<Store::Impl> Store::connect(const std::string& run_dir, bool read_only, bool creating,
                                            bool take_lock) {
  auto impl = std::make_unique<Store::Impl>();
  impl->run_dir = run_dir;
  impl->path = store_path(run_dir);
  impl->read_only = read_only;
  if (!read_only && take_lock) impl->lock_fd = detail::acquire_run_lock(run_dir);
  // Checked under the lock, so two processes creating the same run cannot both succeed.
  if (creating && exists(run_dir))
    detail::fail(impl->path,
                 "a results store already exists here; resume it with `compaudit run --resume "
                 "RUN_DIR`, or choose a new run directory");
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_FULLMUTEX;
  if (creating) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(impl->path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK)
    detail::fail(impl->path, std::string("cannot open the results store (") +
                                 (impl->db ? sqlite3_errmsg(impl->db) : "out of memory") + ")");
  sqlite3_busy_timeout(impl->db, 10000);
  sqlite3_extended_result_codes(impl->db, 1);
  // The first read is where SQLite notices a file that is not a database.
  int version = 0;
  try {
    Stmt q(impl->db, impl->path, "PRAGMA user_version");
    if (q.step()) version = static_cast<int>(q.i64(0));
  } catch (const Error&) {
    detail::fail(impl->path, "not a compaudit results store (" + std::string(sqlite3_errmsg(impl->db)) + ")");
  }
  if (creating) return impl;
  if (version == 0) detail::fail(impl->path, "not a compaudit results store (no compaudit schema in the file)");
  if (version > kSchemaVersion)
    detail::fail(impl->path, fmt::format("results store has schema version {}, newer than this compaudit's {}; use "
                                         "a newer compaudit to read it",
                                         version, kSchemaVersion));
  impl->version = version;
  if (!read_only) {
    impl->exec("PRAGMA journal_mode=WAL");
    impl->exec("PRAGMA synchronous=NORMAL");
    if (version == 1) migrate_from_v1(*impl);
  }
  return impl;
}

Store Store::create(const std::string& run_dir, const RunInfo& run) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) detail::fail(run_dir, "cannot create the run directory (" + ec.message() + ")");
  // Durability (docs/isolation.md): the store is built complete under a temporary name and renamed into place, so
  // a process killed while creating it leaves no results.sqlite — the run just starts again — and never a file
  // without a schema, which neither `run` nor `run --resume` could use. The lock is held throughout.
  struct LockGuard {
    int fd;
    ~LockGuard() { detail::release_run_lock(fd); }
  } lock{detail::acquire_run_lock(run_dir)};
  if (exists(run_dir))
    detail::fail(store_path(run_dir), "a results store already exists here; resume it with `compaudit run --resume "
                                      "RUN_DIR`, or choose a new run directory");
  const std::string tmp = store_path(run_dir) + ".new";
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(tmp + suffix, ec);  // a killed create's
  {
    auto building = std::make_unique<Store::Impl>();
    building->run_dir = run_dir;
    building->path = tmp;
    if (sqlite3_open_v2(tmp.c_str(), &building->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK)
      detail::fail(tmp, std::string("cannot create the results store (") +
                            (building->db ? sqlite3_errmsg(building->db) : "out of memory") + ")");
    Store store(std::move(building));
    store.transaction([&] {
      store.impl_->exec(kSchema);
      Stmt q(store.impl_->db, store.impl_->path,
             "INSERT INTO run(id, name, pipeline_path, pipeline_toml, created_at, compaudit_version, schema_version, "
             "settings) VALUES(1, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, run.name).bind(2, run.pipeline_path).bind(3, run.pipeline_toml);
      q.bind(4, run.created_at.empty() ? now_utc() : run.created_at);
      q.bind(5, run.compaudit_version.empty() ? std::string(COMPAUDIT_SDK_VERSION_STRING) : run.compaudit_version);
      q.bind(6, kSchemaVersion);
      q.bind(7, run.settings.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      q.run();
      store.impl_->exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
    });
  }  // closed: a rollback-journal database is complete on disk once its transaction committed
  fs::rename(tmp, store_path(run_dir), ec);
  if (ec) detail::fail(store_path(run_dir), "cannot move the new results store into place (" + ec.message() + ")");
  auto impl = connect(run_dir, false, false, /*take_lock=*/false);  // sets WAL mode, like every writer
  impl->lock_fd = std::exchange(lock.fd, -1);
  return Store(std::move(impl));
}

Store Store::open(const std::string& run_dir, Access access) {
  if (!fs::is_directory(run_dir)) detail::fail(run_dir, "no such run directory");
  if (!exists(run_dir)) detail::fail(store_path(run_dir), "no results store in this run directory");
  if (access == Access::worker_of_lock_holder) {
    // The host holds the lock and waits for this worker (docs/isolation.md); check someone really holds it.
    detail::require_run_lock_held(run_dir);
    return Store(connect(run_dir, false, false, /*take_lock=*/false));
  }
  return Store(connect(run_dir, access == Access::read_only, false));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const std::string& Store::run_dir() const { return impl_->run_dir; }
const std::string& Store::path() const { return impl_->path; }

// Transactions: the outermost is BEGIN IMMEDIATE (takes the write lock up front, so it cannot fail half-way on a
// busy database); nested ones are savepoints. The mutex is held from begin() to commit()/rollback().
void Store::begin() {
  impl_->mutex.lock();
  try {
    if (impl_->read_only) detail::fail(impl_->path, "results store is open read-only");
    if (impl_->depth == 0)
      impl_->exec("BEGIN IMMEDIATE");
    else
      impl_->exec(fmt::format("SAVEPOINT sp{}", impl_->depth).c_str());
  } catch (...) {
    impl_->mutex.unlock();
    throw;
  }
  ++impl_->depth;
}

void Store::commit() {
  --impl_->depth;
  try {
    if (impl_->depth == 0)
      impl_->exec("COMMIT");
    else
      impl_->exec(fmt::format("RELEASE sp{}", impl_->depth).c_str());
  } catch (...) {
    if (impl_->depth == 0) sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    impl_->mutex.unlock();
    throw;
  }
  impl_->mutex.unlock();
}

void Store::rollback() {
  --impl_->depth;
  if (impl_->depth == 0) {
    sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
  } else {
    auto sql = fmt::format("ROLLBACK TO sp{0}; RELEASE sp{0}", impl_->depth);
    sqlite3_exec(impl_->db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  impl_->mutex.unlock();
}

}  // namespace compaudit::store
