// load_data() for [data] with only test data (DataSpec::test_only: npy, npz or images without a training source),
// the data side of auditing a pretrained model: nothing is trained, so there is no training or validation split and
// nothing to fit a normalisation on.
#include "data/load.h"

#include "data/splits.h"
#include "data/user_sources.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::engine {
namespace {

constexpr std::uint64_t kTestLimitSalt = 0x6c696d6900000005ULL;  // test_limit's stream (load.cpp's salts + 1)

// Classes: class_names (the pipeline's, else the image folders'), else num_classes, else 0..max test label. With no
// training data a class may be absent from the test set (a pretrained model still has its output); every label
// must be a class.
int test_only_classes(const host::DataSpec& spec, const RawData& test, const std::string& file,
                      std::vector<std::string>& names) {
  names = !spec.class_names.empty() ? spec.class_names : test.class_names;
  const std::int64_t declared = !names.empty() ? static_cast<std::int64_t>(names.size()) : spec.num_classes;
  const at::Tensor max_at = test.targets.argmax();
  const std::int64_t max_label = test.targets[max_at.item<std::int64_t>()].item<std::int64_t>();
  const std::int64_t classes = declared > 0 ? declared : max_label + 1;
  if (max_label >= classes)
    throw Error(ErrorCode::data, fmt::format("label {} at row {} is not one of the {} classes [data] declares (0..{})",
                                             max_label, max_at.item<std::int64_t>() + 1, classes, classes - 1),
                {file});
  if (classes < 2)
    throw Error(ErrorCode::data, "the test data hold a single class; declare the model's classes with num_classes or "
                                 "class_names in [data]", {file});
  for (auto c = static_cast<std::int64_t>(names.size()); c < classes; ++c) names.push_back(std::to_string(c));
  return static_cast<int>(classes);
}

}  // namespace

DataSplits load_test_only(const host::DataSpec& spec, const std::string& base_dir) {
  if (spec.normalize != "none")
    throw Error(ErrorCode::pipeline, fmt::format("[data] normalize = \"{}\" is fitted on training data, and there is "
                                                 "none: use normalize = \"none\"", spec.normalize), spec.where);
  UserSources sources = read_user_sources(spec, base_dir);
  RawData& raw = sources.test;
  DataSplits out;
  out.num_classes = test_only_classes(spec, raw, sources.test_file, out.class_names);
  out.is_image = raw.inputs.dim() == 4;
  out.input_shape.assign(raw.inputs.sizes().begin() + 1, raw.inputs.sizes().end());
  out.test_source_rows = raw.targets.size(0);

  Dataset& test = out.test;
  test.inputs = raw.inputs;
  test.targets = raw.targets;
  test.ids = at::arange(raw.targets.size(0), at::kLong);
  if (spec.test_limit > 0) {
    const auto want = proportional_counts(class_counts(test.targets, out.num_classes), spec.test_limit);
    const at::Tensor rows = at::tensor(stratified_take(test.targets, want,
                                                       static_cast<std::uint64_t>(spec.split_seed) ^ kTestLimitSalt),
                                       at::kLong);
    test.inputs = test.inputs.index_select(0, rows);
    test.targets = test.targets.index_select(0, rows);
    test.ids = test.ids.index_select(0, rows);
  }
  if (test.inputs.dim() == 4 && test.inputs.scalar_type() == at::kByte) test.pixels = test.inputs;

  Normalizer none;
  none.mode = "none";
  none.fit(test.inputs, out.is_image);  // "none" looks at no value: shift 0, scale 1
  test.inputs = none.apply(test.inputs);
  out.normalize = "none";
  out.norm_shift = {0.0f};
  out.norm_scale = {1.0f};
  return out;
}

}  // namespace compaudit::engine
