// Fuzz target: pipelines — host::load_pipeline (TOML parsing, every section, plugin uses checked against manifests,
// sweep expansion) against a registry of the built-in manifests (manifests/*.toml) and the core tests' plugin
// manifests (tests/core/data/plugins/*.toml). No library is opened: the registry only needs the files to exist.
//
// Input: the bytes of a pipeline file, written as <scratch>/work/pipeline.toml. Beside it are small files with the
// names the seeds use (tiny.csv, ../data/tiny.csv, IDX and CIFAR-10 names, model.pt, x.npy, y.npy, data.npz, the
// folders photos/ and photos_test/), so the data checks can pass.
// Contract: a Pipeline satisfying the invariants below, or compaudit::Error; nothing else.
#include "fuzz_support.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include <fstream>
#include <set>
#include <sstream>

namespace {
namespace fs = std::filesystem;
using namespace compaudit::host;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Copies every manifest in `from` into `to`, with an empty file for the library it names.
void copy_manifests(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.path().extension() != ".toml") continue;
    const std::string text = read_text(entry.path());
    fuzz::write_file(to / entry.path().filename(), text);
    const auto key = text.find("\nlibrary = \"");
    if (key == std::string::npos) continue;
    const auto start = key + 12, end = text.find('"', start);
    fuzz::write_file(to / text.substr(start, end - start), "");
  }
}

struct World {
  Registry registry;
  fs::path pipeline;
};

const World& world() {
  static const World w = [] {
    const fs::path root = fuzz::scratch_dir();
    const fs::path source = COMPAUDIT_SOURCE_DIR;
    copy_manifests(source / "manifests", root / "plugins" / "builtin");
    copy_manifests(source / "tests" / "core" / "data" / "plugins", root / "plugins" / "test");
    SearchPaths paths;
    paths.dirs = {{(root / "plugins" / "builtin").string(), "built-in"},
                  {(root / "plugins" / "test").string(), "--plugin-path"}};
    World out{Registry::discover(paths), root / "work" / "pipeline.toml"};
    if (out.registry.plugins().size() < 10 || !out.registry.errors().empty()) {
      std::fprintf(stderr, "fuzz_pipeline: the registry has %zu plugins and %zu errors%s%s\n",
                   out.registry.plugins().size(), out.registry.errors().size(),
                   out.registry.errors().empty() ? "" : ": ",
                   out.registry.errors().empty() ? "" : out.registry.errors().front().what());
      std::abort();
    }
    fs::create_directories(root / "work");
    fs::create_directories(root / "data");
    const std::string csv = "f0,f1,label\n0.1,0.2,0\n0.3,0.1,1\n";
    fuzz::write_file(root / "work" / "tiny.csv", csv);
    fuzz::write_file(root / "data" / "tiny.csv", csv);
    for (const char* name : {"train-images", "train-labels", "test-images", "test-labels", "data_batch_1.bin",
                             "test_batch.bin", "model.pt", "x.npy", "y.npy", "data.npz"})
      fuzz::write_file(root / "work" / name, "x");
    fs::create_directories(root / "work" / "photos" / "cat");  // format = "images" wants folders
    fs::create_directories(root / "work" / "photos_test" / "cat");
    return out;
  }();
  return w;
}

void check_pipeline(const Pipeline& p, const Registry& registry) {
  fuzz::require(!p.name.empty(), "the pipeline has a name");
  fuzz::require(!p.seeds.empty(), "at least one seed (K = 1 for a pretrained model)");
  fuzz::require(std::set<std::int64_t>(p.seeds.begin(), p.seeds.end()).size() == p.seeds.size(), "seeds are unique");
  fuzz::require(p.arms.size() >= 2 && p.arms[0].name == "dense" && p.arms[0].steps.empty(), "dense comes first");
  fuzz::require(!p.data.test_only || (p.data.train.empty() && !p.data.test.empty() && p.data.normalize == "none"),
                "test-only data has a test source, no training source and no normalisation");
  std::set<std::string> names;
  for (const auto& arm : p.arms) {
    fuzz::require(names.insert(arm.name).second, "arm names are unique");
    for (const auto& step : arm.steps) {
      const Manifest* m = registry.find(step.plugin);
      fuzz::require(m && m->kind == compaudit::PluginKind::compressor, "every step is an installed compressor");
    }
  }
  fuzz::require(!p.metrics.empty(), "there is a metric");
  for (const auto& metric : p.metrics) {
    const Manifest* m = registry.find(metric.plugin);
    fuzz::require(m && m->kind == compaudit::PluginKind::metric, "every metric is an installed metric");
  }
  if (p.augmentation) {
    const Manifest* m = registry.find(p.augmentation->plugin);
    fuzz::require(m && m->kind == compaudit::PluginKind::augmentation, "the augmentation is an augmentation");
  }
  fuzz::require(std::set<std::string>{"idx", "cifar10", "csv", "npy", "npz", "images"}.count(p.data.format) == 1,
                "a known format");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const World& w = world();
  fuzz::write_file(w.pipeline, data, size);
  try {
    check_pipeline(load_pipeline(w.pipeline.string(), w.registry), w.registry);
  } catch (const compaudit::Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
