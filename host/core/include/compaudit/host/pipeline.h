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
struct Manifest;

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
  /// Declared number of classes (0: class_names' count, else 0..max training label). Every label must be below it
  /// and every class needs a training example (docs/pipelines.md#data).
  std::int64_t num_classes = 0;
  // "npy" / "npz" / "images" (docs/pipelines.md, "Your own data"). npy: train, train_labels, test, test_labels are
  // .npy files; npz: train (and test, default the train archive) are .npz archives holding these named arrays;
  // images: train (and test) are folders root/<class>/*.png|jpg|jpeg.
  std::string train_array = "x_train";         ///< npz: inputs of the training archive
  std::string train_labels_array = "y_train";  ///< npz: labels of the training archive
  std::string test_array = "x_test";           ///< npz: inputs of the test archive
  std::string test_labels_array = "y_test";    ///< npz: labels of the test archive
  std::string layout;                    ///< npy/npz 4-D inputs: "nchw" | "nhwc"; "" = nchw, refusing NHWC look-alikes
  std::vector<std::int64_t> resize;      ///< images: {H, W} every image is resized to; empty = all one size
  std::string resize_method = "bilinear";  ///< images: "bilinear" | "nearest" (PyTorch, align_corners = false)
  int channels = 0;                      ///< images: 1 or 3 to convert every image to; 0 = the images' own
  /// No training source (npy/npz/images with only test data, for pretrained models): train and validation splits
  /// are empty, normalize is "none", the classes come from class_names / num_classes / the test labels.
  bool test_only = false;
  SourceLocation where;
};

/// [model]: what the reference (dense) arm is. Three kinds (docs/pipelines.md, "Auditing the model you ship"):
///   trained here   arch mlp | cnn | resnet, or torchscript `path` with [training] epochs > 0 (one model per seed);
///   pretrained     torchscript `path` (one model, K = 1) or `checkpoints` (one file per seed), nothing trained;
///   predictions    `predictions`: saved outputs of the reference, no model at all (arch "predictions").
struct ModelSpec {
  std::string arch;                        ///< "mlp" | "cnn" | "resnet" | "torchscript" | "predictions"
  std::vector<std::int64_t> hidden;        ///< mlp hidden sizes; cnn channels
  std::string path;                        ///< torchscript file (absolute after parsing)
  std::vector<std::string> checkpoints;    ///< torchscript files, one per seed in seed order (absolute)
  /// TorchScript weights when the model is trained here: "reset" (each seed gets PyTorch's default initialisation
  /// for its layer types, drawn from the seed) or "keep" (every seed starts from the file's weights). Empty when
  /// nothing is trained.
  std::string init;
  std::string predictions;                 ///< .npy of the reference's outputs [N, C] or [K, N, C] (absolute)
  /// The weights come from files and are not trained here (checkpoints, or a torchscript path with epochs = 0).
  bool pretrained = false;
  SourceLocation where;
};

struct TrainingSpec {
  int epochs = 2;                          ///< 0: nothing is trained (pretrained models; the default then)
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
  /// Saved outputs of this arm's models (.npy [N, C] or [K, N, C], absolute) instead of a compression chain: a
  /// model compressed elsewhere (TensorFlow Lite, ONNX Runtime, llama.cpp) audited with compaudit's statistics.
  std::string predictions;
  /// A training control (docs/pipelines.md, "Controls"): the name of the compressed arm whose training steps this arm
  /// repeats — same plugins, parameters and random streams — with compression made inert, so it stays dense.
  /// Empty for every other arm.
  std::string control_of;
  /// True for the arm a [search] adds (SearchSpec::name): its chain is not in the file but found per seed by the
  /// search (one step of SearchSpec::plugin per compressed layer); `steps` is empty. Its test-split results are the
  /// search's verdict (docs/attribution.md).
  bool search = false;
  /// True for the arm `[search] uniform = true` adds ("<name>-uniform"): the search's plugin on every searchable layer
  /// with one value, chosen so the model's stored bytes match the searched arm's — the uniform allocation at equal
  /// size. `steps` is empty.
  bool search_uniform = false;
  /// The arm this one is compared with, as reference_of() returns it (set by load_pipeline).
  std::string reference;
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
  // No alpha or correction: [report] refuses them; the metrics that test own them (docs/pipelines.md).
};

/// [[gate]]: a bound on one statistic a metric reports for an arm (docs/gates.md). A run whose gate fails exits
/// with host::exit_gate_failed; `compaudit check RUN` evaluates the gates again from the store.
struct GateSpec {
  std::string name;                        ///< For messages; default "<metric short name>.<statistic>"
  std::string arm = "*";                   ///< Arm name or glob ("prune@*"); "*" = every arm but the reference arms
  std::string metric;                      ///< Metric plugin id (as in [[metric]])
  std::string statistic;                   ///< A key of the result's "summary", or of a per_class entry with `class`;
                                           ///< "<name>.low" / "<name>.high": an end of intervals[<name>]
  std::string class_name;                  ///< Per-class statistic: class name or index as text; empty = summary
  std::optional<double> max, min;          ///< Bounds, inclusive; at least one
  SourceLocation where;
};

/// [attribution] (docs/attribution.md): which layers of a compressed arm caused its damage. For each compressed
/// layer of each matching arm and seed: the damage when that layer alone is compressed and when it alone is left
/// uncompressed (negative flips, the critical class's recall change, KL), and its output error on the reference
/// model's activations. About 2L + 3 evaluations per model of L compressed layers; nothing is retrained.
struct AttributionSpec {
  bool enabled = false;
  std::vector<std::string> arms{"*"};      ///< Arm names or globs (compressed arms that have models); default all
  std::string critical_class;              ///< Class name or 0-based index as text; empty: no critical columns
  std::string split = "test";              ///< "test" | "validation"
  int examples = 5;                        ///< Flipped examples listed per layer (0..100)
  SourceLocation where;
};

/// [search] (docs/attribution.md): per-layer settings of one compressor that compress most while gates hold on the
/// validation split. Adds the arm `name` (ArmSpec::search), whose test-split results are the verdict.
struct SearchSpec {
  bool enabled = false;
  std::string name = "searched";           ///< The arm it adds
  std::string plugin;                      ///< A compressor whose manifest declares `layers` (applied per layer)
  std::string parameter;                   ///< The plugin's parameter set per layer: a number ("sparsity", "rank") or
                                           ///< a string with choices ("precision" of quantize.ptq)
  std::vector<ParamValue> values;          ///< Most compression first, of the parameter's type; past the last a
                                           ///< layer stays uncompressed
  Params params;                           ///< [search.params]: the plugin's other parameters, for every layer
  std::vector<std::string> gates;          ///< Names of [[gate]]s judged on the validation split; empty: all gates
  std::string critical_class;              ///< Class name or index as text; orders layers by this class's damage
  std::string strategy = "greedy";         ///< "greedy" (attribution-guided relaxation) | "exhaustive" (tiny models)
  int max_trials = 500;                    ///< Configurations evaluated at most
  int finetune_epochs = 0;                 ///< Fine-tuning of the searched arm after its chain (not during search)
  bool uniform = false;                    ///< Also add "<name>-uniform" (ArmSpec::search_uniform)
  SourceLocation where;
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
  std::vector<std::int64_t> seeds;         ///< The population: K >= 1 seeds (population tests need K >= 2).
  DataSpec data;
  ModelSpec model;
  TrainingSpec training;
  /// First arm is "dense", then the controls: one dense arm fine-tuned per distinct finetune_epochs budget ("dense+ft",
  /// or "dense+ft<N>" when there are several budgets) and one training control per arm whose compressors train
  /// ("<arm> control"); then the compressed arms. reference_of() says which arm each one is compared with.
  std::vector<ArmSpec> arms;
  std::optional<StepSpec> augmentation;    ///< A plugin of kind augmentation, or none.
  std::vector<MetricSpec> metrics;
  std::vector<GateSpec> gates;             ///< [[gate]] tables, file order
  AttributionSpec attribution;             ///< [attribution], or enabled = false
  SearchSpec search;                       ///< [search], or enabled = false
  MemorizationSpec memorization;
  ReportSpec report;
  RunSpec run;                             ///< [run] (isolation; docs/isolation.md)
  std::string output;                      ///< Run directory (relative to the pipeline file), default runs/<name>.
  std::string toml;                        ///< The file's text, stored with the run.
};

/// True for the arms that compress nothing and serve as references: the fine-tuned dense controls and the training
/// controls (not "dense" itself).
bool is_control(const ArmSpec& arm);

/// The arm `arm` is compared with: "dense" for dense and the controls; for a compressed arm its training control
/// when it has one, else the dense control fine-tuned for the same budget when it fine-tunes, else "dense".
std::string reference_of(const Pipeline& pipeline, const ArmSpec& arm);

/// The parameters of one step of a searched chain: SearchSpec::params with `layers` set to `layers` and the searched
/// parameter to `value` (a number becomes an integer when `manifest`, the search plugin's, declares it int): a
/// searched chain applies one such step per compressed layer.
Params search_step_params(const SearchSpec& search, const Manifest& manifest, const ParamValue& value,
                          const std::vector<std::string>& layers);

/// Parses and validates `path` against `registry`. Throws compaudit::Error (pipeline or parameters) with file, line
/// and column. Never opens a plugin library.
Pipeline load_pipeline(const std::string& path, const Registry& registry);

}  // namespace compaudit::host
