// host/engine/run/inert_model.h — the model a training control's compressors see (docs/pipelines.md, "Controls").
//
// A compressor that trains inside compress() (manifest `trains = true`: gradual pruning, lottery tickets,
// class-dependent compression) is compared with a control that runs the same compressor, with the same parameters and
// random streams, on this wrapper: everything that trains or rewinds reaches the model, every call that compresses
// is recorded and dropped. So the control gets exactly the compressed arm's training (epochs, batches, rewinds, loss,
// best-epoch restores) and stays dense.
//   applied:           named_parameters, layers, forward, replace_parameter with the parameter's own shape (a rewind
//                      or a restore is training, not compression), and CompressionContext::train on the real model;
//   recorded, dropped: set_mask (mask() keeps answering "none"), set_storage_bits, set_activation_hook,
//                      set_projection;
//   refused:           replace_parameter with another shape (structured pruning cannot be made inert): the control's
//                      cell fails, naming the parameter.
// A compressor that compresses some other way (writing zeros into the tensors it aliases) is caught afterwards by
// dense_problem(), which fails the cell.
#pragma once

#include <compaudit/model.h>
#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace compaudit::engine {

class InertCompressionModel final : public Model {
 public:
  explicit InertCompressionModel(models::TrainableModel& model) : model_(model) {}

  std::string architecture() const override { return model_.architecture(); }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() override { return model_.named_parameters(); }
  std::vector<Layer> layers() override { return model_.layers(); }
  at::Tensor forward(const at::Tensor& input) override { return model_.forward(input); }
  bool can_reshape() const override { return model_.can_reshape(); }
  void replace_parameter(const std::string& name, const at::Tensor& value) override;
  void set_mask(const std::string& name, const at::Tensor& mask) override;
  at::Tensor mask(const std::string& name) const override { return model_.mask(name); }
  int storage_bits(const std::string& name) const override { return model_.storage_bits(name); }
  void set_storage_bits(const std::string& name, int bits) override;
  bool set_activation_hook(ActivationHook hook) override;
  bool set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) override;

  /// The calls so far: {"set_mask": n, "set_storage_bits": n, "set_activation_hook": n, "set_projection": n} dropped,
  /// {"replace_parameter": n} applied. Stored with the control's compression record.
  nlohmann::json calls() const;

 private:
  models::TrainableModel& model_;
  std::int64_t masks_ = 0, bits_ = 0, hooks_ = 0, projections_ = 0, replaced_ = 0;
};

/// Exact zeros among the linear / conv2d weights of `model` (what pruning writes).
std::int64_t weight_zeros(models::TrainableModel& model);

/// Why `model` is not the dense model a training control must end as, or "" when it is: a mask, a storage width
/// below 32 bits, or more exact zeros among its layer weights than `zeros_before` (the dense model's) plus one in
/// 10,000 of them (room for floating-point coincidences; pruning writes far more).
std::string dense_problem(models::TrainableModel& model, std::int64_t zeros_before);

}  // namespace compaudit::engine
