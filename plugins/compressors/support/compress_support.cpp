#include "compress_support.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <map>

namespace compaudit::compressors {

void rewind_parameters(Model& model, const std::vector<std::pair<std::string, at::Tensor>>& point,
                       const std::string& plugin_id) {
  std::map<std::string, at::Tensor> current;
  for (const auto& [name, t] : model.named_parameters()) current[name] = t;
  for (const auto& [name, value] : point) {
    auto it = current.find(name);
    if (it == current.end()) continue;
    if (!it->second.sizes().equals(value.sizes()))
      throw Error(ErrorCode::runtime, fmt::format("{}: cannot rewind '{}': an earlier step reshaped it; put "
                                                  "rewinding schemes before structured pruning", plugin_id, name));
    model.replace_parameter(name, value);
  }
}

nlohmann::json mask_json(Model& model, const std::vector<Layer>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : layers) {
    const at::Tensor m = model.mask(l.name + ".weight");
    const std::int64_t n = l.weight.numel(), z = m.defined() ? zeros_of(m) : 0;
    out.push_back({{"layer", l.name}, {"parameters", n}, {"pruned", z},
                   {"sparsity", static_cast<double>(z) / static_cast<double>(n)}});
  }
  return out;
}

double roc_auc(const at::Tensor& score, const at::Tensor& positive) {
  const at::Tensor s = score.to(at::kDouble).contiguous(), pos = positive.to(at::kBool).contiguous();
  const std::int64_t n = s.numel(), np = pos.sum().item<std::int64_t>(), nn = n - np;
  if (np == 0 || nn == 0) return std::nan("");
  const at::Tensor order = std::get<1>(s.sort());
  const auto* v = s.data_ptr<double>();
  const auto* o = order.data_ptr<std::int64_t>();
  const auto* is_pos = pos.data_ptr<bool>();
  double rank_sum = 0.0;
  for (std::int64_t a = 0; a < n;) {
    std::int64_t b = a;
    while (b + 1 < n && v[o[b + 1]] == v[o[a]]) ++b;
    const double average = 0.5 * static_cast<double>(a + b) + 1.0;  // the 1-based ranks a+1 .. b+1, averaged
    for (std::int64_t i = a; i <= b; ++i) rank_sum += is_pos[o[i]] ? average : 0.0;
    a = b + 1;
  }
  return (rank_sum - 0.5 * static_cast<double>(np) * static_cast<double>(np + 1)) /
         (static_cast<double>(np) * static_cast<double>(nn));
}

// ---- records ------------------------------------------------------------------------------------------------------
nlohmann::json size_json(Model& model) {
  const ModelSize s = measure(model);
  return {{"parameters", s.parameters}, {"nonzeros", s.nonzeros}, {"bytes", s.bytes}, {"sparse_bytes", s.sparse_bytes}};
}

nlohmann::json layer_json(Model& model, const Layer& layer) {
  const std::int64_t n = layer.weight.numel();
  const std::int64_t nz = layer.weight.count_nonzero().item<std::int64_t>();
  return {{"layer", layer.name},
          {"type", to_string(layer.type)},
          {"shape", layer.weight.sizes().vec()},
          {"parameters", n},
          {"nonzeros", nz},
          {"sparsity", n ? 1.0 - static_cast<double>(nz) / static_cast<double>(n) : 0.0},
          {"bits", model.storage_bits(layer.name + ".weight")}};
}

std::string human_count(std::int64_t n) {
  if (n >= 1000000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 10000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

}  // namespace compaudit::compressors
