// The plain tables of a pipeline. Each reader marks the keys it knows; TableReader::finish() turns any other key
// into an error, so a misspelt option never silently does nothing.
#include "pipeline_detail.h"

#include <compaudit/host/run_directory.h>

#include <fmt/format.h>

#include <cctype>
#include <set>

namespace fs = std::filesystem;

namespace compaudit::host::detail {
namespace {

constexpr ErrorCode kPipeline = ErrorCode::pipeline;
constexpr std::int64_t kMaxSeeds = 100000;

const toml::table* subtable(TableReader& root, const std::string& key) {
  const toml::node* n = root.node(key);
  if (!n) return nullptr;
  if (const toml::table* t = n->as_table()) return t;
  root.fail_value(*n, fmt::format("'{}' must be a table ([{}])", key, key));
}

void in_range(TableReader& r, const std::string& key, double v, double lo, double hi, bool lo_open, bool hi_open) {
  const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok)
    r.fail(key, fmt::format("{} = {} must be in {}{}, {}{}", key, v, lo_open ? "(" : "[", lo, hi,
                            hi_open ? ")" : "]"));
}

void read_audit(TableReader& root, const std::string& file, const fs::path& dir, Pipeline& out) {
  const toml::table* t = subtable(root, "audit");
  if (!t) throw Error(kPipeline, "the [audit] table (name, seeds) is missing", {file, 1, 1});
  TableReader r(*t, file, "[audit]", kPipeline);
  out.name = r.required_string("name");
  if (out.name.empty() || out.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                     "._-") != std::string::npos)
    r.fail("name", fmt::format("name \"{}\" may use only letters, digits, '.', '_' and '-' (it names the run "
                               "directory)", out.name));
  if (out.name == "." || out.name == "..")  // runs/<name> would be runs/ itself or the pipeline's directory
    r.fail("name", fmt::format("name \"{}\" is not a name (it names the run directory, runs/<name>)", out.name));
  // seeds may be left out when [model] fixes them (checkpoints, a pretrained file, saved predictions):
  // settle_seeds() fills them in once [model] is read.
  if (const toml::node* seeds = r.node("seeds")) {
    if (auto k = seeds->as_integer()) {
      if (k->get() < 1 || k->get() > kMaxSeeds)
        r.fail_value(*seeds, fmt::format("seeds = {} must be in 1..{} (population tests need at least 2)", k->get(),
                                         kMaxSeeds));
      for (std::int64_t s = 0; s < k->get(); ++s) out.seeds.push_back(s);
    } else if (auto list = r.integers("seeds")) {
      std::set<std::int64_t> unique(list->begin(), list->end());
      if (unique.size() != list->size()) r.fail_value(*seeds, "seeds: the list repeats a seed");
      if (list->empty() || list->size() > static_cast<std::size_t>(kMaxSeeds))
        r.fail_value(*seeds, fmt::format("seeds: the list must hold 1..{} seeds", kMaxSeeds));
      out.seeds = *list;
    }
  }
  const std::string output = r.string("output").value_or("runs/" + out.name);
  out.output = (fs::path(output).is_absolute() ? fs::path(output) : dir / output).lexically_normal().string();
  // A run directory is new, empty or a compaudit run (compaudit/host/run_directory.h); it may be anywhere, above the
  // pipeline's directory too, but never the filesystem root or a directory of someone else's files.
  if (r.node("output"))
    if (const std::string why = run_directory_problem(out.output); !why.empty())
      r.fail("output", fmt::format("output = \"{}\" ({}): {}", output, out.output, why));
  r.finish();
}

void read_data(TableReader& root, const std::string& file, const fs::path& dir, Pipeline& out) {
  const toml::table* t = subtable(root, "data");
  if (!t) throw Error(kPipeline, "the [data] table is missing", {file, 1, 1});
  TableReader r(*t, file, "[data]", kPipeline);
  DataSpec& d = out.data;
  d.where = r.where();
  d.format = r.required_string("format");
  one_of(r, "format", d.format, {"idx", "cifar10", "csv", "npy", "npz", "images"});
  auto file_key = [&](const std::string& key, bool required) -> std::string {
    auto v = r.string(key);
    if (!v) {
      if (required) r.fail(key, fmt::format("[data]: format \"{}\" needs '{}'", d.format, key));
      return {};
    }
    return existing_file(r, key, *v, dir);
  };
  auto files_key = [&](const std::string& key) {
    auto v = r.strings(key);
    if (!v || v->empty()) r.fail(key, fmt::format("[data]: format \"{}\" needs a non-empty '{}'", d.format, key));
    std::vector<std::string> out_files;
    for (const auto& f : *v) out_files.push_back(existing_file(r, key, f, dir));
    return out_files;
  };
  if (d.format == "idx") {
    d.train = file_key("train", true);
    d.train_labels = file_key("train_labels", true);
    d.test = file_key("test", true);
    d.test_labels = file_key("test_labels", true);
  } else if (d.format == "cifar10") {
    d.train_files = files_key("train_files");
    d.test_files = files_key("test_files");
  } else if (is_user_data_format(d.format)) {
    read_user_data(r, dir, d);  // npy, npz, images (pipeline_user_data.cpp)
  } else {
    d.train = file_key("train", true);
    d.test = file_key("test", false);
    if (const toml::node* lc = r.node("label_column")) {
      if (auto i = lc->as_integer()) {
        if (i->get() < 0) r.fail_value(*lc, "label_column must be \"first\", \"last\" or an index >= 0");
        d.label_column = std::to_string(i->get());
      } else if (auto s = lc->as_string()) {
        d.label_column = s->get();
        if (d.label_column != "first" && d.label_column != "last" &&
            d.label_column.find_first_not_of("0123456789") != std::string::npos)
          r.fail_value(*lc, "label_column must be \"first\", \"last\" or an index >= 0");
      } else {
        r.fail_value(*lc, "label_column must be \"first\", \"last\" or an index >= 0");
      }
    }
    d.header = r.boolean("header").value_or(d.header);
  }
  d.train_limit = r.integer("train_limit").value_or(0);
  if (d.train_limit < 0) r.fail("train_limit", "train_limit must be >= 0 (0 = all)");
  d.test_limit = r.integer("test_limit").value_or(0);
  if (d.test_limit < 0) r.fail("test_limit", "test_limit must be >= 0 (0 = all)");
  d.test_fraction = r.number("test_fraction").value_or(d.test_fraction);
  in_range(r, "test_fraction", d.test_fraction, 0, 1, true, true);
  d.validation_fraction = r.number("validation_fraction").value_or(d.validation_fraction);
  in_range(r, "validation_fraction", d.validation_fraction, 0, 1, false, true);
  d.imbalance = r.number("imbalance").value_or(d.imbalance);
  in_range(r, "imbalance", d.imbalance, 0, 1, true, false);
  d.normalize = r.string("normalize").value_or(d.normalize);
  one_of(r, "normalize", d.normalize, {"standard", "minmax", "none"});
  d.split_seed = r.integer("split_seed").value_or(0);
  if (auto names = r.strings("class_names")) d.class_names = *names;
  // The store keeps labels as int16 (compaudit/store/records.h), hence the bound.
  d.num_classes = r.integer("num_classes").value_or(0);
  if (r.node("num_classes") && (d.num_classes < 2 || d.num_classes > 32767))
    r.fail("num_classes", fmt::format("num_classes = {} must be in 2..32767", d.num_classes));
  if (d.num_classes > 0 && !d.class_names.empty() && static_cast<std::size_t>(d.num_classes) != d.class_names.size())
    r.fail("num_classes", fmt::format("num_classes = {} but class_names names {} classes", d.num_classes,
                                      d.class_names.size()));
  check_test_only(r, d);
  r.finish();
}

void read_model(TableReader& root, const std::string& file, const fs::path& dir, Pipeline& out) {
  const toml::table* t = subtable(root, "model");
  if (!t) throw Error(kPipeline, "the [model] table is missing", {file, 1, 1});
  TableReader r(*t, file, "[model]", kPipeline);
  ModelSpec& m = out.model;
  m.where = r.where();
  if (auto predictions = r.string("predictions")) {
    // The reference is given as saved outputs: there is no model to build, train or compress.
    if (r.has("arch") || r.has("path") || r.has("checkpoints") || r.has("hidden"))
      r.fail("predictions", "[model]: 'predictions' replaces the model; drop arch, path, checkpoints and hidden");
    m.arch = "predictions";
    m.predictions = existing_file(r, "predictions", *predictions, dir);
    r.finish();
    return;
  }
  m.arch = r.required_string("arch");
  one_of(r, "arch", m.arch, {"mlp", "cnn", "resnet", "torchscript"});
  if (auto hidden = r.integers("hidden")) {
    for (auto h : *hidden)
      if (h <= 0) r.fail("hidden", "hidden sizes must be positive");
    m.hidden = *hidden;
  }
  if (auto path = r.string("path")) {
    if (m.arch != "torchscript") r.fail("path", "path is only used with arch = \"torchscript\"");
    m.path = existing_file(r, "path", *path, dir);
  }
  if (auto files = r.strings("checkpoints")) {
    if (m.arch != "torchscript") r.fail("checkpoints", "checkpoints are TorchScript files: use arch = \"torchscript\"");
    if (!m.path.empty()) r.fail("checkpoints", "give either path (one model) or checkpoints (one per seed), not both");
    if (files->empty()) r.fail("checkpoints", "checkpoints is empty: list one TorchScript file per seed");
    for (const auto& f : *files) m.checkpoints.push_back(existing_file(r, "checkpoints", f, dir));
  }
  if (m.arch == "torchscript" && m.path.empty() && m.checkpoints.empty())
    r.fail("arch", "arch = \"torchscript\" needs 'path' (a module saved with torch.jit.save) or 'checkpoints'");
  if (auto init = r.string("init")) {
    one_of(r, "init", *init, {"reset", "keep"});
    if (m.arch != "torchscript") r.fail("init", "init is only used with arch = \"torchscript\"");
    m.init = *init;
  }
  r.finish();
}

// [training] and [model] together decide whether anything is trained: pretrained files and saved predictions are
// not trained unless [training] says epochs > 0; built-in architectures always are.
void settle_training(const toml::table& root, const std::string& file, Pipeline& out) {
  ModelSpec& m = out.model;
  TrainingSpec& s = out.training;
  const bool from_files = m.arch == "predictions" || m.arch == "torchscript";
  const toml::table* t = root.get_as<toml::table>("training");
  const bool epochs_given = t && t->contains("epochs");
  if (!epochs_given && from_files) s.epochs = 0;
  const SourceLocation where = epochs_given ? location(t->get("epochs")->source(), file) : m.where;
  if (s.epochs == 0 && m.arch != "torchscript" && m.arch != "predictions")
    throw Error(kPipeline, fmt::format("epochs = 0 with arch = \"{}\" would audit untrained, random models; "
                                       "train them (epochs >= 1) or audit a pretrained TorchScript model", m.arch),
                where);
  if (s.epochs > 0 && m.arch == "predictions")
    throw Error(kPipeline, "[model] predictions are saved outputs: there is no model to train (epochs must be 0)",
                where);
  if (m.arch == "torchscript") {
    if (s.epochs == 0) {
      if (!m.init.empty())
        throw Error(kPipeline, "init applies to models trained here; with epochs = 0 the file's weights are audited",
                    m.where);
      m.pretrained = true;
    } else if (m.init.empty()) {
      m.init = m.checkpoints.empty() ? "reset" : "keep";
    } else if (m.init == "reset" && !m.checkpoints.empty()) {
      throw Error(kPipeline, "init = \"reset\" would discard the checkpoints' weights; use init = \"keep\" to "
                             "train on from them, or path = one architecture file", m.where);
    }
  }
}

// K: given by [audit] seeds, or by [model] when it fixes the population (one file per seed, one pretrained model,
// saved predictions). One pretrained file cannot make K > 1 different models.
void settle_seeds(const std::string& file, Pipeline& out) {
  const ModelSpec& m = out.model;
  if (out.seeds.empty()) {
    if (!m.checkpoints.empty()) {
      for (std::size_t k = 0; k < m.checkpoints.size(); ++k) out.seeds.push_back(static_cast<std::int64_t>(k));
    } else if (m.pretrained || m.arch == "predictions") {
      out.seeds.push_back(0);
    } else {
      throw Error(kPipeline, "[audit]: required key 'seeds' is missing (an integer K, or a list of seeds)",
                  {file, 1, 1});
    }
  }
  if (!m.checkpoints.empty() && m.checkpoints.size() != out.seeds.size())
    throw Error(kPipeline, fmt::format("[model] checkpoints lists {} files but [audit] seeds gives {} seeds: one "
                                       "checkpoint per seed", m.checkpoints.size(), out.seeds.size()),
                m.where);
  if (m.pretrained && m.checkpoints.empty() && out.seeds.size() > 1)
    throw Error(kPipeline, fmt::format("one pretrained model cannot make a population of {}: its copies would be "
                                       "identical. Use seeds = 1, checkpoints = [one file per seed], or train "
                                       "([training] epochs >= 1)", out.seeds.size()),
                m.where);
}

void read_training(TableReader& root, const std::string& file, Pipeline& out) {
  TrainingSpec& s = out.training;
  const toml::table* t = subtable(root, "training");
  if (!t) return;  // every training setting has a default
  TableReader r(*t, file, "[training]", kPipeline);
  s.where = r.where();
  // Range-checked as int64 before narrowing: epochs = 4294967297 must not pass as 1 (likewise threads, models).
  const std::int64_t epochs = r.integer("epochs").value_or(s.epochs);
  if (epochs < 0 || epochs > 100000)
    r.fail("epochs", fmt::format("epochs = {} must be in 0..100000 (0: audit pretrained weights)", epochs));
  s.epochs = static_cast<int>(epochs);
  s.batch_size = r.integer("batch_size").value_or(s.batch_size);
  if (s.batch_size < 1) r.fail("batch_size", "batch_size must be at least 1");
  s.optimizer = r.string("optimizer").value_or(s.optimizer);
  one_of(r, "optimizer", s.optimizer, {"sgd", "adam"});
  s.lr = r.number("lr").value_or(s.lr);
  in_range(r, "lr", s.lr, 0, 1e3, true, false);
  s.momentum = r.number("momentum").value_or(s.momentum);
  in_range(r, "momentum", s.momentum, 0, 1, false, true);
  s.weight_decay = r.number("weight_decay").value_or(s.weight_decay);
  in_range(r, "weight_decay", s.weight_decay, 0, 1, false, false);
  s.schedule = r.string("schedule").value_or(s.schedule);
  one_of(r, "schedule", s.schedule, {"constant", "cosine", "step"});
  const std::int64_t threads = r.integer("threads").value_or(s.threads);
  if (threads < 0 || threads > 1024) r.fail("threads", fmt::format("threads = {} must be in 0..1024 (0 = all cores)", threads));
  s.threads = static_cast<int>(threads);
  r.finish();
}

void read_memorization(TableReader& root, const std::string& file, Pipeline& out) {
  const toml::table* t = subtable(root, "memorization");
  if (!t) return;
  TableReader r(*t, file, "[memorization]", kPipeline);
  MemorizationSpec& m = out.memorization;
  m.enabled = true;
  if (!out.model.checkpoints.empty())
    r.fail("models", "[memorization] trains models from scratch, which checkpoints (one file per seed) do not "
                     "describe; use path = one architecture file with [training] epochs >= 1");
  if (out.training.epochs == 0)
    r.fail("models", "[memorization] trains models from scratch on subsets of the training data; a pretrained "
                     "audit (epochs = 0) trains nothing, so it has no memorization estimate");
  const std::int64_t models = r.integer("models").value_or(8);
  if (models < 2 || models > 10000) r.fail("models", fmt::format("models = {} must be in 2..10000", models));
  m.models = static_cast<int>(models);
  m.fraction = r.number("fraction").value_or(m.fraction);
  in_range(r, "fraction", m.fraction, 0, 1, true, true);
  const std::int64_t epochs = r.integer("epochs").value_or(0);
  if (epochs < 0 || epochs > 100000) r.fail("epochs", fmt::format("epochs = {} must be in 0..100000 (0 = [training] epochs)", epochs));
  m.epochs = static_cast<int>(epochs);
  r.finish();
}

void read_report(TableReader& root, const std::string& file, Pipeline& out) {
  const toml::table* t = subtable(root, "report");
  if (!t) return;
  TableReader r(*t, file, "[report]", kPipeline);
  ReportSpec& s = out.report;
  if (auto formats = r.strings("formats")) {
    for (const auto& f : *formats) one_of(r, "formats", f, {"json", "html", "terminal"});
    s.formats = *formats;
  }
  // One source of truth: the significance level and the correction belong to the metric that tests (a plugin is
  // self-contained), so [report] refuses them rather than store settings no metric reads.
  for (const char* key : {"alpha", "correction"})
    if (r.has(key))
      r.fail(key, fmt::format("{0} is not a [report] setting: set it on the [[metric]] that tests (e.g. {0} = ... "
                              "under plugin = \"org.compaudit.metric.recall_welch\"; recall_welch and mcnemar "
                              "own alpha and correction, pie its alpha)",
                              key));
  r.finish();
}

}  // namespace

void one_of(TableReader& r, const std::string& key, const std::string& value, std::initializer_list<const char*> ok) {
  std::string list;
  for (const char* o : ok) {
    if (value == o) return;
    list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", o);
  }
  r.fail(key, fmt::format("{} = \"{}\" is not one of {}", key, value, list));
}

std::string existing_file(TableReader& r, const std::string& key, const std::string& value, const fs::path& dir) {
  const fs::path p = fs::path(value).is_absolute() ? fs::path(value) : (dir / value).lexically_normal();
  std::error_code ec;
  if (!fs::is_regular_file(p, ec))
    throw Error(ErrorCode::data,
                fmt::format("{} = \"{}\": {} {}", key, value, p.string(),
                            fs::exists(p, ec) ? "is not a regular file" : "does not exist"),
                r.where(key));
  return p.string();
}

bool read_sections(const toml::table& root, const std::string& file, const fs::path& dir, Pipeline& out,
                   ErrorCollector& errors) {
  TableReader r(root, file, "pipeline", kPipeline);
  // Tables are independent, except that training and the seeds are settled from [audit], [model] and [training]
  // together, and [memorization] is checked against them: those wait for their inputs to be read without error.
  const bool audit = errors.check([&] { read_audit(r, file, dir, out); });
  errors.check([&] { read_data(r, file, dir, out); });
  const bool model = errors.check([&] { read_model(r, file, dir, out); });
  const bool training = errors.check([&] { read_training(r, file, out); });
  const bool settled = model && training && errors.check([&] { settle_training(root, file, out); }) && audit &&
                       errors.check([&] { settle_seeds(file, out); });
  if (settled)
    errors.check([&] { read_memorization(r, file, out); });
  else  // unchecked, but present: a metric that needs memorization scores is not refused for want of them
    out.memorization.enabled = root.contains("memorization");
  r.allow("memorization");
  errors.check([&] { read_report(r, file, out); });
  errors.check([&] { read_run(r, file, out); });  // [run]: isolation settings (pipeline_run.cpp)
  for (const char* plugin_table : {"arm", "augmentation", "metric", "gate", "search", "attribution"})
    r.allow(plugin_table);
  errors.check([&] { r.finish(); });
  return settled;
}

}  // namespace compaudit::host::detail
