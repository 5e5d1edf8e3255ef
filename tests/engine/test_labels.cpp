// Issue 14 item 8: the class set is the labels present (or what [data] declares), and a label that is not a class or
// a class without a training example is refused with the label and its line — never a 100,001-class model from one
// row labelled 100000, never a 4-class task from a file holding only class 3.
#include "data/load.h"
#include "test_helpers.h"

#include <compaudit/error.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace compaudit;
using namespace compaudit::engine;
using engine_test::scratch_dir;

namespace {

// n rows "x,x+1,label" with labels cycling through `classes`; line numbers are 1-based, no header.
std::string rows(int n, const std::vector<int>& classes) {
  std::string text;
  for (int i = 0; i < n; ++i) text += fmt::format("{},{},{}\n", i, i + 1, classes[i % classes.size()]);
  return text;
}

host::DataSpec csv_spec(const std::string& train, const std::string& test = "") {
  host::DataSpec spec;
  spec.format = "csv";
  spec.train = train;
  spec.test = test;
  spec.header = false;
  spec.test_fraction = 0.25;
  spec.validation_fraction = 0;
  return spec;
}

std::string data_error(const host::DataSpec& spec) {
  try {
    load_data(spec, "");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::data);
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("One row labelled 100000 is refused, naming the label and its line", "[engine][data][labels]") {
  const auto dir = scratch_dir("labels-outlier");
  std::string text = rows(1233, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  text += "5,6,100000\n";  // line 1234
  text += rows(40, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  engine_test::write_text(dir / "outlier.csv", text);
  const std::string error = data_error(csv_spec((dir / "outlier.csv").string()));
  INFO(error);
  CHECK_THAT(error, Catch::Contains("class 10 has no training examples"));
  CHECK_THAT(error, Catch::Contains("labels present: 0..9, and 100000 at line 1234"));
  CHECK_THAT(error, Catch::Contains("outlier.csv"));

  SECTION("declaring 10 classes names the label as out of range, at its line") {
    host::DataSpec spec = csv_spec((dir / "outlier.csv").string());
    spec.num_classes = 10;
    const std::string declared = data_error(spec);
    INFO(declared);
    CHECK_THAT(declared, Catch::Contains("outlier.csv:1234"));
    CHECK_THAT(declared, Catch::Contains("label 100000 at line 1234 is not one of the 10 classes [data] declares"));
  }
}

TEST_CASE("A file holding only class 3 is not a 4-class task", "[engine][data][labels]") {
  const auto dir = scratch_dir("labels-only3");
  engine_test::write_text(dir / "only3.csv", rows(40, {3}));
  const std::string error = data_error(csv_spec((dir / "only3.csv").string()));
  INFO(error);
  CHECK_THAT(error, Catch::Contains("class 0 has no training examples (labels present: 3 at line 1)"));
  // As before, a file of class 0 only is a single class.
  engine_test::write_text(dir / "only0.csv", rows(40, {0}));
  CHECK_THAT(data_error(csv_spec((dir / "only0.csv").string())), Catch::Contains("single class"));
}

TEST_CASE("A declared class set must have training examples and covers every label of the test file",
          "[engine][data][labels]") {
  const auto dir = scratch_dir("labels-declared");
  engine_test::write_text(dir / "train.csv", rows(60, {0, 1, 2}));
  SECTION("num_classes larger than the classes present: the first empty class is named") {
    host::DataSpec spec = csv_spec((dir / "train.csv").string());
    spec.num_classes = 4;
    CHECK_THAT(data_error(spec), Catch::Contains("class 3 has no training examples (labels present: 0..2)"));
  }
  SECTION("class_names of the right size are accepted") {
    host::DataSpec spec = csv_spec((dir / "train.csv").string());
    spec.class_names = {"a", "b", "c"};
    const DataSplits s = load_data(spec, "");
    CHECK(s.num_classes == 3);
    CHECK(s.class_names == std::vector<std::string>{"a", "b", "c"});
  }
  SECTION("a test label that is no class of the training data, at its line") {
    engine_test::write_text(dir / "test.csv", rows(7, {0, 1, 2}) + "1,2,7\n" + rows(3, {0}));
    const std::string error = data_error(csv_spec((dir / "train.csv").string(), (dir / "test.csv").string()));
    INFO(error);
    CHECK_THAT(error, Catch::Contains("test.csv:8"));
    CHECK_THAT(error, Catch::Contains("label 7 at line 8 is not one of the classes of the training data (0..2)"));
  }
}
