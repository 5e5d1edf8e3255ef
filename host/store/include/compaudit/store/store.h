// compaudit/store/store.h — the results store of one run: `<run_dir>/results.sqlite` (no LibTorch). The records it
// reads and writes (RunInfo, ArmInfo, DataInfo, Cell, Predictions, MetricResult, ...) are in compaudit/store/records.h.
//
// Everything a run produces that the report needs lives here, so `compaudit report RUN_DIR` and
// `compaudit run --resume RUN_DIR` work from this one file. A cell (arm × seed) is the unit of work: the engine marks
// it running, does the work, and then writes its predictions and marks it done *in one transaction*
// (Store::finish_cell), so a process killed at any moment leaves either a done cell with all its predictions or a
// cell that is not done — never half of one. A done cell is never recomputed.
//
// Durability: SQLite in WAL mode, synchronous=NORMAL (a power cut may lose the last transactions, never corrupt the
// file); every put is its own transaction, and Store::transaction() groups several into one.
//
// Concurrency: one writer per run directory. Opening for writing takes an exclusive flock(2) on `<run_dir>/.lock`
// (which records the holder's PID) for the life of the Store; a second writer — in this or another process — gets
// Error(io) "run directory X is in use by process PID". Readers (Access::read_only, e.g. the report) take no lock
// and may read while a writer works. A Store object may be used from several threads: calls are serialized by an
// internal mutex, and transaction() holds it for the whole function.
//
// Errors: every failure throws compaudit::Error with code io, naming the file, e.g.
// "runs/x/results.sqlite: not a compaudit results store (file is not a database)".
//
// Schema (schema_version 2; `PRAGMA user_version` holds it; a store written by a newer schema is refused; a
// version-1 store is migrated when opened for writing — ALTER TABLE adds the two version-2 columns, failed cells get
// the kind classify_failure() gives their error — and read as it is when opened read-only):
//   run(id=1, name, pipeline_path, pipeline_toml, created_at, compaudit_version, schema_version, settings JSON)
//   arms(position, name PK, base_name, level, sweep JSON, steps JSON, finetune_epochs, reference)
//   data(id=1, kind, num_classes, class_names JSON, input_shape JSON)
//   splits(name PK, position, n, targets BLOB int16 LE)
//   thumbnails(split, example_id, channels, height, width, pixels BLOB uint8 HWC) PK(split, example_id)
//   cells(arm, seed, status, error, started_at, finished_at, records JSON, size JSON, train_seconds, eval_seconds,
//         failure '' | 'plugin' | 'environment' | 'dependency')                                 — failure: v2
//   predictions(arm, seed, split, n, label_bytes 1|2, labels BLOB int8/int16 LE,
//               true_prob BLOB fp16 [N] or NULL, num_classes, probs BLOB fp16 [N×C] row-major or NULL)
//   metrics(metric_index, metric_id, arm, reference, result JSON, error) PK(metric_index, arm, reference)
//   memorization(split PK, n, scores BLOB float32 LE)
//   blobs(arm, seed, name, data BLOB, crc32 INTEGER) PK(arm, seed, name) — opaque engine artifacts (model state;
//         arm "" seed 0: the run's memorization subsets and their test-split correctness, docs/engine.md);
//         crc32 (v2) is zlib's CRC-32 of data, checked on every read; NULL for blobs written by a version-1 store
//   log(id autoincrement, time, level, text)
// Times are ISO 8601 UTC text ("2026-11-22T08:00:00Z"); the store fills empty times with "now".
#pragma once

#include <compaudit/error.h>
#include <compaudit/store/records.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace compaudit::store {

namespace detail {
struct RawAccess;  // the store library's own tools (merge.cpp) reach the SQLite handle through it
}

class COMPAUDIT_STORE_API Store {
 public:
  enum class Access {
    read_write,
    read_only,
    /// Isolation (docs/isolation.md): a `compaudit worker` process writes one cell into a run whose writer lock is
    /// held by the host that started it and waits for it. Opens for writing WITHOUT taking the lock, and refuses
    /// (Error(io)) unless some other process holds it right now: a worker whose host is gone must not write. Only
    /// the worker uses this; the host does not touch the store while its worker runs.
    worker_of_lock_holder,
  };

  /// Creates `<run_dir>/results.sqlite` (and run_dir) for a new run and takes the writer lock. Throws Error(io) if a
  /// store already exists there (use open() to resume) or if another process holds the run directory.
  static Store create(const std::string& run_dir, const RunInfo& run);
  /// Opens an existing store. read_write takes the writer lock; read_only takes none. Throws Error(io) when the file
  /// is missing, is not a compaudit store, has a newer schema, or (read_write) the directory is in use.
  static Store open(const std::string& run_dir, Access access = Access::read_write);
  /// True when `<run_dir>/results.sqlite` exists.
  static bool exists(const std::string& run_dir);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();  ///< Closes the database and releases the writer lock.

  const std::string& run_dir() const;
  const std::string& path() const;  ///< The results.sqlite path.

  /// Runs f() inside one transaction (nested calls become savepoints): all of its writes land, or none.
  /// Rethrows what f throws after rolling back.
  template <class F>
  void transaction(F&& f) {
    begin();
    try {
      f();
    } catch (...) {
      rollback();
      throw;
    }
    commit();
  }

  // --- run and data --------------------------------------------------------------------------------------------
  RunInfo run() const;
  void put_run_settings(const nlohmann::json& settings);
  void put_arms(const std::vector<ArmInfo>& arms);            ///< Replaces the arm list.
  std::vector<ArmInfo> arms() const;                          ///< In position order.
  void put_data(const DataInfo& data);                        ///< Replaces the data description and all splits.
  std::optional<DataInfo> data() const;                       ///< nullopt until put_data.
  void put_thumbnails(const std::vector<Thumbnail>& thumbs);  ///< Upserts by (split, example_id).
  /// Thumbnails of `split`; all of them when `ids` is empty, else those of `ids` that exist.
  std::vector<Thumbnail> thumbnails(const std::string& split, const std::vector<std::int64_t>& ids = {}) const;

  // --- cells (resume) ------------------------------------------------------------------------------------------
  /// Adds pending cells that do not exist yet; existing cells are left untouched (so resume keeps done cells).
  void ensure_cells(const std::vector<std::pair<std::string, std::int64_t>>& arm_seeds);
  /// Marks a cell running and stamps started_at (creating it if needed).
  void start_cell(const std::string& arm, std::int64_t seed);
  /// In one transaction: writes every prediction, then the cell (status done, finished_at stamped if empty).
  void finish_cell(const Cell& cell, const std::vector<Predictions>& predictions);
  /// Marks a cell failed with its error text and why (FailureKind, what resume does with it), stamps finished_at.
  /// Its predictions are deleted.
  void fail_cell(const std::string& arm, std::int64_t seed, const std::string& error,
                 FailureKind kind = FailureKind::plugin);
  /// Makes a cell pending again, to be computed anew: status, error, times and records cleared, its predictions and
  /// blobs deleted (resume: a failure worth retrying, a done cell whose stored model is corrupt).
  void reset_cell(const std::string& arm, std::int64_t seed);
  /// Upserts a cell as given (for tools and tests).
  void put_cell(const Cell& cell);
  std::optional<Cell> cell(const std::string& arm, std::int64_t seed) const;
  /// All cells (arm position, then seed), or only those with `status`.
  std::vector<Cell> cells(std::optional<CellStatus> status = std::nullopt) const;
  /// Resume after a kill: cells left "running" become "pending". Returns how many.
  int reset_running_cells();

  // --- predictions -----------------------------------------------------------------------------------------------
  void put_predictions(const Predictions& p);  ///< Upsert by (arm, seed, split).
  std::optional<Predictions> predictions(const std::string& arm, std::int64_t seed, const std::string& split,
                                         bool with_probabilities = true) const;
  /// Every stored seed of `arm` on `split`, seed order. Loads probabilities only when asked.
  std::vector<Predictions> arm_predictions(const std::string& arm, const std::string& split,
                                           bool with_probabilities = false) const;

  // --- metrics, memorization, artifacts, log ----------------------------------------------------------------------
  void put_metric(const MetricResult& r);     ///< Upsert by (metric_index, arm, reference).
  std::vector<MetricResult> metrics() const;  ///< Ordered by metric_index, then arm position.
  void clear_metrics();                       ///< Metrics are recomputed from predictions at the end of every run.
  void put_memorization(const std::string& split, const std::vector<float>& scores);
  std::optional<std::vector<float>> memorization(const std::string& split) const;
  void put_blob(const std::string& arm, std::int64_t seed, const std::string& name,
                const std::vector<std::uint8_t>& data);
  /// The blob's bytes, checked against their stored CRC-32: Error(io) naming arm, seed and blob on a mismatch.
  std::optional<std::vector<std::uint8_t>> blob(const std::string& arm, std::int64_t seed,
                                                const std::string& name) const;
  /// Every blob whose bytes no longer match their stored CRC-32 (blobs without one are not checked).
  std::vector<BlobKey> corrupt_blobs() const;
  void log(const std::string& level, const std::string& text);  ///< Appends a line stamped now.
  std::vector<LogLine> log_lines() const;

 private:
  friend struct detail::RawAccess;
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  static std::unique_ptr<Impl> connect(const std::string& run_dir, bool read_only, bool creating,
                                       bool take_lock = true);  // take_lock=false: Access::worker_of_lock_holder
  void begin();
  void commit();
  void rollback();
  std::unique_ptr<Impl> impl_;
};

}  // namespace compaudit::store
