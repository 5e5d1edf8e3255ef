// Issue 14, through the real engine library: nothing lost, nothing silently wrong on resume and export.
//   item 2  a full disk (an SQLite VFS of this test that answers SQLITE_FULL; no hook in the product) fails cells
//           as the environment's failures, which --resume computes again; a plugin's own failure stays failed
//           unless --retry-failed;
//   item 4  `export -o RUN/results.sqlite` (or a name whose card would be report.json) is refused, the run intact;
//   item 5  `run -o` onto a directory of other files (a report.json, no store) is refused, the files untouched;
//   item 6  a data file changed between a partial run and --resume is refused, naming the file (exit 4);
//   item 7  48 XOR-ed bytes in a stored model are caught by its CRC-32: export refuses it and resume recomputes it.
#include "engine_lib.h"
#include "run_fingerprint.h"
#include "test_helpers.h"

#include "support/digits_audit.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace compaudit;
namespace fs = std::filesystem;

namespace {

using test_support::kDigitsCsv;

// --- a disk that fills up: an SQLite VFS wrapping the default one --------------------------------------------------
// Writes to the write-ahead log of a store under `watched` are counted; once `budget` bytes are written, the next
// `refusals` writes answer SQLITE_FULL ("database or disk is full"), as a full file system does, after which space
// is "freed". With `min_burst` > 0 only a write of a large transaction is refused (at least that many WAL frames
// since the last shared-memory lock): a cell's commit, never the small writes around it, so the case is
// deterministic.
struct DiskFull {
  std::string watched;
  std::atomic<long long> written{0};
  std::atomic<long long> budget{-1};  // < 0: never full
  std::atomic<long long> refusals{0};
  std::atomic<int> min_burst{0};
  std::atomic<int> burst{0};  // WAL frames written since the last xShmLock (transaction boundaries)
} g_disk;

struct FaultFile {
  sqlite3_file base;
  bool watched;  // the WAL of a store under g_disk.watched
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};
sqlite3_vfs* g_real_vfs = nullptr;

FaultFile* F(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f); }
sqlite3_file* R(sqlite3_file* f) { return F(f)->real(); }

int f_close(sqlite3_file* f) { return R(f)->pMethods->xClose(R(f)); }
int f_read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return R(f)->pMethods->xRead(R(f), b, n, o); }
int f_write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  if (F(f)->watched) {
    ++g_disk.burst;
    if (g_disk.budget >= 0 && g_disk.written >= g_disk.budget && g_disk.refusals > 0 &&
        g_disk.burst >= g_disk.min_burst) {
      --g_disk.refusals;
      return SQLITE_FULL;
    }
    g_disk.written += n;
  }
  return R(f)->pMethods->xWrite(R(f), b, n, o);
}
int f_truncate(sqlite3_file* f, sqlite3_int64 s) { return R(f)->pMethods->xTruncate(R(f), s); }
int f_sync(sqlite3_file* f, int flags) { return R(f)->pMethods->xSync(R(f), flags); }
int f_size(sqlite3_file* f, sqlite3_int64* s) { return R(f)->pMethods->xFileSize(R(f), s); }
int f_lock(sqlite3_file* f, int l) { return R(f)->pMethods->xLock(R(f), l); }
int f_unlock(sqlite3_file* f, int l) { return R(f)->pMethods->xUnlock(R(f), l); }
int f_reserved(sqlite3_file* f, int* r) { return R(f)->pMethods->xCheckReservedLock(R(f), r); }
int f_control(sqlite3_file* f, int op, void* a) { return R(f)->pMethods->xFileControl(R(f), op, a); }
int f_sector(sqlite3_file* f) { return R(f)->pMethods->xSectorSize(R(f)); }
int f_device(sqlite3_file* f) { return R(f)->pMethods->xDeviceCharacteristics(R(f)); }
int f_shm_map(sqlite3_file* f, int i, int sz, int ext, void volatile** p) {
  return R(f)->pMethods->xShmMap(R(f), i, sz, ext, p);
}
int f_shm_lock(sqlite3_file* f, int o, int n, int flags) {
  g_disk.burst = 0;
  return R(f)->pMethods->xShmLock(R(f), o, n, flags);
}
void f_shm_barrier(sqlite3_file* f) { R(f)->pMethods->xShmBarrier(R(f)); }
int f_shm_unmap(sqlite3_file* f, int del) { return R(f)->pMethods->xShmUnmap(R(f), del); }
int f_fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return R(f)->pMethods->xFetch(R(f), o, n, p); }
int f_unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) { return R(f)->pMethods->xUnfetch(R(f), o, p); }

const sqlite3_io_methods kFaultIo = {3,          f_close,    f_read,        f_write,     f_truncate, f_sync,
                                     f_size,     f_lock,     f_unlock,      f_reserved,  f_control,  f_sector,
                                     f_device,   f_shm_map,  f_shm_lock,    f_shm_barrier, f_shm_unmap, f_fetch,
                                     f_unfetch};

int f_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  FaultFile* f = F(file);
  f->base.pMethods = nullptr;
  const int rc = g_real_vfs->xOpen(g_real_vfs, name, f->real(), flags, out_flags);
  if (rc != SQLITE_OK || !f->real()->pMethods) return rc;
  const std::string path = name ? name : "";
  f->watched = !g_disk.watched.empty() && path.rfind(g_disk.watched, 0) == 0 && path.size() > 4 &&
               path.compare(path.size() - 4, 4, "-wal") == 0;
  f->base.pMethods = &kFaultIo;
  return rc;
}

/// Installs the VFS as SQLite's default (the store opens with the default VFS; SQLite is one shared library).
void install_disk_full_vfs() {
  static sqlite3_vfs vfs = [] {
    g_real_vfs = sqlite3_vfs_find(nullptr);
    sqlite3_vfs v = *g_real_vfs;
    v.zName = "compaudit-test-disk-full";
    v.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real_vfs->szOsFile;
    v.xOpen = f_open;
    return v;
  }();
  static const int registered = sqlite3_vfs_register(&vfs, /*makeDflt=*/1);
  REQUIRE(registered == SQLITE_OK);
}

// --- runs ------------------------------------------------------------------------------------------------------------

std::string digits_pipeline(const std::string& train = kDigitsCsv, const std::string& extra_arm = "") {
  test_support::DigitsAudit audit;
  audit.name = "integrity";
  audit.arms += extra_arm;
  audit.metrics = {"top1", "pie"};
  audit.tables = "\n[report]\nformats = [\"json\"]\n";
  std::string text = audit.toml();
  if (train != kDigitsCsv) text.replace(text.find(kDigitsCsv), kDigitsCsv.size(), train);
  return text;
}

int run(const std::string& pipeline, const fs::path& run_dir, bool resume = false, bool retry_failed = false) {
  host::RunRequest r = engine_test::pipeline_request(pipeline, run_dir.string(), resume);
  r.retry_failed = retry_failed;
  return engine_test::engine().run(r);
}

/// Runs f with this process's stderr going to a file; returns what was written there.
template <class F>
std::string stderr_of(F&& f) {
  const fs::path file = fs::temp_directory_path() / ("compaudit-stderr-" + std::to_string(::getpid()));
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, 2);
  ::close(fd);
  try {
    f();
  } catch (...) {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Whole {
  fs::path dir;
  std::string pipeline;
  std::string fingerprint;
  long long bytes = 0;  // written into the store by the whole run
};

/// One uninterrupted run of the pipeline, the reference of every case here.
const Whole& whole() {
  static const Whole w = [] {
    install_disk_full_vfs();
    Whole x;
    // One directory per test process: ctest runs these cases in parallel, each process with its own reference run.
    x.dir = engine_test::scratch_dir("resume-integrity-" + std::to_string(::getpid()));
    x.pipeline = (x.dir / "pipeline.toml").string();
    engine_test::write_text(x.pipeline, digits_pipeline());
    g_disk.watched = (x.dir / "whole").string();
    g_disk.written = 0;
    if (run(x.pipeline, x.dir / "whole") != host::exit_ok) throw std::runtime_error("the uninterrupted run failed");
    x.bytes = g_disk.written;
    g_disk.watched.clear();
    x.fingerprint = engine_test::fingerprint((x.dir / "whole").string());
    return x;
  }();
  return w;
}

// The raw SQLite handle of a store file, for damaging it the way a disk or a hand would.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const fs::path& file) { REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK); }
  ~RawDb() { sqlite3_close(db); }
};

/// XORs 48 bytes in the middle of a stored blob (what the issue did by hand).
void corrupt_blob(const fs::path& run_dir, const std::string& arm, std::int64_t seed) {
  RawDb raw(run_dir / "results.sqlite");
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(raw.db, "SELECT data FROM blobs WHERE arm = ? AND seed = ? AND name = 'state'", -1, &q, nullptr);
  sqlite3_bind_text(q, 1, arm.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 2, seed);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(q, 0));
  std::vector<std::uint8_t> bytes(p, p + sqlite3_column_bytes(q, 0));
  sqlite3_finalize(q);
  REQUIRE(bytes.size() > 200);
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 48; ++i) bytes[i] ^= 0x5a;
  sqlite3_prepare_v2(raw.db, "UPDATE blobs SET data = ? WHERE arm = ? AND seed = ? AND name = 'state'", -1, &q,
                     nullptr);
  sqlite3_bind_blob(q, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, arm.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 3, seed);
  REQUIRE(sqlite3_step(q) == SQLITE_DONE);
  sqlite3_finalize(q);
  char* msg = nullptr;
  REQUIRE(sqlite3_exec(raw.db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, &msg) == SQLITE_OK);
}

/// Runs the pipeline into a new `run_dir` on a disk that is full once half the whole run's bytes are written
/// (DiskFull), for `refusals` writes; the disk is empty again when it returns.
int run_on_full_disk(const Whole& w, const fs::path& run_dir, long long refusals, int min_burst) {
  fs::remove_all(run_dir);
  g_disk.watched = run_dir.string();
  g_disk.written = 0;
  g_disk.refusals = refusals;
  g_disk.min_burst = min_burst;
  g_disk.budget = w.bytes / 2;
  const int rc = run(w.pipeline, run_dir);
  g_disk.budget = -1;
  g_disk.watched.clear();
  return rc;
}

}  // namespace

TEST_CASE("A disk that fills up fails cells as the environment's, and --resume computes them again",
          "[engine][resume][disk-full]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const Whole& w = whole();
  REQUIRE(w.bytes > 0);

  SECTION("full for a moment: the commit fails, the cell is failed (disk full), the run ends with exit 1") {
    const fs::path run_dir = w.dir / "full-once";
    // One refused write, in a cell's commit (model state and predictions), not start_cell's one-page write.
    const int rc = run_on_full_disk(w, run_dir, /*refusals=*/1, /*min_burst=*/4);
    CHECK(g_disk.refusals == 0);  // the disk really was full once
    CHECK(rc == host::exit_cells_failed);
    {
      const auto s = store::Store::open(run_dir.string(), store::Store::Access::read_only);
      const auto failed = s.cells(store::CellStatus::failed);
      REQUIRE(!failed.empty());
      for (const auto& c : failed) {
        INFO(c.arm << " seed " << c.seed << ": " << c.error);
        CHECK(c.failure != store::FailureKind::plugin);  // the environment's, or "the dense model of seed k failed"
      }
      CHECK_THAT(failed.front().error, Catch::Contains("database or disk is full"));
      CHECK(failed.front().failure == store::FailureKind::environment);
    }
    // Space is free again: resume computes the failed cells, and the run equals an uninterrupted one.
    CHECK(run("", run_dir, /*resume=*/true) == host::exit_ok);
    CHECK(engine_test::fingerprint(run_dir.string()) == w.fingerprint);
  }
  SECTION("full until space is freed: the run stops with exit 6, and --resume completes it") {
    const fs::path run_dir = w.dir / "full-until-freed";
    CHECK(run_on_full_disk(w, run_dir, /*refusals=*/1000000000, /*min_burst=*/0) == host::exit_io);
    CHECK(run("", run_dir, /*resume=*/true) == host::exit_ok);
    CHECK(engine_test::fingerprint(run_dir.string()) == w.fingerprint);
  }
}

TEST_CASE("A plugin's own failure stays failed on --resume unless --retry-failed", "[engine][resume][retry]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("resume-retry");
  // critical_class 12 on 10-class digits: the plugin throws in compress() (as in test_audit.cpp).
  const std::string broken = compaudit::test_support::kThrowingArm;
  const std::string pipeline = (dir / "pipeline.toml").string();
  engine_test::write_text(pipeline, digits_pipeline(kDigitsCsv, broken));
  const auto attempts = [&] {  // how many times the broken cells were computed: one log line per failure
    int n = 0;
    std::istringstream log(engine_test::log_text((dir / "run").string()));
    for (std::string line; std::getline(log, line);) n += line.rfind("broken seed ", 0) == 0;
    return n;
  };
  REQUIRE(run(pipeline, dir / "run") == host::exit_cells_failed);
  {
    const auto s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
    const auto failed = s.cells(store::CellStatus::failed);
    REQUIRE(failed.size() == 6);  // "broken" and its training control "broken control" (classdep trains)
    for (const auto& c : failed) CHECK(c.failure == store::FailureKind::plugin);
  }
  CHECK(attempts() == 3);
  CHECK(run("", dir / "run", /*resume=*/true) == host::exit_cells_failed);
  CHECK(attempts() == 3);  // not computed again
  CHECK(run("", dir / "run", /*resume=*/true, /*retry_failed=*/true) == host::exit_cells_failed);
  CHECK(attempts() == 6);  // computed again (and failed again: the plugin still throws)
}

TEST_CASE("A corrupt stored model is refused by export and recomputed by --resume", "[engine][resume][blob-crc]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const Whole& w = whole();
  const fs::path run_dir = w.dir / "corrupt";
  fs::remove_all(run_dir);
  // The three dense cells only: the other arms will start from dense models restored from the store.
  REQUIRE(engine_test::run_stopped_after(w.pipeline, run_dir.string(), 3) == host::exit_ok);
  corrupt_blob(run_dir, "dense", 1);
  {
    const auto s = store::Store::open(run_dir.string(), store::Store::Access::read_only);
    try {
      s.blob("dense", 1, "state");
      FAIL("a corrupt blob was read");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::io);
      CHECK_THAT(e.what(), Catch::Contains("stored blob 'state' of arm dense seed 1 is corrupt"));
    }
    REQUIRE(s.corrupt_blobs().size() == 1);
    CHECK(s.corrupt_blobs().front().seed == 1);
  }
  host::ExportRequest ex;
  ex.run_dir = run_dir.string();
  ex.arm = "dense";
  ex.seed = 1;
  ex.output = (w.dir / "corrupt-dense1.pt").string();
  const std::string said = stderr_of([&] { CHECK(engine_test::engine().export_model(ex) == host::exit_io); });
  CHECK_THAT(said, Catch::Contains("dense seed 1 is corrupt"));
  CHECK_FALSE(fs::exists(ex.output));
  // Resume notices, computes dense seed 1 again (the same bits), and nothing is computed from the corrupt model.
  REQUIRE(run("", run_dir, /*resume=*/true) == host::exit_ok);
  CHECK(engine_test::fingerprint(run_dir.string()) == w.fingerprint);
  CHECK_THAT(engine_test::log_text(run_dir.string()), Catch::Contains("'state' of dense seed 1 is corrupt"));
  CHECK(engine_test::engine().export_model(ex) == host::exit_ok);
}

TEST_CASE("Resume refuses data that changed since the run started, naming the file", "[engine][resume][digests]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("resume-digests");
  const fs::path csv = dir / "digits.csv";
  engine_test::shell("gzip -dc '" + kDigitsCsv + "' > '" + csv.string() + "'");
  const std::string original = [&] {
    std::ifstream in(csv);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  const std::string pipeline = (dir / "pipeline.toml").string();
  engine_test::write_text(pipeline, digits_pipeline(csv.string()));
  REQUIRE(engine_test::run_stopped_after(pipeline, (dir / "run").string(), 4) == host::exit_ok);
  {
    const auto s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
    const auto inputs = s.run().settings.at("inputs");
    REQUIRE(inputs.size() >= 2);  // the CSV and the plugin libraries
    CHECK(inputs[0].at("role") == "data file train");
    CHECK(inputs[0].at("file") == csv.string());
  }
  // One value of one row changed: the done cells were computed from the old data.
  std::string changed = original;
  changed[changed.find('\n', 1000) + 1] = changed[changed.find('\n', 1000) + 1] == '0' ? '1' : '0';
  engine_test::write_text(csv, changed);
  int rc = 0;
  const std::string said = stderr_of([&] { rc = run("", dir / "run", /*resume=*/true); });
  INFO(said);
  CHECK(rc == host::exit_input);
  CHECK_THAT(said, Catch::Contains(csv.string()));
  CHECK_THAT(said, Catch::Contains("data file train changed since the run started"));
  {
    const auto s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
    CHECK(s.cells(store::CellStatus::done).size() == 4);  // nothing was computed from the new data
  }
  // Restored, the run resumes.
  engine_test::write_text(csv, original);
  CHECK(run("", dir / "run", /*resume=*/true) == host::exit_ok);
}

TEST_CASE("export refuses to write over the run's own files and writes atomically", "[engine][export][safety]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const Whole& w = whole();
  const fs::path run_dir = w.dir / "whole";
  const auto done_before = store::Store::open(run_dir.string(), store::Store::Access::read_only)
                               .cells(store::CellStatus::done).size();
  host::ExportRequest ex;
  ex.run_dir = run_dir.string();
  ex.arm = "prune@sparsity=0.9";
  ex.seed = 0;
  for (const std::string& target : {"results.sqlite", "results.sqlite-wal", ".lock", "report.json", "report"}) {
    ex.output = (run_dir / target).string();  // "report": its card would be report.json
    const std::string said = stderr_of([&] { CHECK(engine_test::engine().export_model(ex) == host::exit_input); });
    INFO(target << ": " << said);
    CHECK_THAT(said, Catch::Contains("refusing to export over the run's own file"));
  }
  ex.output = (run_dir / ".." / "whole" / "results.sqlite").string();  // the same file by another path
  CHECK(engine_test::engine().export_model(ex) == host::exit_input);
  // The run is intact.
  const auto s = store::Store::open(run_dir.string(), store::Store::Access::read_only);
  CHECK(s.cells(store::CellStatus::done).size() == done_before);
  CHECK(engine_test::fingerprint(run_dir.string()) == w.fingerprint);
  // A good target: written, no temporary file left beside it.
  const fs::path out = w.dir / "exports" / "model.pt";
  ex.output = out.string();
  REQUIRE(engine_test::engine().export_model(ex) == host::exit_ok);
  CHECK(fs::file_size(out) > 0);
  CHECK(fs::exists(out.string() + ".json"));
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    CHECK(e.path().filename().string().find(".partial") == std::string::npos);
}

TEST_CASE("run -o onto a directory of other files is refused and writes nothing there", "[engine][run-dir]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const Whole& w = whole();
  const fs::path foreign = w.dir / "foreign";
  fs::remove_all(foreign);
  fs::create_directories(foreign);
  engine_test::write_text(foreign / "report.json", "{\"mine\": true}\n");
  const std::string said = stderr_of([&] { CHECK(run(w.pipeline, foreign) == host::exit_io); });
  CHECK_THAT(said, Catch::Contains("is not empty (it holds report.json) and is not a compaudit run"));
  CHECK(std::distance(fs::directory_iterator(foreign), fs::directory_iterator()) == 1);
  std::ifstream in(foreign / "report.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "{\"mine\": true}\n");
}
