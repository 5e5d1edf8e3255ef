// discovery_bench — manifest-first discovery against loading every library.
//
// Generates N manifests in one directory — the layout of an installed lib/compaudit/plugins/ — each beside its own
// *copy* of a real plugin library (copies, so that "load them all" really maps N files; symlinks would be loaded
// once). Then times:
//   1. `compaudit plugins list` as a whole process (start-up included), N plugins on --plugin-path, with the
//      registry cache warm (manifests unchanged since the last run) and off (every manifest parsed);
//   2. `compaudit validate` of a pipeline whose arms and metric use 20 of those plugins;
//   3. opening every library in-process with the real Loader (dlopen RTLD_NOW + descriptor checks), no process
//      start-up counted — which flatters loading, so the ratio is conservative.
// Prints the medians and the ratio load/list. Targets: list < 50 ms and >= 20x faster than loading all.
// With --manifest FILE the manifests are copies of a real one, e.g. manifests/prune_magnitude.toml
// (5 parameters with docs, choices and refers_to), with the id made distinct (".._pNNNN") and `library` naming the
// copy; otherwise a generated two-parameter manifest. Also printed, to show where the listing's time goes: process
// start-up alone (`compaudit --version`) and Registry::discover in this process (walk, one stat per manifest, cache
// read and check); the rest of the listing is formatting and printing the table.
//
//   discovery_bench COMPAUDIT_EXE WORK_DIR LIBRARY.so... [--count N] [--repeat R] [--manifest FILE]
#include <compaudit/host/loader.h>
#include <compaudit/host/manifest.h>
#include <compaudit/host/registry.h>

#include "support/process_timing.h"

#include <fmt/format.h>

#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using bench::Clock;
using bench::seconds_since;
using bench::time_process;
using bench::Times;

namespace {

Times median(std::vector<Times> v) {
  Times m;
  std::sort(v.begin(), v.end(), [](const Times& a, const Times& b) { return a.wall < b.wall; });
  m.wall = v[v.size() / 2].wall;
  std::sort(v.begin(), v.end(), [](const Times& a, const Times& b) { return a.cpu < b.cpu; });
  m.cpu = v[v.size() / 2].cpu;
  return m;
}

double process_cpu_seconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// What a library's descriptor says (read once, outside the timings): the generated manifests need its kind, and
// loading needs its id.
struct Source {
  fs::path library;
  compaudit::host::LibraryInfo info;
};

Source describe(const fs::path& library) {
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw std::runtime_error(::dlerror());
  auto entry = reinterpret_cast<compaudit_plugin_entry_fn*>(::dlsym(handle, COMPAUDIT_PLUGIN_ENTRY_NAME));
  if (!entry) throw std::runtime_error(library.string() + " is not a compaudit plugin");
  const compaudit::PluginDescriptor* d = entry();
  Source s{library, {}};
  s.info.id = d->id;
  s.info.kind = d->kind;
  return s;  // the handle stays open: the source library is not one of the timed copies
}

// `template_text` with its id line set to `id` and its library line to `library` (TOML keys at the top level).
std::string manifest_copy(const std::string& template_text, const std::string& id, const std::string& library) {
  std::string out = std::regex_replace(template_text, std::regex(R"re(^id\s*=\s*"[^"]*")re", std::regex::multiline),
                                       "id = \"" + id + "\"");
  return std::regex_replace(out, std::regex(R"re(^library\s*=\s*"[^"]*")re", std::regex::multiline),
                            "library = \"" + library + "\"");
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return ss.str();
}

std::string template_id(const std::string& text) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"re(^id\s*=\s*"([^"]*)")re", std::regex::multiline)))
    throw std::runtime_error("the --manifest file has no id line");
  return m[1];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: discovery_bench COMPAUDIT_EXE WORK_DIR LIBRARY.so... [--count N] [--repeat R]\n";
    return 2;
  }
  const std::string exe = fs::absolute(argv[1]).string();
  const fs::path work = fs::absolute(argv[2]);
  std::vector<fs::path> libraries;
  int count = 1000, repeat = 7;
  std::string template_text;  // --manifest: copies of a real manifest
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count" && i + 1 < argc) count = std::stoi(argv[++i]);
    else if (a == "--manifest" && i + 1 < argc) template_text = read_text(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
    else libraries.push_back(fs::absolute(a));
  }
  std::vector<Source> sources;
  for (const auto& l : libraries) sources.push_back(describe(l));

  // 1. Generate: plugins/{libpNNNN.so, pNNNN.toml}; ids org.bench.<kind>.pNNNN with a realistic schema.
  fs::remove_all(work);
  const fs::path plugins = work / "plugins";
  std::vector<std::pair<std::string, std::string>> ids;  // id, kind
  for (int i = 0; i < count; ++i) {
    const Source& s = sources[i % sources.size()];
    const std::string name = fmt::format("p{:04}", i);
    const fs::path dir = plugins;
    const std::string lib = "lib" + name + ".so";
    fs::create_directories(dir);
    fs::copy_file(s.library, dir / lib);
    if (!template_text.empty()) {
      const std::string id = fmt::format("{}_{}", template_id(template_text), name);
      ids.emplace_back(id, s.info.kind);
      std::ofstream(dir / (name + ".toml")) << manifest_copy(template_text, id, lib);
      continue;
    }
    const std::string id = fmt::format("org.bench.{}.{}", s.info.kind, name);
    ids.emplace_back(id, s.info.kind);
    std::ofstream(dir / (name + ".toml")) << fmt::format(
        R"(id = "{}"
version = "1.0.{}"
kind = "{}"
library = "{}"
abi = 1
description = "Benchmark copy {} of {}"
license = "MIT"

[[param]]
name = "sparsity"
type = "float"
default = 0.5
min = 0.0
max = 1.0
doc = "Fraction of weights set to zero. Default: 0.5"

[[param]]
name = "scope"
type = "string"
default = "global"
choices = ["global", "layerwise"]
doc = "Default: global"
)",
        id, i, s.info.kind, lib, i, s.info.id);
  }

  // 2. A pipeline using 20 of them: 19 compressors in arms (a sweep on the first) and 1 metric, when available.
  std::ofstream(work / "data.csv") << "a,b,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.1,0\n0.2,0.9,1\n";
  std::string pipeline = "[audit]\nname = \"bench\"\nseeds = 3\n\n[data]\nformat = \"csv\"\ntrain = \"data.csv\"\n\n"
                         "[model]\narch = \"mlp\"\nhidden = [16]\n";
  int used = 0;
  bool have_metric = false;
  for (const auto& [id, kind] : ids) {
    if (kind == "metric" && !have_metric) {
      pipeline += fmt::format("\n[[metric]]\nplugin = \"{}\"\n", id);
      have_metric = true;
      ++used;
    } else if (kind == "compressor" && used < 19 + !have_metric) {
      pipeline += fmt::format("\n[[arm]]\nname = \"a{}\"\nfinetune_epochs = 1\n  [[arm.step]]\n  plugin = \"{}\"\n"
                              "  sparsity = {}\n",
                              used, id, used == 0 ? "[0.5, 0.7, 0.9]" : "0.8");
      ++used;
    }
    if (used >= 20 && have_metric) break;
  }
  std::ofstream(work / "pipeline.toml") << pipeline;
  const bool can_validate = have_metric && used >= 2;

  // 3. Time the front end as whole processes: with the registry cache warm (the normal case: manifests unchanged
  //    since the last run) and with it off (every manifest parsed).
  const std::string cache = (work / "registry.bin").string();
  std::vector<Times> list_t, validate_t, cold_t;
  const std::vector<std::string> list_cmd = {exe, "plugins", "list", "--plugin-path", plugins.string()};
  const std::vector<std::string> validate_cmd = {exe, "validate", "--plugin-path", plugins.string(),
                                                 (work / "pipeline.toml").string()};
  ::setenv("COMPAUDIT_REGISTRY_CACHE", "off", 1);
  time_process(list_cmd);  // warm the page cache
  for (int r = 0; r < repeat; ++r) cold_t.push_back(time_process(list_cmd));
  ::setenv("COMPAUDIT_REGISTRY_CACHE", cache.c_str(), 1);
  time_process(list_cmd);  // fills the registry cache
  for (int r = 0; r < repeat; ++r) list_t.push_back(time_process(list_cmd));
  if (can_validate)
    for (int r = 0; r < repeat; ++r) validate_t.push_back(time_process(validate_cmd));
  std::vector<Times> startup_t, discover_t;  // where the listing's time goes
  for (int r = 0; r < repeat; ++r) startup_t.push_back(time_process({exe, "--version"}));
  compaudit::host::SearchPaths search = compaudit::host::SearchPaths::standard({plugins.string()});
  std::size_t discovered = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = Clock::now();
    const double c0 = process_cpu_seconds();
    discovered = compaudit::host::Registry::discover(search).plugins().size();
    discover_t.push_back({seconds_since(t0), process_cpu_seconds() - c0});
  }

  // 4. Open every library with the real loader (once: the libraries stay loaded).
  const auto start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  compaudit::host::Loader loader;
  for (int i = 0; i < count; ++i) {
    const std::string name = fmt::format("p{:04}", i);
    auto m = compaudit::host::parse_manifest((plugins / (name + ".toml")).string());
    m.id = sources[i % sources.size()].info.id;  // the copies all carry their source's descriptor id
    loader.open(m);
  }
  const Times load{seconds_since(start), process_cpu_seconds() - cpu_start};
  const Times list = median(list_t);
  fmt::print("discovery benchmark: {} plugins (copies of {} librar{}; manifests: {}), median of {} runs\n", count,
             sources.size(), sources.size() == 1 ? "y" : "ies",
             template_text.empty() ? "generated" : "copies of " + template_id(template_text), repeat);
  for (const auto& s : sources) fmt::print("  source: {} ({} {})\n", s.library.string(), s.info.kind, s.info.id);
  fmt::print("                                              wall        cpu\n");
  const Times cold = median(cold_t);
  fmt::print("  compaudit plugins list (whole process): {:8.1f} ms {:8.1f} ms   target < 50 ms: {}\n",
             list.wall * 1e3, list.cpu * 1e3, list.wall < 0.050 ? "met" : (list.cpu < 0.050 ? "met in CPU time" : "NOT met"));
  fmt::print("    same, registry cache off (cold):      {:8.1f} ms {:8.1f} ms\n", cold.wall * 1e3, cold.cpu * 1e3);
  const Times startup = median(startup_t), discover = median(discover_t);
  fmt::print("    of which process start-up (--version): {:7.1f} ms {:8.1f} ms\n", startup.wall * 1e3,
             startup.cpu * 1e3);
  fmt::print("    of which Registry::discover (warm):    {:7.1f} ms {:8.1f} ms   ({} plugins, in-process)\n",
             discover.wall * 1e3, discover.cpu * 1e3, discovered);
  fmt::print("    rest (CLI set-up, table, printing):    {:7.1f} ms\n",
             std::max(0.0, list.wall - startup.wall - discover.wall) * 1e3);
  if (can_validate) {
    const Times v = median(validate_t);
    fmt::print("  compaudit validate, 20 plugins:         {:8.1f} ms {:8.1f} ms\n", v.wall * 1e3, v.cpu * 1e3);
  }
  fmt::print("  open every library (in-process Loader): {:8.1f} ms {:8.1f} ms   ({} libraries)\n", load.wall * 1e3,
             load.cpu * 1e3, loader.library_count());
  fmt::print("  ratio load-all / list: {:.1f}x wall, {:.1f}x cpu (cache off: {:.1f}x, {:.1f}x)   target >= 20x: {}\n",
             load.wall / list.wall, load.cpu / list.cpu, load.wall / cold.wall, load.cpu / cold.cpu,
             load.wall / list.wall >= 20 ? "met" : "NOT met");
  return 0;
}
