#include "run/realized.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>

namespace compaudit::engine {
namespace {

/// Every {layer, cut, chi} object at any depth of `node`, by layer name.
void collect_cuts(const nlohmann::json& node, std::map<std::string, nlohmann::json>& out) {
  if (node.is_object()) {
    const auto layer = node.find("layer"), cut = node.find("cut"), chi = node.find("chi");
    if (layer != node.end() && layer->is_string() && cut != node.end() && cut->is_string() && chi != node.end() &&
        chi->is_number_integer()) {
      auto& list = out[layer->get<std::string>()];
      if (list.is_null()) list = nlohmann::json::array();
      list.push_back({{"cut", *cut}, {"chi", *chi}});
    }
  }
  if (node.is_structured())
    for (const auto& child : node) collect_cuts(child, out);
}

/// Most distinct values in one row of `w` flattened to [o, rest].
std::int64_t max_levels_per_channel(const at::Tensor& w) {
  const at::Tensor sorted = std::get<0>(w.detach().flatten(1).sort(1));
  if (sorted.size(1) == 0) return 0;
  const at::Tensor changes = (sorted.slice(1, 1) != sorted.slice(1, 0, -1)).sum(1) + 1;
  return changes.max().item<std::int64_t>();
}

}  // namespace

std::int64_t numerical_rank(const at::Tensor& matrix) {
  const at::Tensor s = at::linalg_svdvals(matrix.detach().to(at::kDouble));
  if (s.numel() == 0) return 0;
  const double tol = s.max().item<double>() * static_cast<double>(std::max(matrix.size(0), matrix.size(1))) *
                     static_cast<double>(std::numeric_limits<float>::epsilon());
  return (s > tol).sum().item<std::int64_t>();
}

at::Tensor cut_matrix(const at::Tensor& w, const std::string& cut) {
  const std::string letters = w.dim() == 4 ? "oihw" : w.dim() == 2 ? "oi" : "";
  const auto bar = cut.find('|');
  std::vector<std::int64_t> perm;
  for (char c : cut) {
    if (c == '|') continue;
    const auto at = letters.find(c);
    if (at == std::string::npos)
      throw Error(ErrorCode::runtime, fmt::format("cut '{}' does not fit a {}-D weight", cut, w.dim()));
    perm.push_back(static_cast<std::int64_t>(at));
  }
  if (bar == std::string::npos || perm.size() != static_cast<std::size_t>(w.dim()))
    throw Error(ErrorCode::runtime, fmt::format("cut '{}' does not fit a {}-D weight", cut, w.dim()));
  const at::Tensor permuted = w.permute(perm);
  std::int64_t rows = 1;
  for (std::size_t d = 0; d < bar; ++d) rows *= permuted.size(static_cast<std::int64_t>(d));
  return permuted.reshape({rows, -1});
}

nlohmann::json realized_json(models::TrainableModel& model, models::TrainableModel* dense,
                             const nlohmann::json& records) {
  at::NoGradGuard no_grad;
  std::map<std::string, nlohmann::json> cuts;
  collect_cuts(records, cuts);
  std::map<std::string, at::Tensor> dense_weights;
  if (dense)
    for (const Layer& l : dense->layers()) dense_weights[l.name] = l.weight;

  nlohmann::json layers = nlohmann::json::array();
  for (const Layer& layer : model.layers()) {
    const at::Tensor w = layer.weight.detach();
    const std::string name = layer.name + ".weight";
    nlohmann::json row = {{"layer", layer.name}, {"parameter", name}};
    const auto n = w.numel();
    row["sparsity"] = n == 0 ? 0.0 : static_cast<double>(n - w.count_nonzero().item<std::int64_t>()) / n;
    if (auto it = dense_weights.find(layer.name); it != dense_weights.end() && it->second.sizes().equals(w.sizes())) {
      const at::Tensor ref = it->second.detach().to(at::kDouble);
      const double denom = ref.pow(2).sum().item<double>();
      if (denom > 0) row["norm_loss"] = (ref - w.to(at::kDouble)).pow(2).sum().item<double>() / denom;
    }
    if (auto it = cuts.find(layer.name); it != cuts.end()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& c : it->second) {
        nlohmann::json entry = c;
        try {
          entry["rank"] = numerical_rank(cut_matrix(w, c["cut"].get<std::string>()));
        } catch (const Error&) {
          entry["rank"] = nullptr;  // a record whose cut does not fit this weight (another plugin's convention)
        }
        list.push_back(std::move(entry));
      }
      row["cuts"] = std::move(list);
    }
    const int bits = model.storage_bits(name);
    if (bits < 32) {
      row["bits"] = bits;
      // A quantizer's grid is its end-of-training projection (a rank projection is not a grid).
      const ParameterProjection grid = model.projection(name, ProjectionTime::end_of_training);
      if (grid && n > 0) {
        at::Tensor projected = w.clone();
        grid(projected);
        row["off_grid_fraction"] = (projected != w).sum().item<double>() / static_cast<double>(n);
      }
      if (bits < 16) {
        row["levels_max"] = max_levels_per_channel(w);
        row["levels_allowed"] = std::int64_t{1} << bits;
      }
    }
    layers.push_back(std::move(row));
  }
  return {{"layers", std::move(layers)}};
}

}  // namespace compaudit::engine
