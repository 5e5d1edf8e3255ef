// Data loaders: IDX (plain and gzip), CIFAR-10 binary, CSV (both scikit-learn layouts), splits and normalisation,
// and one test per kind of bad file, each checking the error names the file (and line for CSV).
#include "data/load.h"
#include "data/readers.h"
#include "data/splits.h"
#include "test_helpers.h"

#include "support/skip.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

using namespace compaudit;
using namespace compaudit::engine;
using engine_test::scratch_dir;

namespace {
// Runs f, requires it to throw Error(data) whose text contains every fragment.
template <class F>
void require_data_error(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    FAIL("expected a data error");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.code() == ErrorCode::data);
    for (const auto& frag : fragments) CHECK_THAT(e.what(), Catch::Contains(frag));
  }
}
}  // namespace

TEST_CASE("IDX files are read plain and gzip-compressed alike", "[engine][data]") {
  const auto dir = scratch_dir("idx-ok");
  engine_test::write_bytes(dir / "img", engine_test::idx_images(20, 4, 3));
  engine_test::write_bytes(dir / "lab", engine_test::idx_labels(20, 5));
  engine_test::write_bytes(dir / "img.gz", engine_test::idx_images(20, 4, 3), true);
  engine_test::write_bytes(dir / "lab.gz", engine_test::idx_labels(20, 5), true);
  const RawData plain = read_idx((dir / "img").string(), (dir / "lab").string());
  const RawData gz = read_idx((dir / "img.gz").string(), (dir / "lab.gz").string());
  REQUIRE(plain.inputs.sizes() == at::IntArrayRef({20, 1, 4, 3}));
  CHECK(plain.inputs[7][0][2][1].item<int>() == 10);
  CHECK(plain.targets[13].item<std::int64_t>() == 3);
  CHECK(at::equal(plain.inputs, gz.inputs));
  CHECK(at::equal(plain.targets, gz.targets));
}

TEST_CASE("The real Fashion-MNIST test files load", "[engine][data][real]") {
  const std::string d = "/usr/share/datasets/fashion-mnist/";
  COMPAUDIT_SKIP_UNLESS(std::filesystem::exists(d + "t10k-labels-idx1-ubyte.gz"),
                        "Fashion-MNIST (dataset-fashion-mnist) not found in " + d);
  const RawData raw = read_idx(d + "t10k-images-idx3-ubyte.gz", d + "t10k-labels-idx1-ubyte.gz");
  CHECK(raw.inputs.sizes() == at::IntArrayRef({10000, 1, 28, 28}));
  CHECK(at::bincount(raw.targets).eq(1000).all().item<bool>());
}

TEST_CASE("Corrupt IDX files are rejected with the file named", "[engine][data][bad]") {
  const auto dir = scratch_dir("idx-bad");
  const std::string img = (dir / "img").string(), lab = (dir / "lab").string();
  engine_test::write_bytes(img, engine_test::idx_images(10, 2, 2));
  engine_test::write_bytes(lab, engine_test::idx_labels(10, 3));
  SECTION("wrong magic") {
    auto bytes = engine_test::idx_images(10, 2, 2);
    bytes[0] = 0x1f, bytes[1] = 0x00;
    engine_test::write_bytes(img, bytes);
    require_data_error([&] { read_idx(img, lab); }, {img, "bad magic"});
  }
  SECTION("images file holding labels") {
    require_data_error([&] { read_idx(lab, lab); }, {lab, "1 dimensions, expected 3"});
  }
  SECTION("truncated image data") {
    auto bytes = engine_test::idx_images(10, 2, 2);
    bytes.resize(bytes.size() - 5);
    engine_test::write_bytes(img, bytes);
    require_data_error([&] { read_idx(img, lab); }, {img, "truncated"});
  }
  SECTION("truncated gzip stream") {
    const auto gz = (dir / "img.gz").string();
    engine_test::write_bytes(gz, engine_test::idx_images(200, 8, 8), true);
    std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
    require_data_error([&] { read_idx(gz, lab); }, {gz});
  }
  SECTION("label count differs from image count") {
    engine_test::write_bytes(lab, engine_test::idx_labels(9, 3));
    require_data_error([&] { read_idx(img, lab); }, {lab, "9 labels for 10 images"});
  }
  SECTION("label out of range") {
    require_data_error([&] { read_idx(img, lab, 2); }, {lab, "label 2 of example 2 is out of range"});
  }
  SECTION("missing file") {
    require_data_error([&] { read_idx((dir / "nope").string(), lab); }, {"nope", "not found"});
  }
}

TEST_CASE("CIFAR-10 batches are read record by record", "[engine][data]") {
  const auto dir = scratch_dir("cifar");
  std::vector<std::uint8_t> bytes;
  for (int r = 0; r < 3; ++r) {
    bytes.push_back(static_cast<std::uint8_t>(r * 4));  // labels 0, 4, 8
    for (int p = 0; p < 3072; ++p) bytes.push_back(static_cast<std::uint8_t>((p / 1024) * 10 + r));
  }
  engine_test::write_bytes(dir / "data_batch_1.bin", bytes);
  engine_test::write_bytes(dir / "data_batch_2.bin", bytes);
  const RawData raw = read_cifar10({(dir / "data_batch_1.bin").string(), (dir / "data_batch_2.bin").string()});
  REQUIRE(raw.inputs.sizes() == at::IntArrayRef({6, 3, 32, 32}));
  CHECK(raw.targets.equal(at::tensor({0, 4, 8, 0, 4, 8}, at::kLong)));
  CHECK(raw.inputs[1][2][5][7].item<int>() == 21);  // channel 2 (blue) of record 1
  CHECK(raw.class_names.at(8) == "ship");

  SECTION("a truncated batch is rejected") {
    bytes.resize(bytes.size() - 100);
    engine_test::write_bytes(dir / "cut.bin", bytes);
    require_data_error([&] { read_cifar10({(dir / "cut.bin").string()}); }, {"cut.bin", "3073-byte records"});
  }
  SECTION("a label above 9 is rejected") {
    bytes[3073] = 12;
    engine_test::write_bytes(dir / "bad.bin", bytes);
    require_data_error([&] { read_cifar10({(dir / "bad.bin").string()}); }, {"bad.bin", "label 12"});
  }
}

TEST_CASE("scikit-learn's digits and breast cancer CSV files load with their layouts", "[engine][data][real]") {
  const std::string d = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";
  COMPAUDIT_SKIP_UNLESS(std::filesystem::exists(d + "digits.csv.gz"),
                        "scikit-learn's data (python3-sklearn) not found in " + d);
  const RawData digits = read_csv(d + "digits.csv.gz", {"last", false});
  CHECK(digits.inputs.sizes() == at::IntArrayRef({1797, 64}));
  CHECK(digits.targets.max().item<std::int64_t>() == 9);
  CHECK(digits.inputs.max().item<float>() == 16.0f);
  const RawData cancer = read_csv(d + "breast_cancer.csv", {"last", true});
  CHECK(cancer.inputs.sizes() == at::IntArrayRef({569, 30}));
  CHECK(cancer.targets.eq(0).sum().item<std::int64_t>() == 212);
  CHECK(cancer.class_names == std::vector<std::string>{"malignant", "benign"});
}

TEST_CASE("Bad CSV files are rejected with file, line and column", "[engine][data][bad]") {
  const auto dir = scratch_dir("csv-bad");
  const std::string path = (dir / "t.csv").string();
  SECTION("a ragged row") {
    engine_test::write_text(path, "1,2,0\n3,4,1\n5,1\n");
    require_data_error([&] { read_csv(path, {"last", false}); }, {path + ":3", "2 cells, expected 3"});
  }
  SECTION("a non-numeric cell") {
    engine_test::write_text(path, "a,b,label\n1,2,0\n3,x4,1\n");
    require_data_error([&] { read_csv(path, {"last", true}); }, {path + ":3:3", "cell 2 ('x4') is not a number"});
  }
  SECTION("a fractional label") {
    engine_test::write_text(path, "1,2,0\n3,4,1.5\n");
    require_data_error([&] { read_csv(path, {"last", false}); }, {path + ":2", "not a class index"});
  }
  SECTION("a sklearn header whose row count disagrees with the file") {
    engine_test::write_text(path, "3,2,no,yes\n1,2,0\n3,4,1\n");
    require_data_error([&] { read_csv(path, {"last", true}); }, {path + ":1", "header says 3 rows"});
  }
  SECTION("a label beyond the classes the header names") {
    engine_test::write_text(path, "2,2,no,yes\n1,2,0\n3,4,2\n");
    require_data_error([&] { read_csv(path, {"last", true}); }, {path + ":3", "label 2 is out of range"});
  }
  SECTION("no data rows") {
    engine_test::write_text(path, "a,b,c\n\n");
    require_data_error([&] { read_csv(path, {"last", true}); }, {path, "no data rows"});
  }
}

TEST_CASE("Stratified splits, limits and the long-tail profile keep their promises", "[engine][data][splits]") {
  // 10 classes x 100 examples, labels i % 10.
  const at::Tensor y = at::arange(1000, at::kLong).remainder(10);
  SECTION("a split takes the fraction of every class and is reproducible") {
    auto [kept, taken] = stratified_split(y, 10, 0.2, 7);
    CHECK(taken.size() == 200);
    CHECK(kept.size() == 800);
    const auto counts = class_counts(take_rows(y, taken), 10);
    for (auto c : counts) CHECK(c == 20);
    CHECK(stratified_split(y, 10, 0.2, 7).second == taken);
    CHECK(stratified_split(y, 10, 0.2, 8).second != taken);
  }
  SECTION("proportional counts sum exactly to the limit") {
    const auto counts = proportional_counts({50, 30, 20, 1}, 33);
    CHECK(counts == std::vector<std::int64_t>{16, 10, 7, 0});
  }
  SECTION("the long-tail profile is n_max * IF^(c/(C-1))") {
    const auto counts = long_tail_counts(std::vector<std::int64_t>(10, 100), 0.1);
    CHECK(counts.front() == 100);
    CHECK(counts.back() == 10);
    CHECK(counts[5] == std::llround(100 * std::pow(0.1, 5.0 / 9.0)));
    for (std::size_t c = 1; c < counts.size(); ++c) CHECK(counts[c] <= counts[c - 1]);
  }
}

TEST_CASE("load_data splits digits, keeps the test set balanced under a long tail and normalises from training",
          "[engine][data][real]") {
  const std::string d = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";
  COMPAUDIT_SKIP_UNLESS(std::filesystem::exists(d + "digits.csv.gz"),
                        "scikit-learn's data (python3-sklearn) not found in " + d);
  host::DataSpec spec;
  spec.format = "csv";
  spec.train = d + "digits.csv.gz";
  spec.header = false;
  spec.test_fraction = 0.2;
  spec.validation_fraction = 0.1;
  spec.imbalance = 0.1;
  const DataSplits s = load_data(spec, "");
  CHECK(s.num_classes == 10);
  CHECK(s.input_shape == std::vector<std::int64_t>{64});
  CHECK_FALSE(s.is_image);
  const auto test_counts = class_counts(s.test.targets, 10);
  for (auto c : test_counts) CHECK((c >= 35 && c <= 37));  // 20% of ~180 per class
  const auto train_counts = class_counts(s.train.targets, 10);
  CHECK(train_counts.front() > 5 * train_counts.back());
  // Standardised with training statistics: training features have mean 0; test features only about 0.
  CHECK(s.train.inputs.mean(0).abs().max().item<float>() < 1e-4f);
  // Reproducible and disjoint: ids of train, validation and test never overlap.
  const DataSplits again = load_data(spec, "");
  CHECK(at::equal(again.train.ids, s.train.ids));
  const at::Tensor all = at::cat({s.train.ids, s.validation.ids, s.test.ids});
  CHECK(std::get<0>(at::_unique(all)).size(0) == all.size(0));
}
