// compaudit/store/records.h — the plain records the results store reads and writes (no LibTorch, no SQLite).
//
// Everything is a value type of standard containers, so the engine converts tensors to them and the report reads
// them without LibTorch. The store's schema and its guarantees are described in compaudit/store/store.h.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#define COMPAUDIT_STORE_API __attribute__((visibility("default")))

namespace compaudit::store {

/// Current schema version written by this library. Bump when a table or column changes meaning. Version 2 added
/// cells.failure and blobs.crc32; a version-1 store is migrated when it is opened for writing (store.cpp).
constexpr int kSchemaVersion = 2;
/// File name of the store inside a run directory.
constexpr const char* kStoreFile = "results.sqlite";

/// The run: what was asked for, by which version, when.
struct RunInfo {
  std::string name;                     ///< Pipeline [audit] name.
  std::string pipeline_path;            ///< The pipeline file the run came from (informative).
  std::string pipeline_toml;            ///< The pipeline text, resolved / as run.
  std::string created_at;               ///< Filled by create() when empty.
  std::string compaudit_version;        ///< Filled by create() when empty (COMPAUDIT_SDK_VERSION_STRING).
  int schema_version = kSchemaVersion;  ///< Read back from the file; ignored on create.
  /// Free-form run settings the report may show, e.g. {"seeds":[0,1,2], "alpha":0.05, "correction":"bh",
  /// "model": "...", "training": {...}}.
  nlohmann::json settings = nlohmann::json::object();
};

/// One arm, in pipeline order (position 0 is "dense").
struct ArmInfo {
  std::string name;       ///< e.g. "dense", "dense+ft", "prune@sparsity=0.9".
  std::string base_name;  ///< The [[arm]]'s name before sweep expansion.
  double level = 0.0;     ///< Numeric value of the first swept parameter (x axis of plots); 0 for dense.
  std::map<std::string, std::string> sweep;        ///< Swept parameter -> value text.
  nlohmann::json steps = nlohmann::json::array();  ///< [{"plugin": id, "params": {...}}, ...]; a training control's
                                                   ///< steps also have "inert": true (docs/pipelines.md, "Controls");
                                                   ///< the [search] arm's one step has "search": true (the uniform
                                                   ///< arm's "search_uniform": true), "parameter" and "values" (its
                                                   ///< chain per seed: blob "search")
  int finetune_epochs = 0;
  std::string reference;  ///< Arm this one is compared against ("dense" or a control); "" for dense.
};

/// One data split's labels. Targets are int16 (num_classes <= 32767).
struct SplitInfo {
  std::string name;  ///< "train", "validation", "test".
  std::int64_t n = 0;
  std::vector<std::int16_t> targets;  ///< [n] true labels, in the split's example order (example id = index).
};

struct DataInfo {
  std::string kind;  ///< "image" (input_shape {C,H,W}) or "tabular".
  int num_classes = 0;
  std::vector<std::string> class_names;   ///< num_classes names ("0".."9" when the data has none).
  std::vector<std::int64_t> input_shape;  ///< Per example, e.g. {1,28,28} or {64}.
  std::vector<SplitInfo> splits;
};

/// Pixels of one example, for the report's gallery. uint8, row-major HWC (channels 1 = gray, 3 = RGB), already
/// de-normalized to 0..255.
struct Thumbnail {
  std::string split;
  std::int64_t example_id = 0;
  int channels = 1, height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  ///< [height × width × channels]
};

enum class CellStatus { pending, running, done, failed };
COMPAUDIT_STORE_API const char* to_string(CellStatus s) noexcept;
COMPAUDIT_STORE_API std::optional<CellStatus> cell_status_from_string(const std::string& s) noexcept;

/// Why a cell failed, which decides what `run --resume` does with it (docs/isolation.md#what-resume-retries):
///   environment  the machine, not the cell's code: an I/O error, a full disk ("database or disk is full"), out of
///                memory, a timeout, a worker killed by a signal or ended without committing — retried on resume;
///   plugin       the cell's own code threw (a plugin's error, an invalid parameter...) — stays failed unless
///                `run --resume --retry-failed`;
///   dependency   "the dense model of seed k failed" — retried when dense cell k is.
enum class FailureKind { none, plugin, environment, dependency };
COMPAUDIT_STORE_API const char* to_string(FailureKind k) noexcept;
COMPAUDIT_STORE_API FailureKind failure_kind_from_string(const std::string& s) noexcept;  ///< unknown text: plugin
/// The kind of a failure known only by its text (cells of a version-1 store, errors that crossed a process): the
/// I/O, disk-full, memory, timeout and signal messages the store, the engine and isolation write are environment.
COMPAUDIT_STORE_API FailureKind classify_failure(const std::string& error) noexcept;

/// One unit of work: one seed of one arm.
struct Cell {
  std::string arm;
  std::int64_t seed = 0;
  CellStatus status = CellStatus::pending;
  std::string error;  ///< Failure text (failed cells).
  FailureKind failure = FailureKind::none;  ///< Why it failed (failed cells); none otherwise.
  std::string started_at, finished_at;
  nlohmann::json records = nlohmann::json::array();  ///< Compression records, one per step.
  nlohmann::json size = nlohmann::json::object();    ///< Model size: parameters, nonzeros, bytes, per layer.
  double train_seconds = 0.0, eval_seconds = 0.0;
};

/// Predictions of one model (arm, seed) on one split. Labels are stored as int8 when every label fits, else int16.
struct Predictions {
  std::string arm;
  std::int64_t seed = 0;
  std::string split;
  std::vector<std::int16_t> labels;      ///< [N] top-1 labels.
  std::vector<std::uint16_t> true_prob;  ///< [N] fp16 probability of the true class, or empty.
  int num_classes = 0;                   ///< C, when probs is set.
  std::vector<std::uint16_t> probs;      ///< [N × C] fp16 probabilities, row-major, or empty.
};

/// One metric plugin's result for one arm against its reference.
struct MetricResult {
  int metric_index = 0;   ///< Position in the pipeline's [[metric]] list (a plugin may appear twice).
  std::string metric_id;  ///< Plugin id, e.g. "org.compaudit.metric.pie".
  std::string arm;
  std::string reference;  ///< Reference arm of the comparison.
  nlohmann::json result;  ///< What Metric::compute returned (see compaudit/metric.h conventions); null on error.
  std::string error;      ///< Non-empty when the metric failed for this arm.
};

/// A stored blob, named as the blobs table keys it.
struct BlobKey {
  std::string arm;
  std::int64_t seed = 0;
  std::string name;
};

struct LogLine {
  std::string time, level, text;
};

/// Half-precision helpers (IEEE 754 binary16, round to nearest even), for Predictions probabilities.
COMPAUDIT_STORE_API std::uint16_t float_to_half(float f) noexcept;
COMPAUDIT_STORE_API float half_to_float(std::uint16_t h) noexcept;
/// Current time as ISO 8601 UTC text.
COMPAUDIT_STORE_API std::string now_utc();

}  // namespace compaudit::store
