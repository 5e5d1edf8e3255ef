// The `compaudit` executable run as a process: exit codes and the output of list, inspect, validate, new-plugin.
#include "test_support.h"

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
  CHECK(contains(ok.out, "dense+ft"));
  CHECK(contains(ok.out, "valid: 7 arms x 3 seeds = 21 cells"));
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

TEST_CASE("new-plugin writes a project with a manifest the registry accepts", "[cli]") {
  for (const char* kind : {"compressor", "metric", "augmentation"}) {
    DYNAMIC_SECTION(kind) {
      test::TempDir tmp;
      const std::string dir = (tmp / "proj").string();
      const Result r = run(fmt::format("new-plugin --kind {} my_{} -o {}", kind, kind, dir));
      REQUIRE(r.exit_code == 0);
      for (const std::string f : {"CMakeLists.txt", "README.md"}) CHECK(fs::exists(fs::path(dir) / f));
      const std::string source = test::read_file(fs::path(dir) / fmt::format("my_{}.cpp", kind));
      CHECK(contains(source, fmt::format("COMPAUDIT_PLUGIN(My{}{}", char(std::toupper(kind[0])), kind + 1)));
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
