// compaudit/host/pipeline.h — an audit pipeline, parsed and validated (no LibTorch).
//
// The TOML format is documented in docs/pipelines.md. parse_pipeline() reads the file; validate_pipeline() checks it
// against the plugin registry's manifests (ids, kinds, parameter schemas, metric needs) without opening any library,
// and expands sweeps (a list where the schema wants a scalar) into one arm per value.
#pragma once

#include <compaudit/params.h>
#include <compaudit/error.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace compaudit::host {

class Registry;

/// A plugin use in a pipeline: its id, the user-given parameters (unchecked until validation) and where in the file
/// it was written (for error messages).
struct PluginUse {
  std::string plugin;
  std::map<std::string, ParamValue> params;
  SourceLocation where;
};

struct DataSpec {
  std::string format;            ///< "idx" | "cifar10" | "csv"
  std::string train;             ///< idx: train images file; cifar10: comma-free list in train_files; csv: the file
  std::string train_labels;      ///< idx only
  std::string test;              ///< idx: test images; csv: optional separate test file
  std::string test_labels;       ///< idx only
  std::vector<std::string> train_files;  ///< cifar10 data_batch_N.bin files
  std::vector<std::string> test_files;   ///< cifar10 test_batch.bin
  std::string label_column = "last";     ///< csv: "last", "first" or a 0-based index as string
  bool header = true;                    ///< csv: first row is a header
  std::int64_t train_limit = 0;          ///< Use at most this many training examples (stratified); 0 = all.
  std::int64_t test_limit = 0;           ///< Same for the test set.
  double test_fraction = 0.2;            ///< When there is no separate test file: stratified split.
  double validation_fraction = 0.1;      ///< Carved from training, stratified.
  double imbalance = 1.0;                ///< Long-tail ratio n_min/n_max (1 = balanced). Test stays balanced.
  std::string normalize = "standard";    ///< "standard" (per-feature mean/std from train) | "minmax" | "none"
  std::int64_t split_seed = 0;
  std::vector<std::string> class_names;
  SourceLocation where;
};

struct ModelSpec {
  std::string arch;                        ///< "mlp" | "cnn" | "resnet" | "torchscript"
  std::vector<std::int64_t> hidden;        ///< mlp hidden sizes; cnn channels
  std::string path;                        ///< torchscript file (relative to the pipeline file)
  SourceLocation where;
};

struct TrainingSpec {
  int epochs = 2;
  std::int64_t batch_size = 128;
  std::string optimizer = "sgd";           ///< "sgd" | "adam"
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 0.0;
  std::string schedule = "constant";       ///< "constant" | "cosine" | "step"
  int threads = 0;                         ///< LibTorch intra-op threads; 0 = all cores
  SourceLocation where;
};

/// One compression step of an arm, after sweep expansion: a complete, checked parameter set.
struct StepSpec {
  std::string plugin;
  Params params;
  SourceLocation where;
};

/// One arm after sweep expansion, e.g. name "prune@sparsity=0.9".
struct ArmSpec {
  std::string name;
  std::string base_name;                   ///< The [[arm]]'s name before expansion.
  std::vector<StepSpec> steps;             ///< Empty for the dense arm.
  int finetune_epochs = 0;
  std::map<std::string, std::string> sweep;  ///< Swept parameter -> value (as text) that this arm fixes.
  double level = 0.0;                      ///< Numeric value of the first swept parameter (for plots), else 0.
  SourceLocation where;
};

struct MetricSpec {
  std::string plugin;
  Params params;
  SourceLocation where;
};

struct MemorizationSpec {
  bool enabled = false;
  int models = 0;                          ///< T models on random subsets
  double fraction = 0.7;
  int epochs = 0;                          ///< 0 = training.epochs
};

struct ReportSpec {
  std::vector<std::string> formats{"json", "html", "terminal"};
  double alpha = 0.05;
  std::string correction = "none";         ///< "none" | "bh" | "holm"
};

/// [run]: how cells are executed (docs/isolation.md). None of it changes results, only what survives a bad plugin.
struct RunSpec {
  std::string isolation = "auto";          ///< "process" | "none" | "auto" (process when a plugin is not built in)
  double cell_timeout = 0;                 ///< seconds a worker may take for one cell; 0 = no limit
  std::int64_t cell_memory_mb = 0;         ///< address-space limit of a worker in MiB; 0 = the machine's memory
};

/// A validated pipeline: what the engine executes.
struct Pipeline {
  std::string path;                        ///< The file it came from.
  std::string name;
  std::vector<std::int64_t> seeds;         ///< The population: K seeds.
  DataSpec data;
  ModelSpec model;
  TrainingSpec training;
  std::vector<ArmSpec> arms;               ///< First arm is "dense"; a "dense+ft" control exists if any arm fine-tunes.
  std::optional<StepSpec> augmentation;    ///< A plugin of kind augmentation, or none.
  std::vector<MetricSpec> metrics;
  MemorizationSpec memorization;
  ReportSpec report;
  RunSpec run;                             ///< [run] (isolation; docs/isolation.md)
  std::string output;                      ///< Run directory (relative to the pipeline file), default runs/<name>.
  std::string toml;                        ///< The file's text, stored with the run.
};

/// Parses and validates `path` against `registry`. Throws compaudit::Error (pipeline or parameters) with file, line
/// and column. Never opens a plugin library.
Pipeline load_pipeline(const std::string& path, const Registry& registry);

}  // namespace compaudit::host
