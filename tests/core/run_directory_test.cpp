// Issue 14 item 5: a run directory is created empty or is a compaudit run. `validate` refuses a pipeline whose name
// is "." or "..", or whose output is the filesystem root or an existing directory of other files ("../../etc");
// run_directory_problem() is the rule `run -o` applies too (tests/engine/test_resume_integrity.cpp).
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/host/run_directory.h>

#include "test_support.h"

using compaudit::ErrorCode;
using compaudit::host::run_directory_problem;
using test::contains;
using test::TempDir;

namespace {

const compaudit::host::Registry& registry() {
  static const compaudit::host::Registry r = [] {
    compaudit::host::SearchPaths p;
    p.dirs.emplace_back((fs::path(TEST_DATA_DIR) / "plugins").string(), "--plugin-path");
    return compaudit::host::Registry::discover(p);
  }();
  return r;
}

// The good sweep pipeline with its [audit] table replaced, written into `dir`.
fs::path pipeline_with_audit(const fs::path& dir, const std::string& audit) {
  std::string text = test::read_file(fs::path(TEST_DATA_DIR) / "pipelines/good/sweep.toml");
  const auto begin = text.find("[audit]"), end = text.find("[data]");
  text.replace(begin, end - begin, audit + "\n");
  const std::string data = "train = \"../data/tiny.csv\"";
  text.replace(text.find(data), data.size(), "train = \"" + (fs::path(TEST_DATA_DIR) / "pipelines/data/tiny.csv").string() + "\"");
  test::write_file(dir / "p.toml", text);
  return dir / "p.toml";
}

std::string refusal(const fs::path& pipeline) {
  try {
    compaudit::host::load_pipeline(pipeline.string(), registry());
  } catch (const compaudit::Error& e) {
    CHECK(e.code() == ErrorCode::pipeline);
    CHECK(e.where().line > 0);
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("validate refuses run names and outputs that are not run directories", "[pipeline][run-dir]") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "a" / "b";
  fs::create_directories(dir);
  CHECK(contains(refusal(pipeline_with_audit(dir, "[audit]\nname = \"..\"\nseeds = 3")), "name \"..\" is not a name"));
  CHECK(contains(refusal(pipeline_with_audit(dir, "[audit]\nname = \".\"\nseeds = 3")), "name \".\" is not a name"));
  CHECK(contains(refusal(pipeline_with_audit(dir, "[audit]\nname = \"x\"\nseeds = 3\noutput = \"/\"")),
                 "the filesystem root cannot be a run directory"));
  // "../../etc": an existing directory of someone's files, above the pipeline's directory.
  fs::create_directories(tmp.path() / "etc");
  test::write_file(tmp.path() / "etc" / "passwd", "root:x:0:0\n");
  const std::string etc = refusal(pipeline_with_audit(dir, "[audit]\nname = \"x\"\nseeds = 3\noutput = \"../../etc\""));
  CHECK(contains(etc, "output = \"../../etc\""));
  CHECK(contains(etc, "is not empty (it holds passwd) and is not a compaudit run"));
  CHECK(test::read_file(tmp.path() / "etc" / "passwd") == "root:x:0:0\n");
  // Allowed: a new directory anywhere (above the pipeline's too), an empty one, a run.
  CHECK(refusal(pipeline_with_audit(dir, "[audit]\nname = \"x\"\nseeds = 3\noutput = \"../../new\"")) == "(accepted)");
  CHECK(refusal(pipeline_with_audit(dir, "[audit]\nname = \"x.y-1_2\"\nseeds = 3")) == "(accepted)");
}

TEST_CASE("run_directory_problem: new, empty or a run, never a foreign directory or a file", "[run-dir]") {
  TempDir tmp;
  CHECK(run_directory_problem((tmp.path() / "new").string()).empty());
  fs::create_directories(tmp.path() / "empty");
  CHECK(run_directory_problem((tmp.path() / "empty").string()).empty());
  // Foreign: a report.json but no results.sqlite.
  fs::create_directories(tmp.path() / "foreign");
  test::write_file(tmp.path() / "foreign" / "report.json", "{}");
  CHECK(contains(run_directory_problem((tmp.path() / "foreign").string()), "holds report.json"));
  test::write_file(tmp.path() / "foreign" / "notes.txt", "mine");
  CHECK(contains(run_directory_problem((tmp.path() / "foreign").string()), "and 1 more"));
  // A run: it holds results.sqlite (resumed, or refused later if of another pipeline).
  test::write_file(tmp.path() / "foreign" / "results.sqlite", "");
  CHECK(run_directory_problem((tmp.path() / "foreign").string()).empty());
  // What a run killed while creating its store leaves is as good as empty.
  fs::create_directories(tmp.path() / "killed");
  test::write_file(tmp.path() / "killed" / ".lock", "123\n");
  test::write_file(tmp.path() / "killed" / "results.sqlite.new", "");
  CHECK(run_directory_problem((tmp.path() / "killed").string()).empty());
  test::write_file(tmp.path() / "file", "x");
  CHECK(contains(run_directory_problem((tmp.path() / "file").string()), "is not a directory"));
  CHECK(contains(run_directory_problem("/"), "filesystem root"));
  CHECK(contains(run_directory_problem("/tmp/.."), "filesystem root"));
}
