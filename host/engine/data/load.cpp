#include "data/load.h"

#include "data/labels.h"
#include "data/readers.h"
#include "data/splits.h"
#include "data/user_sources.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <filesystem>
#include <numeric>

namespace compaudit::engine {
namespace {

// Distinct streams for the independent random choices, so changing one option does not reshuffle the others.
constexpr std::uint64_t kTestSalt = 0x7465737400000001ULL;
constexpr std::uint64_t kTailSalt = 0x7461696c00000002ULL;
constexpr std::uint64_t kLimitSalt = 0x6c696d6900000003ULL;
constexpr std::uint64_t kValidationSalt = 0x76616c6900000004ULL;

struct Source {
  RawData raw;
  std::string file;  // for error messages
};

Source read_source(const host::DataSpec& spec, const std::string& base_dir, bool test) {
  Source s;
  if (spec.format == "idx") {
    const std::string images = resolve_path(test ? spec.test : spec.train, base_dir);
    const std::string labels = resolve_path(test ? spec.test_labels : spec.train_labels, base_dir);
    if (labels.empty()) throw Error(ErrorCode::pipeline, "idx data needs train_labels (and test_labels)", spec.where);
    s.raw = read_idx(images, labels);
    s.file = labels;
  } else if (spec.format == "cifar10") {
    std::vector<std::string> files;
    for (const auto& f : test ? spec.test_files : spec.train_files) files.push_back(resolve_path(f, base_dir));
    s.raw = read_cifar10(files);
    s.file = files.empty() ? std::string() : files.front();
  } else if (spec.format == "csv") {
    s.file = resolve_path(test ? spec.test : spec.train, base_dir);
    s.raw = read_csv(s.file, {spec.label_column, spec.header});
  } else {
    throw Error(ErrorCode::pipeline, "unknown data format '" + spec.format + "' (idx, cifar10 or csv)", spec.where);
  }
  return s;
}

bool has_test_source(const host::DataSpec& spec) {
  return spec.format == "cifar10" ? !spec.test_files.empty() : !spec.test.empty();
}

Dataset make_split(const RawData& raw, const at::Tensor& source_ids, const std::vector<std::int64_t>& rows) {
  Dataset d;
  d.inputs = take_rows(raw.inputs, rows);
  if (raw.inputs.dim() == 4 && raw.inputs.scalar_type() == at::kByte) d.pixels = d.inputs;
  d.targets = take_rows(raw.targets, rows);
  d.ids = take_rows(source_ids, rows);
  return d;
}

Dataset subset(const Dataset& d, const std::vector<std::int64_t>& rows) {
  Dataset s{take_rows(d.inputs, rows), take_rows(d.targets, rows), take_rows(d.ids, rows), {}};
  if (d.pixels.defined()) s.pixels = take_rows(d.pixels, rows);
  return s;
}

}  // namespace

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

DataSplits load_data(const host::DataSpec& spec, const std::string& base_dir) {
  if (spec.test_only) return load_test_only(spec, base_dir);  // data/load_test_only.cpp
  Source train_src, test_src;
  bool separate_test = false;
  if (is_user_format(spec.format)) {  // npy, npz, images: one reader for both sources (an .npz may hold both)
    UserSources sources = read_user_sources(spec, base_dir);
    train_src = {std::move(sources.train), sources.train_file};
    test_src = {std::move(sources.test), sources.test_file};
    separate_test = sources.has_test;
  } else {
    train_src = read_source(spec, base_dir, false);
    separate_test = has_test_source(spec);
    if (separate_test) test_src = read_source(spec, base_dir, true);
  }

  DataSplits out;
  out.is_image = train_src.raw.inputs.dim() == 4;
  out.input_shape.assign(train_src.raw.inputs.sizes().begin() + 1, train_src.raw.inputs.sizes().end());
  if (separate_test) {
    std::vector<std::int64_t> test_shape(test_src.raw.inputs.sizes().begin() + 1, test_src.raw.inputs.sizes().end());
    if (test_shape != out.input_shape)
      throw Error(ErrorCode::data, fmt::format("test examples have shape {} but training examples {}",
                                               fmt::join(test_shape, "x"), fmt::join(out.input_shape, "x")),
                  {test_src.file});
  }

  // Classes: declared by the pipeline (class_names, num_classes) or named by the file, else 0..max training label;
  // every label must be a class and every class needs a training example (data/labels.h).
  std::vector<std::string> names = spec.class_names;
  if (names.empty()) names = train_src.raw.class_names;
  const int declared = !names.empty() ? static_cast<int>(names.size()) : static_cast<int>(spec.num_classes);
  const LabelSource test_labels{&test_src.raw, test_src.file};
  out.num_classes =
      check_class_set({&train_src.raw, train_src.file}, separate_test ? &test_labels : nullptr, declared);
  for (auto c = static_cast<int>(names.size()); c < out.num_classes; ++c) names.push_back(std::to_string(c));
  out.class_names = names;
  if (out.num_classes < 2) throw Error(ErrorCode::data, "the data hold a single class", {train_src.file});

  const std::uint64_t seed = static_cast<std::uint64_t>(spec.split_seed);
  const at::Tensor train_ids = at::arange(train_src.raw.targets.size(0), at::kLong);
  Dataset train, test;
  if (separate_test) {
    std::vector<std::int64_t> all(static_cast<std::size_t>(train_ids.size(0)));
    std::iota(all.begin(), all.end(), 0);
    train = make_split(train_src.raw, train_ids, all);
    std::vector<std::int64_t> all_test(static_cast<std::size_t>(test_src.raw.targets.size(0)));
    std::iota(all_test.begin(), all_test.end(), 0);
    test = make_split(test_src.raw, at::arange(test_src.raw.targets.size(0), at::kLong), all_test);
    out.test_source_rows = test_src.raw.targets.size(0);
  } else {
    if (spec.test_fraction <= 0 || spec.test_fraction >= 1)
      throw Error(ErrorCode::pipeline, "test_fraction must be in (0, 1) when there is no test file", spec.where);
    auto [kept, taken] = stratified_split(train_src.raw.targets, out.num_classes, spec.test_fraction,
                                          seed ^ kTestSalt);
    train = make_split(train_src.raw, train_ids, kept);
    test = make_split(train_src.raw, train_ids, taken);
  }

  if (spec.imbalance < 1.0) {
    const auto want = long_tail_counts(class_counts(train.targets, out.num_classes), spec.imbalance);
    train = subset(train, stratified_take(train.targets, want, seed ^ kTailSalt));
  }
  if (spec.train_limit > 0) {
    const auto want = proportional_counts(class_counts(train.targets, out.num_classes), spec.train_limit);
    train = subset(train, stratified_take(train.targets, want, seed ^ kLimitSalt));
  }
  if (spec.test_limit > 0) {
    const auto want = proportional_counts(class_counts(test.targets, out.num_classes), spec.test_limit);
    test = subset(test, stratified_take(test.targets, want, (seed ^ kLimitSalt) + 1));
  }
  Dataset validation;
  if (spec.validation_fraction > 0) {
    auto [kept, taken] = stratified_split(train.targets, out.num_classes, spec.validation_fraction,
                                          seed ^ kValidationSalt);
    validation = subset(train, taken);
    train = subset(train, kept);
  }
  if (train.size() == 0) throw Error(ErrorCode::data, "no training examples left after splitting", {train_src.file});
  if (test.size() == 0) throw Error(ErrorCode::data, "no test examples", {train_src.file});

  Normalizer norm;
  norm.mode = spec.normalize;
  norm.fit(train.inputs, out.is_image);
  train.inputs = norm.apply(train.inputs);
  test.inputs = norm.apply(test.inputs);
  if (validation.size() > 0) validation.inputs = norm.apply(validation.inputs);
  auto to_vector = [](const at::Tensor& t) {
    const at::Tensor c = t.to(at::kFloat).contiguous().flatten();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  out.normalize = norm.mode;
  out.norm_shift = to_vector(norm.shift);
  out.norm_scale = to_vector(norm.scale);
  out.train = std::move(train);
  out.validation = std::move(validation);
  out.test = std::move(test);
  return out;
}

}  // namespace compaudit::engine
