// The `compaudit` executable run as a process: exit codes and the output of list, inspect, validate, new-plugin.
#include "test_support.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

using test::contains;

namespace {
struct Result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs compaudit with `args` (a shell-quoted string) and an optional environment prefix.
Result run(const std::string& args, const std::string& env = "") {
  test::TempDir tmp;
  const std::string full =
      fmt::format("env -u COMPAUDIT_PLUGIN_PATH -u COMPAUDIT_REGISTRY_CACHE XDG_DATA_HOME={} XDG_CACHE_HOME={} {} '{}' "
                  "{} >{} 2>{}",
                  (tmp / "xdg").string(), (tmp / "cache").string(), env, COMPAUDIT_EXE, args,
                  (tmp / "out").string(), (tmp / "err").string());
  const int status = std::system(full.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_file(tmp / "out");
  r.err = test::read_file(tmp / "err");
  return r;
}

const std::string kPlugins = (fs::path(TEST_DATA_DIR) / "plugins").string();
const std::string kPipelines = (fs::path(TEST_DATA_DIR) / "pipelines").string();
}  // namespace

TEST_CASE("compaudit --help lists the commands and exits 0", "[cli]") {
  const Result r = run("--help");
  CHECK(r.exit_code == 0);
  for (const char* command : {"plugins", "validate", "new-plugin", "run", "export", "report"})
    CHECK(contains(r.out, command));
  CHECK(run("plugins list --help").exit_code == 0);
  CHECK(contains(run("validate --help").out, "--json"));
}

TEST_CASE("usage errors exit 2", "[cli]") {
  CHECK(run("").exit_code == 2);
  CHECK(run("no-such-command").exit_code == 2);
  CHECK(run("plugins inspect").exit_code == 2);
  CHECK(run("validate --no-such-option x.toml").exit_code == 2);
}

TEST_CASE("plugins list shows the plugins on --plugin-path, as a table and as JSON", "[cli]") {
  const Result table = run("plugins list --plugin-path " + kPlugins);
  CHECK(table.exit_code == 0);
  CHECK(contains(table.out, "org.test.compressor.prune"));
  CHECK(contains(table.out, "org.test.augmentation.noise"));
  CHECK(contains(table.out, "--plugin-path"));
  const Result json = run("plugins list --json --plugin-path " + kPlugins);
  CHECK(json.exit_code == 0);
  CHECK(contains(json.out, "\"id\": \"org.test.metric.memo\""));
  CHECK(contains(json.out, "\"errors\": []"));
}

TEST_CASE("plugins list reports a broken manifest and still lists the others", "[cli][fault]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good");
  test::write_file(tmp / "dir" / "broken.toml", "id = \"org.test.compressor.broken\"\nversion = \"1\"\nkind = 3\n");
  const Result r = run("plugins list --plugin-path " + (tmp / "dir").string());
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "org.test.compressor.good"));
  CHECK(contains(r.err, (tmp / "dir" / "broken.toml").string() + ":3:8: manifest error: manifest: 'kind' must be a string"));
}

TEST_CASE("plugins inspect shows the schema and with --load checks the library", "[cli]") {
  const Result r = run("plugins inspect org.test.compressor.prune --plugin-path " + kPlugins);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "sparsity"));
  CHECK(contains(r.out, "(required)"));
  CHECK(contains(r.out, "global|layerwise"));
  CHECK(contains(run("plugins inspect org.test.compressor.prune --json --plugin-path " + kPlugins).out,
                 "\"required\": true"));

  const Result missing = run("plugins inspect org.test.nothing --plugin-path " + kPlugins);
  CHECK(missing.exit_code == 3);
  CHECK(contains(missing.err, "no plugin with id 'org.test.nothing'"));

  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good");
  const Result loaded = run("plugins inspect org.test.compressor.good --load --plugin-path " + (tmp / "dir").string());
  CHECK(loaded.exit_code == 0);
  CHECK(contains(loaded.out, "checks: passed"));
  // The test manifests point at a text file: --load must fail with exit code 3 and say why.
  const Result bad = run("plugins inspect org.test.compressor.prune --load --plugin-path " + kPlugins);
  CHECK(bad.exit_code == 3);
  CHECK(contains(bad.err, "libdummy.so: file too short (not an ELF file)"));
}

TEST_CASE("validate prints the arms after expansion, or the error with file:line:column", "[cli]") {
  const Result ok = run("validate --plugin-path " + kPlugins + " " + kPipelines + "/good/sweep.toml");
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.out, "prune@sparsity=0.9,bits=8"));
  // Two fine-tuning budgets (1 and 3 epochs): one dense control each, and each arm says which it is compared with.
  CHECK(contains(ok.out, "dense+ft1  [fine-tune 1 epoch]  vs dense"));
  CHECK(contains(ok.out, "prune@sparsity=0.9,bits=8  [fine-tune 1 epoch]  vs dense+ft1"));
  CHECK(contains(ok.out, "quant  [fine-tune 3 epochs]  vs dense+ft3"));
  CHECK(contains(ok.out, "valid: 8 arms x 3 seeds = 24 cells"));
  const Result json = run("validate --json --plugin-path " + kPlugins + " " + kPipelines + "/good/sweep.toml");
  CHECK(json.exit_code == 0);
  CHECK(contains(json.out, "\"valid\": true"));

  const std::string bad_file = kPipelines + "/bad/param_out_of_range.toml";
  const Result bad = run("validate --plugin-path " + kPlugins + " " + bad_file);
  CHECK(bad.exit_code == 4);
  CHECK(contains(bad.err, bad_file + ":16:14: parameters error:"));
  const Result bad_json = run("validate --json --plugin-path " + kPlugins + " " + bad_file);
  CHECK(bad_json.exit_code == 4);
  CHECK(contains(bad_json.out, "\"line\": 16"));
  CHECK(run("validate --plugin-path " + kPlugins + " " + kPipelines + "/bad/data_missing.toml").exit_code == 4);
  CHECK(run("validate /nonexistent/pipeline.toml").exit_code == 4);
}

TEST_CASE("validate reports every independent error of a file in one pass, each with file:line:column", "[cli]") {
  const std::string file = kPipelines + "/bad/three_errors.toml";  // [training] lr, one [[arm]], one [[metric]]
  const Result r = run("validate --plugin-path " + kPlugins + " " + file);
  CHECK(r.exit_code == 4);
  CHECK(contains(r.err, file + ":13:1: pipeline error: lr = -1 must be in (0, 1000]"));
  CHECK(contains(r.err, file + ":19:20: parameters error: arm 'prune' step 1: sparsity = 1.5 is above its maximum 1"));
  CHECK(contains(r.err, file + ":30:1: pipeline error: [[metric]] #2: unknown plugin 'org.test.metric.top'"));
  const Result j = run("validate --json --plugin-path " + kPlugins + " " + file);
  CHECK(j.exit_code == 4);
  CHECK(contains(j.out, "\"valid\": false"));
  // "error" (the first, as before) and "errors" (all three).
  CHECK(contains(j.out, "\"line\": 13"));
  CHECK(contains(j.out, "\"line\": 19"));
  CHECK(contains(j.out, "\"line\": 30"));
}

TEST_CASE("new-plugin writes a project with a manifest the registry accepts", "[cli]") {
  for (const char* kind : {"compressor", "metric", "augmentation"}) {
    DYNAMIC_SECTION(kind) {
      test::TempDir tmp;
      const std::string dir = (tmp / "proj").string();
      const Result r = run(fmt::format("new-plugin --kind {} my_{} -o {}", kind, kind, dir));
      REQUIRE(r.exit_code == 0);
      for (const std::string f : {"CMakeLists.txt", "README.md"}) CHECK(fs::exists(fs::path(dir) / f));
      const std::string source = test::read_file(fs::path(dir) / fmt::format("my_{}.cpp", kind));
      // Registered with the id, kind and version of the manifest, through the header the build generates from it.
      CHECK(contains(source, fmt::format("#include \"my_{}_manifest.h\"", kind)));
      CHECK(contains(source, fmt::format("COMPAUDIT_PLUGIN_MANIFEST(My{}{}, my_{}_manifest)",
                                         char(std::toupper(kind[0])), kind + 1, kind)));
      CHECK(contains(test::read_file(fs::path(dir) / "CMakeLists.txt"), "find_package(compaudit CONFIG REQUIRED)"));
      // The manifest parses once a library sits beside it (as after a build).
      test::write_file(fs::path(dir) / fmt::format("libmy_{}.so", kind), "");
      const Result listed = run("plugins list --plugin-path " + dir);
      CHECK(contains(listed.out, fmt::format("org.example.{}.my_{}", kind, kind)));
      CHECK(listed.err.empty());
    }
  }
  test::TempDir tmp;
  CHECK(run("new-plugin --kind optimizer x -o " + (tmp / "x").string()).exit_code == 2);
  CHECK(run("new-plugin --kind metric Bad-Name -o " + (tmp / "y").string()).exit_code == 4);
}

TEST_CASE("run validates the pipeline before it opens the engine", "[cli]") {
  // An invalid pipeline fails in milliseconds, before LibTorch is paid for (and whether or not the engine is built).
  const Result bad = run("run --plugin-path " + kPlugins + " " + kPipelines + "/bad/no_metrics.toml");
  CHECK(bad.exit_code == 4);
  CHECK(contains(bad.err, "no [[metric]]"));
}

// Issue 14, item 1: a directory at the registry cache path broke every command (basic_string::_M_create, exit 5);
// a device there was replaced by an ordinary file.
TEST_CASE("a registry cache path that is not a regular file: one warning, and the command works", "[cli][cache]") {
  test::TempDir tmp;
  fs::create_directories(tmp / "cache-dir");
  const Result dir = run("plugins list --plugin-path " + kPlugins,
                         "COMPAUDIT_REGISTRY_CACHE=" + (tmp / "cache-dir").string());
  CHECK(dir.exit_code == 0);
  CHECK(contains(dir.out, "org.test.compressor.prune"));
  CHECK(contains(dir.err, "compaudit: warning: registry cache " + (tmp / "cache-dir").string() +
                              " is a directory: running without the cache"));
  CHECK(fs::is_directory(tmp / "cache-dir"));
  REQUIRE(::mkfifo((tmp / "fifo").c_str(), 0644) == 0);
  const Result fifo = run("validate --plugin-path " + kPlugins + " " + kPipelines + "/good/sweep.toml",
                          "COMPAUDIT_REGISTRY_CACHE=" + (tmp / "fifo").string());
  CHECK(fifo.exit_code == 0);
  CHECK(contains(fifo.err, "is a fifo: running without the cache"));
  CHECK(fs::is_fifo(tmp / "fifo"));
}

// Issue 14, item 11: limits and messages of the command line.
TEST_CASE("command-line limits and messages", "[cli][limits]") {
  const std::string pipeline = kPipelines + "/good/sweep.toml";
  SECTION("an unknown command is named") {
    const Result r = run("frobnicate");
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "unknown command 'frobnicate'"));
    const Result sub = run("plugins frobnicate");
    CHECK(sub.exit_code == 2);
    CHECK(contains(sub.err, "unknown command 'frobnicate'"));
  }
  SECTION("--threads is bounded like the pipeline's key") {
    const Result r = run("run --threads 2048 " + pipeline);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--threads"));
    CHECK(contains(r.err, "1024"));
  }
  SECTION("--cell-memory is bounded (MiB -> bytes cannot overflow)") {
    const Result r = run("run --cell-memory 17592186044416 " + pipeline);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--cell-memory"));
    CHECK(contains(r.err, "1073741824"));
  }
  SECTION("--cell-timeout with --isolate none is refused, not silently ignored") {
    const Result r = run("run --isolate none --cell-timeout 5 " + pipeline);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--cell-timeout"));
    CHECK(contains(r.err, "worker processes"));
  }
  SECTION("seeds = 2000000 names the bound") {
    test::TempDir tmp;
    std::string text = test::read_file(pipeline);
    const auto at = text.find("seeds = ");
    REQUIRE(at != std::string::npos);
    text.replace(at, text.find('\n', at) - at, "seeds = 2000000");
    test::write_file(tmp / "p.toml", text);
    const Result r = run("validate --plugin-path " + kPlugins + " " + (tmp / "p.toml").string());
    CHECK(r.exit_code == 4);
    CHECK(contains(r.err, "seeds = 2000000 must be in 1..100000"));
    CHECK_FALSE(contains(r.err, "at least 2 models"));
  }
  SECTION("validate refuses a device and a directory instead of reading them") {
    const Result zero = run("validate /dev/zero");
    CHECK(zero.exit_code == 4);
    CHECK(contains(zero.err, "/dev/zero"));
    CHECK(contains(zero.err, "is not a regular file"));
    const Result dir = run("validate " + kPipelines);
    CHECK(dir.exit_code == 4);
    CHECK(contains(dir.err, "is a directory"));
  }
  SECTION("validate refuses a pipeline file over 4 MiB") {
    test::TempDir tmp;
    test::write_file(tmp / "big.toml", "# " + std::string(5 << 20, 'x') + "\n");
    const Result r = run("validate " + (tmp / "big.toml").string());
    CHECK(r.exit_code == 4);
    CHECK(contains(r.err, "at most 4 MiB"));
  }
  SECTION("new-plugin --id must be a plugin id") {
    test::TempDir tmp;
    const Result r = run("new-plugin --kind compressor halve -o " + (tmp / "p").string() + " --id 'Not An Id\"'");
    CHECK(r.exit_code == 4);
    CHECK(contains(r.err, "is not a plugin id"));
    CHECK_FALSE(fs::exists(tmp / "p"));
  }
}
