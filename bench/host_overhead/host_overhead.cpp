// host_overhead — what the host costs around the compute.
//
//   1. `compaudit validate` of a 50-arm pipeline, as a whole process (start-up, plugin discovery, TOML parsing,
//      parameter checks against every manifest; no plugin library is opened). Target: < 50 ms.
//   2. Loading a plugin after the first, in process, with the real Loader (dlopen of the plugin library, entry point,
//      descriptor checks, instantiate with resolved parameters). The first load pays for the SDK and LibTorch
//      libraries the plugins share; every later one maps only its own small library. Target: < 5 ms.
// Prints medians (wall; CPU for the process, since wall time on a shared machine includes waiting for a core).
//
//   host_overhead COMPAUDIT_EXE PLUGIN_DIR WORK_DIR [--repeat R]
#include <compaudit/host/loader.h>
#include <compaudit/host/manifest.h>
#include <compaudit/host/registry.h>

#include "support/process_timing.h"

#include <fmt/format.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace fs = std::filesystem;
using bench::Clock;
using bench::time_process;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// 50 arms: 25 pruning arms and 25 quantization arms, each its own [[arm]] table, on scikit-learn's digits.
std::string fifty_arm_pipeline() {
  std::string text = R"([audit]
name = "fifty-arms"
seeds = 5
[data]
format = "csv"
train = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
header = false
test_fraction = 0.25
[model]
arch = "mlp"
hidden = [128, 64]
)";
  for (int i = 0; i < 25; ++i) {
    text += fmt::format("[[arm]]\nname = \"prune{}\"\nfinetune_epochs = 1\n  [[arm.step]]\n"
                        "  plugin = \"org.compaudit.prune.magnitude\"\n  sparsity = {:.2f}\n  scope = \"global\"\n",
                        i, 0.5 + 0.018 * i);
    text += fmt::format("[[arm]]\nname = \"quant{}\"\n  [[arm.step]]\n  plugin = \"org.compaudit.quantize.ptq\"\n"
                        "  precision = \"{}\"\n  granularity = \"{}\"\n",
                        i, i % 2 ? "int8" : "int4", i % 3 ? "per_channel" : "per_tensor");
  }
  text += "[[metric]]\nplugin = \"org.compaudit.metric.pie\"\n[[metric]]\nplugin = \"org.compaudit.metric.recall_welch\"\n";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fmt::print(stderr, "usage: host_overhead COMPAUDIT_EXE PLUGIN_DIR WORK_DIR [--repeat R]\n");
    return 2;
  }
  const std::string exe = argv[1], plugin_dir = argv[2];
  const fs::path work = argv[3];
  int repeat = 15;
  if (argc >= 6 && std::string(argv[4]) == "--repeat") repeat = std::max(1, std::atoi(argv[5]));
  fs::create_directories(work);
  const fs::path pipeline = work / "fifty-arms.toml";
  std::ofstream(pipeline) << fifty_arm_pipeline();

  // 1. validate, as a process. One untimed run first (page cache, registry cache).
  const std::vector<std::string> validate{exe, "validate", pipeline.string(), "--plugin-path", plugin_dir};
  time_process(validate);
  std::vector<double> walls, cpus;
  for (int r = 0; r < repeat; ++r) {
    const auto [wall, cpu] = time_process(validate);
    walls.push_back(wall);
    cpus.push_back(cpu);
  }
  fmt::print("validate 50-arm pipeline: median {:.1f} ms wall, {:.1f} ms CPU ({} runs)  target < 50 ms\n",
             1e3 * median(walls), 1e3 * median(cpus), repeat);
  std::fflush(stdout);

  // 2. Loading plugins in process: the first, then each of the others.
  const auto registry = compaudit::host::Registry::discover(compaudit::host::SearchPaths::standard({plugin_dir}));
  compaudit::host::Loader loader;
  std::vector<std::shared_ptr<compaudit::Plugin>> keep;  // keep them loaded, as a run does
  double first = -1;
  std::vector<double> later;
  std::vector<std::string> names;
  for (const auto& m : registry.plugins()) {
    if (m.origin != "--plugin-path") continue;
    compaudit::Params params;
    try {
      std::map<std::string, compaudit::ParamValue> given;
      for (const auto& spec : m.params)
        if (!spec.default_value && spec.type == compaudit::ParamType::real) given[spec.name] = compaudit::ParamValue(0.5);
      params = compaudit::Params::resolve(m.params, given);
    } catch (const std::exception&) {
      continue;  // a plugin with required parameters we do not know how to fill: not part of this measurement
    }
    const auto t0 = Clock::now();
    try {
      keep.push_back(loader.instantiate(m, params));
    } catch (const std::exception&) {
      continue;  // its constructor wants parameters the defaults do not give (truncate.svd: rank or energy)
    }
    const double t = bench::seconds_since(t0);
    if (first < 0) {
      first = t;
      names.insert(names.begin(), m.id);
    } else {
      later.push_back(t);
      names.push_back(m.id);
    }
  }
  fmt::print("load first plugin ({}): {:.1f} ms\n", names.empty() ? "-" : names.front(), 1e3 * first);
  fmt::print("load a plugin after the first: median {:.2f} ms, max {:.2f} ms over {} plugins  target < 5 ms\n",
             1e3 * median(later), 1e3 * (later.empty() ? 0 : *std::max_element(later.begin(), later.end())),
             later.size());
  return 0;
}
