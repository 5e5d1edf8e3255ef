// testing::FakeMetricInput (compaudit/testing.h): a MetricInput from two populations of top-1 predictions.
#include <compaudit/error.h>
#include <compaudit/testing.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>

namespace compaudit::testing {

namespace {
Population population(const std::string& arm, const at::Tensor& predicted, std::int64_t n) {
  if (predicted.dim() != 2 || predicted.size(1) != n)
    throw Error(ErrorCode::runtime, fmt::format("FakeMetricInput: {} predictions must be [K, {}]", arm, n));
  Population p;
  p.arm = arm;
  for (std::int64_t k = 0; k < predicted.size(0); ++k) p.seeds.push_back(k);
  p.predicted = predicted.to(at::kLong).clone();
  p.records.assign(static_cast<std::size_t>(predicted.size(0)), nlohmann::json::object());
  return p;
}
}  // namespace

FakeMetricInput::FakeMetricInput(const at::Tensor& targets, const at::Tensor& reference_predicted,
                                 const at::Tensor& candidate_predicted, int num_classes) {
  const std::int64_t n = targets.numel();
  data.split = "test";
  data.targets = targets.to(at::kLong).flatten().clone();
  const std::int64_t largest =
      std::max({data.targets.max().item<std::int64_t>(), reference_predicted.max().item<std::int64_t>(),
                candidate_predicted.max().item<std::int64_t>()});
  data.num_classes = num_classes > 0 ? num_classes : static_cast<int>(largest + 1);
  for (int c = 0; c < data.num_classes; ++c) data.class_names.push_back(std::to_string(c));
  reference = population("dense", reference_predicted, n);
  candidate = population("candidate", candidate_predicted, n);
  if (reference.predicted.size(0) != candidate.predicted.size(0))
    throw Error(ErrorCode::runtime, "FakeMetricInput: the populations differ in K (rows are paired by seed)");
}

}  // namespace compaudit::testing
