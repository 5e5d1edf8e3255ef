// Issue 14 at the store level: why a cell failed (FailureKind) and resetting it for resume (item 2), the CRC-32 of
// every blob checked on read (item 7), and the migration of a version-1 store (schema 2 added both columns).
#include <compaudit/store/store.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "support/temp_dir.h"

using namespace compaudit;
using namespace compaudit::store;
using compaudit::test::TempDir;

namespace {

RunInfo sample_run() {
  RunInfo r;
  r.name = "unit";
  r.pipeline_path = "/tmp/unit.toml";
  r.pipeline_toml = "[audit]\nname = \"unit\"\nseeds = 2\n";
  return r;
}

void sql(const std::string& file, const std::string& text) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &msg);
  INFO((msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// The schema of compaudit's version-1 stores, verbatim, with a run holding a done cell and its blob, a cell failed by
// a full disk and one failed by its plugin.
void write_v1_store(const std::string& dir) {
  sql(dir + "/results.sqlite", R"sql(
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
  train_seconds REAL NOT NULL, eval_seconds REAL NOT NULL, PRIMARY KEY(arm, seed));
CREATE TABLE predictions(arm TEXT NOT NULL, seed INTEGER NOT NULL, split TEXT NOT NULL, n INTEGER NOT NULL,
  label_bytes INTEGER NOT NULL, labels BLOB NOT NULL, true_prob BLOB, num_classes INTEGER NOT NULL, probs BLOB,
  PRIMARY KEY(arm, seed, split));
CREATE TABLE metrics(metric_index INTEGER NOT NULL, metric_id TEXT NOT NULL, arm TEXT NOT NULL,
  reference TEXT NOT NULL, result TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY(metric_index, arm, reference));
CREATE TABLE memorization(split TEXT PRIMARY KEY, n INTEGER NOT NULL, scores BLOB NOT NULL);
CREATE TABLE blobs(arm TEXT NOT NULL, seed INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(arm, seed, name));
CREATE TABLE log(id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, level TEXT NOT NULL, text TEXT NOT NULL);
INSERT INTO run VALUES(1, 'old', '/tmp/old.toml', '', '2026-01-01T00:00:00Z', '1.0.0', 1, '{}');
INSERT INTO cells VALUES('dense', 0, 'done', '', '', '', '[]', '{}', 0, 0);
INSERT INTO cells VALUES('dense', 1, 'failed', 'x/results.sqlite: results store access failed (database or disk is full)',
  '', '', '[]', '{}', 0, 0);
INSERT INTO cells VALUES('prune', 0, 'failed', 'plugin org.x failed in compress: no', '', '', '[]', '{}', 0, 0);
INSERT INTO cells VALUES('prune', 1, 'failed', 'the dense model of seed 1 failed', '', '', '[]', '{}', 0, 0);
INSERT INTO blobs VALUES('dense', 0, 'state', x'0102030405');
PRAGMA user_version = 1;
)sql");
}

}  // namespace

TEST_CASE("Failed cells keep why they failed, and reset_cell makes a cell pending again", "[store][resume]") {
  TempDir dir;
  auto s = Store::create(dir.path(), sample_run());
  s.fail_cell("dense", 0, "results store access failed (database or disk is full)", FailureKind::environment);
  s.fail_cell("prune", 0, "plugin org.x failed in compress: bad", FailureKind::plugin);
  s.fail_cell("prune", 1, "the dense model of seed 1 failed", FailureKind::dependency);
  s.fail_cell("prune", 2, "plugin org.x failed");  // the default: the cell's own code
  CHECK(s.cell("dense", 0)->failure == FailureKind::environment);
  CHECK(s.cell("prune", 0)->failure == FailureKind::plugin);
  CHECK(s.cell("prune", 1)->failure == FailureKind::dependency);
  CHECK(s.cell("prune", 2)->failure == FailureKind::plugin);
  s.put_blob("dense", 0, "state", {1, 2, 3});
  s.put_predictions({"dense", 0, "test", {1, 2}, {}, 0, {}});
  s.reset_cell("dense", 0);
  const auto c = s.cell("dense", 0);
  CHECK(c->status == CellStatus::pending);
  CHECK(c->error.empty());
  CHECK(c->failure == FailureKind::none);
  CHECK_FALSE(s.blob("dense", 0, "state"));
  CHECK_FALSE(s.predictions("dense", 0, "test"));
  // A done cell has no failure kind.
  Cell done;
  done.arm = "dense";
  done.seed = 0;
  s.finish_cell(done, {});
  CHECK(s.cell("dense", 0)->failure == FailureKind::none);
}

TEST_CASE("classify_failure tells the environment's failures from a plugin's", "[store][resume]") {
  for (const char* e : {"runs/x/results.sqlite: results store access failed (database or disk is full)",
                        "results store access failed (disk I/O error)", "std::bad_alloc",
                        "out of memory (limit 2048 MiB) in its worker process",
                        "timed out after 30 s in its worker process",
                        "killed by signal 11 (SIGSEGV) in its worker process; last output: x",
                        "the worker exited with code 6 without committing the cell in its worker process",
                        "DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes"})
    CHECK(classify_failure(e) == FailureKind::environment);
  CHECK(classify_failure("the dense model of seed 3 failed") == FailureKind::dependency);
  CHECK(classify_failure("plugin org.compaudit.compress.classdep failed in compress: critical_class 12") ==
        FailureKind::plugin);
}

TEST_CASE("Every blob carries a CRC-32 checked on read", "[store][blob-crc]") {
  TempDir dir;
  {
    auto s = Store::create(dir.path(), sample_run());
    std::vector<std::uint8_t> bytes(4096);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);
    s.put_blob("dense", 1, "state", bytes);
    s.put_blob("dense", 2, "state", bytes);
    CHECK(*s.blob("dense", 1, "state") == bytes);
    CHECK(s.corrupt_blobs().empty());
  }
  // 48 bytes XOR-ed inside the blob: SQLite's own integrity check passes, the CRC-32 does not.
  sql(dir.path() + "/results.sqlite",
      "UPDATE blobs SET data = CAST(substr(data, 1, 2000) || randomblob(48) || substr(data, 2049) AS BLOB) "
      "WHERE seed = 1");
  const auto s = Store::open(dir.path(), Store::Access::read_only);
  try {
    s.blob("dense", 1, "state");
    FAIL("the corrupt blob was returned");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::io);
    CHECK_THAT(e.what(), Catch::Contains("stored blob 'state' of arm dense seed 1 is corrupt"));
    CHECK_THAT(e.what(), Catch::Contains("results.sqlite"));
  }
  CHECK(s.blob("dense", 2, "state")->size() == 4096);
  CHECK(std::filesystem::file_size(dir.path() + "/results.sqlite") > 8192);
  const auto bad = s.corrupt_blobs();
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].arm == "dense");
  CHECK(bad[0].seed == 1);
  CHECK(bad[0].name == "state");
}

TEST_CASE("A version-1 store is read as it is, and migrated when opened for writing", "[store][migration]") {
  TempDir dir;
  write_v1_store(dir.path());
  {
    const auto s = Store::open(dir.path(), Store::Access::read_only);
    CHECK(s.run().schema_version == 1);
    CHECK(s.cell("dense", 1)->failure == FailureKind::environment);  // classified from its text
    CHECK(s.cell("prune", 0)->failure == FailureKind::plugin);
    CHECK(s.blob("dense", 0, "state")->size() == 5);  // no CRC-32 to check
    CHECK(s.corrupt_blobs().empty());
  }
  {
    auto s = Store::open(dir.path());
    CHECK(s.run().schema_version == kSchemaVersion);
    CHECK(s.cell("dense", 1)->failure == FailureKind::environment);
    CHECK(s.cell("prune", 0)->failure == FailureKind::plugin);
    CHECK(s.cell("prune", 1)->failure == FailureKind::dependency);
    CHECK(s.cell("dense", 0)->status == CellStatus::done);
    CHECK(s.blob("dense", 0, "state")->size() == 5);
    s.put_blob("dense", 0, "state", {9, 9});  // written now: with its CRC-32
    CHECK(s.blob("dense", 0, "state")->size() == 2);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.path() + "/results.sqlite").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version), "
                         "(SELECT crc32 FROM blobs WHERE seed = 0)", -1, &q, nullptr);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(sqlite3_column_int(q, 0) == kSchemaVersion);
  CHECK(sqlite3_column_type(q, 1) == SQLITE_INTEGER);
  sqlite3_finalize(q);
  sqlite3_close(db);
}
