#include "run/saved_predictions.h"

#include "data/npy.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::engine {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw Error(ErrorCode::data, fmt::format("predictions {}: {}", path, message), {path});
}

}  // namespace

at::Tensor saved_probabilities(const std::string& path, std::size_t seed_index, std::size_t seeds,
                               const DataSplits& data) {
  return saved_probabilities(read_npy(path), path, seed_index, seeds, data);
}

at::Tensor saved_probabilities(const at::Tensor& file_array, const std::string& path, std::size_t seed_index,
                               std::size_t seeds, const DataSplits& data) {
  if (data.test_source_rows <= 0)
    fail(path, "saved predictions are matched to the rows of a test file; [data] has no separate test file (the "
               "test split is carved from the training data)");
  at::Tensor all = file_array;
  if (!at::isFloatingType(all.scalar_type()))
    fail(path, fmt::format("dtype {} is not floating point: expected logits or probabilities (float16/32/64)",
                           c10::toString(all.scalar_type())));
  const std::int64_t n = data.test_source_rows;
  const std::int64_t c = data.num_classes;
  const std::string shape = fmt::format("[{}]", fmt::join(all.sizes(), ", "));
  if (all.dim() == 3) {
    if (all.size(0) != static_cast<std::int64_t>(seeds))
      fail(path, fmt::format("shape {} holds {} models, but the pipeline has K = {} seeds", shape, all.size(0), seeds));
    all = all.select(0, static_cast<std::int64_t>(seed_index));
  } else if (all.dim() == 2) {
    if (seeds != 1)
      fail(path, fmt::format("shape {} is one model's outputs, but the pipeline has K = {} seeds: give [K, N, C]",
                             shape, seeds));
  } else {
    fail(path, fmt::format("shape {} is not [N, C] or [K, N, C]", shape));
  }
  if (all.size(0) != n || all.size(1) != c)
    fail(path, fmt::format("shape {}: expected {} rows (the test file's examples) of {} classes", shape, n, c));
  at::Tensor x = all.to(at::kDouble).contiguous();
  const at::Tensor bad_rows = (~at::isfinite(x)).any(1).nonzero();
  if (bad_rows.numel() > 0)
    fail(path, fmt::format("row {} holds NaN or infinite values ({} rows do)", bad_rows[0].item<std::int64_t>(),
                           bad_rows.size(0)));
  x = x.index_select(0, data.test.ids);  // the split's rows, in split order
  const bool probabilities = x.min().item<double>() >= 0 && x.max().item<double>() <= 1 &&
                             (x.sum(1) - 1).abs().max().item<double>() <= 1e-3;
  if (probabilities) return (x / x.sum(1, /*keepdim=*/true)).to(at::kFloat);
  // Logits: softmax in float32, as the engine does for a model's own outputs, so float32 logits saved by PyTorch
  // give the bits compaudit would have computed from the model.
  return at::softmax(all.index_select(0, data.test.ids).to(at::kFloat), 1);
}

}  // namespace compaudit::engine
