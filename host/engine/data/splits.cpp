#include "data/splits.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace compaudit::engine {
namespace {

void fisher_yates(std::vector<std::int64_t>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

std::vector<std::vector<std::int64_t>> by_class(const at::Tensor& targets, int num_classes) {
  std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(num_classes));
  const at::Tensor t = targets.contiguous();
  const auto* y = t.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < t.size(0); ++i) members.at(static_cast<std::size_t>(y[i])).push_back(i);
  return members;
}

}  // namespace

std::vector<std::int64_t> class_counts(const at::Tensor& targets, int num_classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(num_classes), 0);
  const at::Tensor t = targets.contiguous();
  const auto* y = t.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < t.size(0); ++i) {
    if (y[i] < 0 || y[i] >= num_classes) throw Error(ErrorCode::data, "label out of range");
    ++counts[static_cast<std::size_t>(y[i])];
  }
  return counts;
}

std::vector<std::int64_t> stratified_take(const at::Tensor& targets, const std::vector<std::int64_t>& want,
                                          std::uint64_t seed) {
  const int num_classes = static_cast<int>(want.size());
  auto members = by_class(targets, num_classes);
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> out;
  for (int c = 0; c < num_classes; ++c) {
    auto& m = members[static_cast<std::size_t>(c)];
    if (want[c] > static_cast<std::int64_t>(m.size()))
      throw Error(ErrorCode::runtime, "stratified_take: class has fewer examples than requested");
    fisher_yates(m, rng);  // shuffle every class, even one we take whole, so later classes' draws do not shift
    out.insert(out.end(), m.begin(), m.begin() + want[c]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> stratified_split(const at::Tensor& targets,
                                                                                 int num_classes, double fraction,
                                                                                 std::uint64_t seed) {
  const auto counts = class_counts(targets, num_classes);
  std::vector<std::int64_t> want(counts.size());
  for (std::size_t c = 0; c < counts.size(); ++c)
    want[c] = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(counts[c])));
  std::vector<std::int64_t> taken = stratified_take(targets, want, seed);
  std::vector<std::int64_t> kept;
  kept.reserve(static_cast<std::size_t>(targets.size(0)) - taken.size());
  std::size_t j = 0;
  for (std::int64_t i = 0; i < targets.size(0); ++i) {
    if (j < taken.size() && taken[j] == i) ++j;
    else kept.push_back(i);
  }
  return {std::move(kept), std::move(taken)};
}

std::vector<std::int64_t> proportional_counts(const std::vector<std::int64_t>& counts, std::int64_t limit) {
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  if (limit <= 0 || limit >= total) return counts;
  std::vector<std::int64_t> out(counts.size());
  std::vector<std::pair<double, std::size_t>> remainders;
  std::int64_t given = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    const double exact = static_cast<double>(limit) * static_cast<double>(counts[c]) / static_cast<double>(total);
    out[c] = static_cast<std::int64_t>(std::floor(exact));
    given += out[c];
    remainders.emplace_back(-(exact - std::floor(exact)), c);  // negative: sort puts the largest first
  }
  std::stable_sort(remainders.begin(), remainders.end());
  for (std::size_t i = 0; given < limit && i < remainders.size(); ++i, ++given) ++out[remainders[i].second];
  return out;
}

std::vector<std::int64_t> long_tail_counts(const std::vector<std::int64_t>& counts, double imbalance) {
  if (imbalance >= 1.0 || counts.size() < 2) return counts;
  const double n_max = static_cast<double>(*std::max_element(counts.begin(), counts.end()));
  const double last = static_cast<double>(counts.size() - 1);
  std::vector<std::int64_t> out(counts.size());
  for (std::size_t c = 0; c < counts.size(); ++c) {
    const auto n = static_cast<std::int64_t>(std::llround(n_max * std::pow(imbalance, static_cast<double>(c) / last)));
    out[c] = std::min(counts[c], std::max<std::int64_t>(1, n));
  }
  return out;
}

at::Tensor take_rows(const at::Tensor& t, const std::vector<std::int64_t>& indices) {
  const at::Tensor idx = at::tensor(indices, at::kLong);
  return t.index_select(0, idx);
}

void Normalizer::fit(const at::Tensor& train_inputs, bool is_image) {
  const at::Tensor x = train_inputs.to(at::kFloat);
  // Reduce over examples, and for images also over the spatial dimensions: statistics per channel.
  std::vector<std::int64_t> dims{0};
  if (is_image) dims = {0, 2, 3};
  if (mode == "standard") {
    shift = x.mean(dims, /*keepdim=*/true).squeeze(0);
    scale = x.std(dims, /*unbiased=*/false, /*keepdim=*/true).squeeze(0);
    scale = at::where(scale > 1e-8, scale, at::ones_like(scale));
  } else if (mode == "minmax") {
    at::Tensor lo = x, hi = x;
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
      lo = std::get<0>(lo.min(*it, /*keepdim=*/true));
      hi = std::get<0>(hi.max(*it, /*keepdim=*/true));
    }
    shift = lo.squeeze(0);
    scale = hi.squeeze(0) - shift;
    scale = at::where(scale > 1e-8, scale, at::ones_like(scale));
  } else if (mode == "none") {
    shift = at::zeros({1}, at::kFloat);
    scale = at::ones({1}, at::kFloat);
  } else {
    throw Error(ErrorCode::pipeline, "unknown normalize mode '" + mode + "' (standard, minmax or none)");
  }
}

at::Tensor Normalizer::apply(const at::Tensor& inputs) const {
  return ((inputs.to(at::kFloat) - shift) / scale).contiguous();
}

}  // namespace compaudit::engine
