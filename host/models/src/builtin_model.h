// Private: the built-in model — an ordered list of layers plus a recipe that strings them together.
#pragma once

#include <compaudit/models/models.h>
#include <compaudit/models/parameter_masks.h>

#include <ATen/ATen.h>

namespace compaudit::models {

enum class Recipe { mlp, cnn, resnet };

/// One layer: a weight, its bias and where it sits in the recipe.
struct BuiltinLayer {
  std::string name;
  LayerType type = LayerType::linear;
  at::Tensor weight;  ///< leaf tensors that require grad
  at::Tensor bias;
  LayerGeometry geometry;
  int consumer = -1;
};

/// A ResNet basic block by layer indices; shortcut -1 is the identity.
struct ResidualBlock {
  int conv1 = -1, conv2 = -1, shortcut = -1;
};

class BuiltinModel final : public TrainableModel {
 public:
  BuiltinModel(Recipe recipe, std::vector<std::int64_t> input_shape, std::vector<BuiltinLayer> layers,
               std::vector<ResidualBlock> blocks);

  // compaudit::Model
  std::string architecture() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() override;
  std::vector<Layer> layers() override;
  at::Tensor forward(const at::Tensor& input) override;
  bool can_reshape() const override { return true; }
  void replace_parameter(const std::string& name, const at::Tensor& value) override;
  void set_mask(const std::string& name, const at::Tensor& mask) override;
  at::Tensor mask(const std::string& name) const override;
  int storage_bits(const std::string& name) const override;
  void set_storage_bits(const std::string& name, int bits) override;
  bool set_activation_hook(ActivationHook hook) override;
  bool set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) override;

  // TrainableModel
  void train(bool on) override { training_ = on; }
  std::vector<at::Tensor> parameters_for_optimizer() override;
  void apply_masks() override;
  void apply_projections(ProjectionTime when) override;
  bool has_projections(ProjectionTime when) const override { return masks_.has_projections(when); }
  ParameterProjection projection(const std::string& name, ProjectionTime when) const override {
    return masks_.projection(name, when);
  }
  std::unique_ptr<TrainableModel> clone() const override;
  std::map<std::string, at::Tensor> state() const override;
  void load_state(const std::map<std::string, at::Tensor>& state) override;
  void save(const std::string& path) const override;

  const BuiltinLayer& layer(int index) const { return layers_.at(static_cast<std::size_t>(index)); }

 private:
  at::Tensor& parameter(const std::string& name);  // throws Error(runtime) for an unknown name
  const at::Tensor& parameter(const std::string& name) const;
  at::Tensor run_layer(int index, at::Tensor x);   // hook, then the layer, then its ReLU / pool

  Recipe recipe_;
  std::vector<std::int64_t> input_shape_;
  std::vector<BuiltinLayer> layers_;
  std::vector<ResidualBlock> blocks_;
  ParameterMasks masks_;  // masks, projections and storage bits
  ActivationHook hook_;
  bool training_ = true;
};

/// Builds a freshly initialised model (Kaiming-uniform weights and uniform biases with bound 1/sqrt(fan_in), the
/// torch.nn defaults) from a seeded generator. Throws Error(pipeline) for shapes the recipe cannot take.
std::unique_ptr<BuiltinModel> build_builtin(Recipe recipe, const std::vector<std::int64_t>& hidden,
                                            std::vector<std::int64_t> input_shape, int num_classes,
                                            std::int64_t seed);

}  // namespace compaudit::models
