// `compaudit validate` refuses compressor parameters that do not fit the pipeline's model — a layer pattern that
// matches no layer, exclusions that leave none, a cut the selected layers do not have — for built-in models and
// TorchScript archives, with file:line:column of the value, before anything runs and without LibTorch.
// The pipelines are in validate/; the built-in compressors' manifests are found beside the built libraries, and the
// metric every pipeline needs is the core tests' manifest-only org.test.metric.top1.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {
struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const fs::path kPipelines = fs::path(COMPAUDIT_VALIDATE_DIR);

// Runs `compaudit validate` on validate/<file> with a private registry cache; `env` prefixes the command.
Result validate(const std::string& file, const std::string& env = "") {
  const fs::path tmp = fs::temp_directory_path() / fmt::format("compaudit-validate-{}", ::getpid());
  fs::create_directories(tmp);
  const std::string command = fmt::format(
      "env -u COMPAUDIT_PLUGIN_PATH COMPAUDIT_REGISTRY_CACHE=off XDG_DATA_HOME={} {} '{}' validate --plugin-path {} "
      "{} >{} 2>{}",
      (tmp / "xdg").string(), env, COMPAUDIT_EXE, COMPAUDIT_TEST_METRICS, (kPipelines / file).string(),
      (tmp / "out").string(), (tmp / "err").string());
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  fs::remove_all(tmp);
  return r;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("validate accepts layer patterns and cuts that fit the model", "[validate][cli]") {
  for (const char* file : {"good_resnet.toml", "torchscript_good.toml"}) {
    DYNAMIC_SECTION(file) {
      const Result r = validate(file);
      INFO(r.err);
      CHECK(r.exit_code == 0);
      CHECK(contains(r.out, "valid:"));
    }
  }
}

TEST_CASE("validate rejects layer patterns and cuts that do not fit the model, at the value", "[validate][cli]") {
  struct Bad {
    const char* file;
    int line, column;
    const char* text;
  };
  const Bad cases[] = {
      {"bad_pattern.toml", 18, 12,
       "arm 'prune' step 1: layers: pattern \"conv*\" matches no linear or conv2d layer of model mlp (its layers: "
       "fc1 (linear), fc2 (linear), fc3 (linear))"},
      {"bad_cut.toml", 17, 10,
       "arm 'truncate' step 1: cuts: cut \"o|ihw\" is for conv2d layers, and none of model cnn's selected layers "
       "is one (selected: fc (linear)); a linear layer takes its one cut o|i by itself"},
      {"bad_exclude.toml", 17, 13,
       "arm 'prune' step 1: exclude: no linear or conv2d layer of model mlp is left to compress"},
      {"bad_sweep_pattern.toml", 20, 22,  // the second value of the sweep
       "arm 'prune' step 2: layers: pattern \"block1.*\" matches no linear or conv2d layer of model mlp"},
      {"torchscript_bad_pattern.toml", 18, 12,
       "arm 'prune' step 1: layers: pattern \"features.*\" matches no linear or conv2d layer of model torchscript "
       "(its layers: fc1 (linear), fc2 (linear))"},
      {"torchscript_bad_cut.toml", 19, 10, "cut \"w|oih\" is for conv2d layers, and none of model torchscript's"},
  };
  for (const auto& bad : cases) {
    DYNAMIC_SECTION(bad.file) {
      const Result r = validate(bad.file);
      INFO(r.err);
      CHECK(r.exit_code == 4);
      CHECK(contains(r.err, fmt::format("{}:{}:{}: pipeline error: ", (kPipelines / bad.file).string(), bad.line,
                                        bad.column)));
      CHECK(contains(r.err, bad.text));
    }
  }
}

TEST_CASE("validating a TorchScript pipeline reads the archive without loading LibTorch", "[validate][cli]") {
  // LD_DEBUG=libs makes the dynamic linker print every library it opens (on stderr).
  const Result r = validate("torchscript_bad_pattern.toml", "LD_DEBUG=libs");
  CHECK(r.exit_code == 4);
  CHECK(contains(r.err, "libcompaudit_host"));  // the trace works, so the next check can fail
  CHECK_FALSE(contains(r.err, "libtorch"));
  CHECK_FALSE(contains(r.err, "libc10"));
}
