// Fail before work (docs/cli.md): `compaudit run` creates every plugin of the pipeline — each arm
// step's compressor at every sweep point, each metric, the augmentation — before it loads data, trains or creates a
// store, and exits 3 with one message naming the plugin, its manifest, the arm and the plugin's error; isolated,
// the creation runs in a worker, so a plugin that crashes there does not take the host down. `validate --load` does
// the same on demand. Through the real executable, with the fault compressor (fault_plugin.cpp: "throw_create",
// "segv_create") and a copy of its manifest with a parameter renamed or retyped.
#include "cli_process.h"

#include <compaudit/host/exit_codes.h>

#include <catch2/catch.hpp>

using namespace isolation_test;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// K = 2, and one [[arm]] of the fault compressor with `step` (the lines under its [[arm.step]] plugin line).
std::string fault_pipeline(const std::string& name, const std::string& step) {
  compaudit::test_support::DigitsAudit audit;
  audit.name = name;
  audit.seeds = 2;
  audit.hidden = "[16]";
  audit.arms = "\n[[arm]]\nname = \"fault\"\n  [[arm.step]]\n  plugin = \"org.test.compressor.fault\"\n" + step;
  audit.metrics = {"top1", "pie"};
  return audit.toml();
}

const std::string kManifest = std::string(ISOLATION_PLUGIN_DIR) + "/fault.toml";

}  // namespace

TEST_CASE("A plugin whose constructor throws stops run with exit 3 before any cell or store",
          "[isolation][failfast]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const fs::path dir = scratch_dir("failfast-throw");
  // A sweep: only the second point cannot be created, and the message names that arm, not the first.
  write_text(dir / "p.toml", fault_pipeline("failfast", "  fault = [\"none\", \"throw_create\"]\n"));
  for (const char* isolate : {"none", "process"}) {
    DYNAMIC_SECTION("--isolate " << isolate) {
      const fs::path run_dir = dir / (std::string("run-") + isolate);
      const fs::path log = dir / (std::string(isolate) + ".log");
      const auto t0 = std::chrono::steady_clock::now();
      const int rc = run({"run", (dir / "p.toml").string(), "-o", run_dir.string(), "--isolate", isolate,
                          "--plugin-path", ISOLATION_PLUGIN_DIR},
                         log);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const std::string text = read_text(log);
      INFO(text);
      CHECK(rc == compaudit::host::exit_plugin);
      CHECK(has(text, "a plugin of the pipeline cannot be created, so nothing was run"));
      // One line: pipeline file:line:column, plugin id, manifest, the arm of the sweep point, the plugin's error.
      CHECK(has(text, (dir / "p.toml").string() + ":23:3: plugin error: "));  // the [[arm.step]] table
      CHECK(has(text, "plugin error: org.test.compressor.fault (manifest " + kManifest + ") cannot be created for "
                      "arm 'fault@fault=throw_create' step 1: its create() threw: runtime error: the fault plugin "
                      "throws in its constructor, as asked"));
      CHECK_FALSE(has(text, "fault@fault=none"));
      // Before any work: no run directory at all (so no store and no cell), and no progress line of a cell.
      CHECK_FALSE(fs::exists(run_dir));
      CHECK_FALSE(has(text, "cell 1/"));  // the first progress line of a run without a terminal
      CHECK(seconds < 30);  // no training (two dense MLPs on digits would take longer with a worker per cell)
    }
  }
}

TEST_CASE("A plugin that crashes while being created, isolated, stops run with exit 3 and the host survives",
          "[isolation][failfast]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const fs::path dir = scratch_dir("failfast-segv");
  write_text(dir / "p.toml", fault_pipeline("failfast-segv", "  fault = \"segv_create\"\n"));
  const fs::path run_dir = dir / "run";
  const int rc = run({"run", (dir / "p.toml").string(), "-o", run_dir.string(), "--isolate", "process",
                      "--plugin-path", ISOLATION_PLUGIN_DIR},
                     dir / "run.log");
  const std::string text = read_text(dir / "run.log");
  INFO(text);
  CHECK(rc == compaudit::host::exit_plugin);  // not 128 + 11: the host was not the process that crashed
  CHECK(has(text, (dir / "p.toml").string() + ":23:3: plugin error: org.test.compressor.fault (manifest " + kManifest +
                  ") cannot be created for arm 'fault' step 1: killed by signal 11 (SIGSEGV) in its worker process "
                  "while being created"));
  CHECK_FALSE(fs::exists(run_dir));
}

TEST_CASE("A parameter renamed or retyped in a copied manifest stops run with exit 3 naming manifest, parameter and "
          "types",
          "[isolation][failfast]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const fs::path dir = scratch_dir("failfast-manifest");
  const fs::path plugins = dir / "plugins";
  fs::create_directories(plugins);
  fs::copy_file(fs::path(ISOLATION_PLUGIN_DIR) / "libtest_fault.so", plugins / "libtest_fault.so");
  const std::string manifest = read_text(kManifest);
  const std::string seed_param = "name = \"seed\"\ntype = \"int\"\ndefault = -1\nmin = -1\n";
  REQUIRE(has(manifest, seed_param));
  struct Edit {
    const char* what;
    std::string param;     // the [[param]] "seed" as the copied manifest declares it
    const char* expected;  // in the message, besides the parameter's name and the manifest's path
  };
  const Edit edits[] = {
      {"renamed", "name = \"victim\"\ntype = \"int\"\ndefault = -1\nmin = -1\n", "victim"},
      {"retyped", "name = \"seed\"\ntype = \"float\"\ndefault = -1.0\nmin = -1.0\n", "float"},
  };
  write_text(dir / "p.toml", fault_pipeline("failfast-manifest", ""));  // every parameter at its default
  for (const auto& edit : edits) {
    DYNAMIC_SECTION(edit.what) {
      std::string copy = manifest;
      copy.replace(copy.find(seed_param), seed_param.size(), edit.param);
      write_text(plugins / "fault.toml", copy);
      const fs::path run_dir = dir / (std::string("run-") + edit.what);
      const fs::path log = dir / (std::string(edit.what) + ".log");
      const int rc = run({"run", (dir / "p.toml").string(), "-o", run_dir.string(), "--isolate", "none",
                          "--plugin-path", plugins.string()},
                         log);
      const std::string text = read_text(log);
      INFO(text);
      CHECK(rc == compaudit::host::exit_plugin);
      CHECK(has(text, "org.test.compressor.fault (manifest " + (plugins / "fault.toml").string() + ")"));
      CHECK(has(text, "arm 'fault' step 1"));
      CHECK(has(text, "'seed'"));
      CHECK(has(text, edit.expected));
      CHECK_FALSE(fs::exists(run_dir));
    }
  }
}

TEST_CASE("validate --load creates every plugin and exits 3 with the same message, validate alone opens none",
          "[isolation][failfast]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const fs::path dir = scratch_dir("failfast-validate");
  write_text(dir / "bad.toml", fault_pipeline("bad", "  fault = [\"none\", \"throw_create\"]\n"));
  write_text(dir / "good.toml", fault_pipeline("good", "  fault = [\"none\", \"throw\"]\n"));  // throws only later
  const std::string plugin_path = ISOLATION_PLUGIN_DIR;
  CHECK(run({"validate", (dir / "bad.toml").string(), "--plugin-path", plugin_path}, dir / "plain.log") == 0);

  const int rc = run({"validate", "--load", (dir / "bad.toml").string(), "--plugin-path", plugin_path},
                     dir / "load.log");
  const std::string text = read_text(dir / "load.log");
  INFO(text);
  CHECK(rc == compaudit::host::exit_plugin);
  CHECK(has(text, "compaudit validate: a plugin of the pipeline cannot be created"));
  CHECK(has(text, "org.test.compressor.fault (manifest " + kManifest + ") cannot be created for arm "
                  "'fault@fault=throw_create' step 1: its create() threw:"));

  const int json_rc = run({"validate", "--load", "--json", (dir / "bad.toml").string(), "--plugin-path", plugin_path},
                          dir / "json.log");
  const auto j = nlohmann::json::parse(read_text(dir / "json.log"));
  CHECK(json_rc == compaudit::host::exit_plugin);
  CHECK(j["valid"] == false);
  REQUIRE(j["errors"].size() == 1);
  CHECK(j["errors"][0]["category"] == "plugin");
  CHECK(j["errors"][0]["plugin"] == "org.test.compressor.fault");
  CHECK(j["errors"][0]["manifest"] == kManifest);
  CHECK(j["errors"][0]["uses"] == nlohmann::json::array({"arm 'fault@fault=throw_create' step 1"}));
  CHECK(j["errors"][0]["file"] == (dir / "bad.toml").string());

  const int good_rc = run({"validate", "--load", (dir / "good.toml").string(), "--plugin-path", plugin_path},
                          dir / "good.log");
  INFO(read_text(dir / "good.log"));
  CHECK(good_rc == 0);
  CHECK(has(read_text(dir / "good.log"), "loaded: every plugin of the pipeline was created"));
}
