#include "run/inert_model.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::engine {

void InertCompressionModel::replace_parameter(const std::string& name, const at::Tensor& value) {
  for (const auto& [n, t] : model_.named_parameters())
    if (n == name && !t.sizes().equals(value.sizes()))
      throw Error(ErrorCode::runtime,
                  fmt::format("training control: the compressor reshapes '{}' ({} -> {}); a reshape is compression "
                              "that cannot be made inert, so this arm has no training control (docs/pipelines.md, "
                              "\"Controls\")",
                              name, c10::str(t.sizes()), c10::str(value.sizes())));
  model_.replace_parameter(name, value);  // same shape: a rewind or a restore, i.e. training
  ++replaced_;
}

void InertCompressionModel::set_mask(const std::string&, const at::Tensor&) { ++masks_; }
void InertCompressionModel::set_storage_bits(const std::string&, int) { ++bits_; }
bool InertCompressionModel::set_activation_hook(ActivationHook) {
  ++hooks_;
  return true;  // as if hosted, so the compressor goes on exactly as in its arm
}
bool InertCompressionModel::set_projection(const std::string&, ParameterProjection, ProjectionTime) {
  ++projections_;
  return true;
}

nlohmann::json InertCompressionModel::calls() const {
  return {{"dropped", {{"set_mask", masks_}, {"set_storage_bits", bits_}, {"set_activation_hook", hooks_},
                       {"set_projection", projections_}}},
          {"applied", {{"replace_parameter", replaced_}}}};
}

std::int64_t weight_zeros(models::TrainableModel& model) {
  std::int64_t zeros = 0;
  for (const Layer& l : model.layers()) zeros += l.weight.numel() - l.weight.count_nonzero().item<std::int64_t>();
  return zeros;
}

std::string dense_problem(models::TrainableModel& model, std::int64_t zeros_before) {
  std::int64_t weights = 0;
  for (const auto& [name, t] : model.named_parameters()) {
    if (model.mask(name).defined()) return fmt::format("'{}' has a mask", name);
    if (model.storage_bits(name) < 32) return fmt::format("'{}' is stored in {} bits", name, model.storage_bits(name));
  }
  for (const Layer& l : model.layers()) weights += l.weight.numel();
  const std::int64_t zeros = weight_zeros(model);
  if (zeros > zeros_before + weights / 10000)
    return fmt::format("its layer weights have {} exact zeros, the dense model's {} (the compressor wrote zeros "
                       "into the weights directly instead of through Model::set_mask)",
                       zeros, zeros_before);
  return "";
}

}  // namespace compaudit::engine
