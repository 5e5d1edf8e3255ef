// compaudit/models/models.h — the models compaudit trains and compresses.
//
// Two families implement compaudit::Model (see sdk/include/compaudit/model.h):
//  * Built-in models ("mlp", "cnn", "resnet"): an ordered list of layers (linear / conv2d, each with a bias) plus an
//    architecture recipe that says how forward() strings them together. Because the layers are plain tensors,
//    structured pruning can physically shrink a layer (slice its output channels and its consumer's input channels
//    through replace_parameter) and population batching can stack the weights of K models.
//  * TorchScript modules exported from PyTorch ("torchscript"): parameters by name, layers found from the weights'
//    ranks (2-D -> linear, 4-D -> conv2d), shapes fixed (can_reshape() is false), no activation hooks.
//
// Architectures (names of layers in brackets; parameters are "<layer>.weight" and "<layer>.bias"):
//   mlp     flatten -> [fc1] ReLU -> ... -> [fcN]                          hidden = widths, default {128}
//   cnn     per channel count c in hidden (default {16, 32}): [convI] 3x3 pad 1 -> ReLU -> 2x2 max pool;
//           then flatten (channel-major) -> [fc]
//   resnet  [stem] 3x3 -> ReLU; per channel count c in hidden (default {16, 32, 64}) a basic block
//           [blockB.conv1] 3x3 (stride 2 from the second block) -> ReLU -> [blockB.conv2] 3x3, plus the shortcut
//           (identity, or [blockB.shortcut] 1x1 with the same stride when the shape changes), ReLU of the sum;
//           global average pool -> [fc]. No batch norm, so masks and size reports cover every parameter.
// In a ResNet only blockB.conv1 can shrink (its output feeds blockB.conv2 alone); layers whose outputs are added to
// a residual report consumer = -1, so structured pruning masks them instead.
// An input shape of one dimension whose size is a perfect square ({64}) is read as a one-channel image (1x8x8) by
// cnn and resnet.
//
// Masks (Model::set_mask): the model keeps the tensor it is given (shared, not copied; see parameter_masks.h, which
// holds the bookkeeping every model shares) — bool masks stay bool (a quarter of the memory), others take the
// parameter's dtype — and applies it at once and in apply_masks(). An activation hook installed by a
// plugin (full-int8 quantization) is code in that plugin's library: keep the library loaded while the model lives.
// Threading: one thread at a time per model (a cell). No <torch/torch.h> here: this header is included widely.
#pragma once

#include <compaudit/model.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#define COMPAUDIT_MODELS_API __attribute__((visibility("default")))

namespace compaudit::host {
struct ModelSpec;
}

namespace compaudit::models {

/// A Model the engine can train, copy, checkpoint and export.
class COMPAUDIT_MODELS_API TrainableModel : public compaudit::Model {
 public:
  ~TrainableModel() override;

  /// Training mode on or off (matters for TorchScript modules with dropout / batch norm).
  virtual void train(bool on) = 0;
  /// The tensors an optimizer should update. Call again after a compressor ran: replace_parameter() installs new
  /// tensors, so an optimizer built before it would update stale ones.
  virtual std::vector<at::Tensor> parameters_for_optimizer() = 0;
  /// Multiplies every installed mask into its parameter. The engine calls it after each optimizer step.
  virtual void apply_masks() = 0;
  /// Applies every projection installed for `when` (Model::set_projection): the engine calls it with every_step
  /// after apply_masks() after each optimizer step, and with end_of_training when a training run ends.
  virtual void apply_projections(ProjectionTime when) = 0;
  /// True when some parameter has a projection for `when` (population batching cannot apply them: such models
  /// train one at a time).
  virtual bool has_projections(ProjectionTime when) const = 0;
  /// The projection of parameter `name` for `when`, or an empty function (size reports measure how far the
  /// final values are from the compressed set).
  virtual ParameterProjection projection(const std::string& name, ProjectionTime when) const = 0;
  /// A deep copy: parameters, masks, projections and storage bits (not the activation hook). The copy shares no
  /// storage (projections, being code, share what they captured, which they only read).
  virtual std::unique_ptr<TrainableModel> clone() const = 0;
  /// A snapshot (deep copies) of the parameters by name, plus "mask/<param>" for each mask and "bits/<param>"
  /// (an int64 scalar) for each parameter stored below 32 bits — enough to restore a compressed model exactly.
  /// Projections are code, not state: a snapshot does not carry them and load_state() keeps the model's own.
  virtual std::map<std::string, at::Tensor> state() const = 0;
  /// Restores a state() snapshot. Every parameter must be present; shapes may differ only if can_reshape().
  /// Throws compaudit::Error(runtime) naming the offending key.
  virtual void load_state(const std::map<std::string, at::Tensor>& state) = 0;
  /// Writes the model where PyTorch reads it: built-in models as a state dict (`torch.load(path)` gives a dict of
  /// parameter name -> tensor, masks applied, values as stored), TorchScript models as a TorchScript file
  /// (`torch.jit.load(path)`). Throws compaudit::Error(io) when the file cannot be written.
  virtual void save(const std::string& path) const = 0;
};

/// Builds a model from the pipeline's [model] table.
///   input_shape   per example, e.g. {1, 28, 28} or {64}
///   num_classes   outputs of the last layer
///   seed          initialisation seed (same seed, same initial weights; Kaiming-uniform like torch.nn defaults)
///   pipeline_dir  directory of the pipeline file; a relative TorchScript path is resolved against it
/// Throws compaudit::Error(pipeline) for an unknown architecture or a shape it cannot take, Error(io) when a
/// TorchScript file cannot be loaded.
COMPAUDIT_MODELS_API std::unique_ptr<TrainableModel> make_model(const host::ModelSpec& spec,
                                                               std::vector<std::int64_t> input_shape,
                                                               int num_classes, std::int64_t seed,
                                                               const std::string& pipeline_dir);

/// The same without a ModelSpec: arch "mlp" | "cnn" | "resnet", hidden as in [model].hidden (empty: defaults).
COMPAUDIT_MODELS_API std::unique_ptr<TrainableModel> make_builtin_model(const std::string& arch,
                                                                       const std::vector<std::int64_t>& hidden,
                                                                       std::vector<std::int64_t> input_shape,
                                                                       int num_classes, std::int64_t seed);

/// Wraps the TorchScript module at `path` (absolute, or relative to the current directory).
COMPAUDIT_MODELS_API std::unique_ptr<TrainableModel> load_torchscript_model(const std::string& path);

/// Re-initialises every parameter of a TorchScript model with PyTorch's default rule for its module type, drawn
/// from `seed`: Linear / Conv1d-3d / ConvTranspose1d-3d weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))
/// (kaiming_uniform_(a = sqrt(5)) and the bias rule of reset_parameters()); BatchNorm / LayerNorm / GroupNorm /
/// InstanceNorm weight 1, bias 0 (BatchNorm running statistics reset too); Embedding N(0, 1). So K seeds of one
/// architecture file start from K different initialisations, as K `Model()` constructions in PyTorch would.
/// Throws Error(pipeline) naming the module when a module of another type holds parameters of its own (its rule is
/// not known: use init = "keep"). Precondition: `model` came from load_torchscript_model.
COMPAUDIT_MODELS_API void reset_torchscript_parameters(TrainableModel& model, std::uint64_t seed);

/// The model's parameters by name and shape (host::ParameterList), e.g. to check that checkpoints share an
/// architecture with host::parameter_mismatch.
COMPAUDIT_MODELS_API std::vector<std::pair<std::string, std::vector<std::int64_t>>> parameter_list(TrainableModel& model);

/// Where a built-in layer sits in its recipe — for code that runs the layers itself (population batching).
struct LayerGeometry {
  int stride = 1;            ///< conv2d only
  int padding = 0;           ///< conv2d only
  bool relu_after = false;   ///< ReLU directly on this layer's output (not counting a residual sum)
  bool pool_after = false;   ///< 2x2 max pool after the ReLU (cnn)
  bool residual = false;     ///< output is added to a residual sum (resnet: conv2, shortcut) — cannot shrink
};

/// The geometry of layer `index` of a built-in model; a default LayerGeometry for TorchScript models.
COMPAUDIT_MODELS_API LayerGeometry layer_geometry(const TrainableModel& model, int index);

}  // namespace compaudit::models
