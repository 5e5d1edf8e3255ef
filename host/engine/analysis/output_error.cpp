#include "analysis/output_error.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

namespace compaudit::engine::analysis {

namespace {

constexpr std::int64_t kBatch = 1024;

struct Sums {
  double signal = 0, noise = 0, signal_critical = 0, noise_critical = 0;
};

nlohmann::json ratios(double signal, double noise) {
  if (signal <= 0) return {nullptr, nullptr};
  return {std::sqrt(noise / signal), noise > 0 ? nlohmann::json(10.0 * std::log10(signal / noise)) : nlohmann::json()};
}

}  // namespace

std::vector<nlohmann::json> output_errors(const models::TrainableModel& reference,
                                          const std::vector<LayerChange>& changes, const at::Tensor& inputs,
                                          const at::Tensor& targets, std::optional<int> critical_class) {
  at::NoGradGuard no_grad;
  auto model = reference.clone();
  model->train(false);
  std::map<int, std::size_t> by_index;  // layer index -> position in changes
  for (std::size_t i = 0; i < changes.size(); ++i) by_index[changes[i].index] = i;
  std::vector<Sums> sums(changes.size());
  at::Tensor in_class;  // [batch] bool, the current batch's critical examples
  const auto geometry = [&](int index) { return models::layer_geometry(*model, index); };
  const bool hooked = model->set_activation_hook([&](int index, const at::Tensor& x) {
    const auto it = by_index.find(index);
    if (it == by_index.end()) return x;
    const LayerChange& c = changes[it->second];
    // The output difference is linear in the parameters: f(x; W' - W, b' - b).
    const at::Tensor dw = c.candidate[0].value - c.reference[0].value;
    const at::Tensor db = c.candidate.size() > 1 ? c.candidate[1].value - c.reference[1].value : at::Tensor();
    at::Tensor y, d;
    if (c.type == LayerType::linear) {
      const at::Tensor flat = x.dim() > 2 ? x.flatten(1) : x;
      y = at::linear(flat, c.reference[0].value, c.reference.size() > 1 ? c.reference[1].value : at::Tensor());
      d = at::linear(flat, dw, db);
    } else {
      const auto g = geometry(index);
      y = at::conv2d(x, c.reference[0].value, c.reference.size() > 1 ? c.reference[1].value : at::Tensor(),
                     {g.stride, g.stride}, {g.padding, g.padding});
      d = at::conv2d(x, dw, db, {g.stride, g.stride}, {g.padding, g.padding});
    }
    const at::Tensor ys = y.to(at::kDouble).pow(2).flatten(1).sum(1), ds = d.to(at::kDouble).pow(2).flatten(1).sum(1);
    Sums& s = sums[it->second];
    s.signal += ys.sum().item<double>();
    s.noise += ds.sum().item<double>();
    if (in_class.defined()) {
      s.signal_critical += ys.masked_select(in_class).sum().item<double>();
      s.noise_critical += ds.masked_select(in_class).sum().item<double>();
    }
    return x;
  });
  if (!hooked) return std::vector<nlohmann::json>(changes.size(), nullptr);
  for (std::int64_t start = 0; start < inputs.size(0); start += kBatch) {
    const std::int64_t end = std::min(inputs.size(0), start + kBatch);
    if (critical_class) in_class = targets.slice(0, start, end).eq(*critical_class);
    model->forward(inputs.slice(0, start, end));
  }
  std::vector<nlohmann::json> out;
  for (const Sums& s : sums) {
    const nlohmann::json all = ratios(s.signal, s.noise);
    const nlohmann::json crit = critical_class ? ratios(s.signal_critical, s.noise_critical)
                                               : nlohmann::json{nullptr, nullptr};
    out.push_back({{"relative_l2", all[0]}, {"sqnr_db", all[1]}, {"relative_l2_critical", crit[0]},
                   {"sqnr_db_critical", crit[1]}});
  }
  return out;
}

}  // namespace compaudit::engine::analysis
