// host/engine/batched/stacked_architecture.h — what a stacked architecture implements, and the registry of them.
//
// K models of one architecture and shape train and evaluate as one stack (population batching,
// docs/performance.md). An architecture supplies the stack; everything else is shared:
//   pack       its constructor copies K models' parameters and masks into stacked tensors [K, ...] in the layout it
//              computes in (StackedParameter: value and mask, weight then bias per layer);
//   forward    the training forward of one pass — the whole stack at once (models_per_pass() == K, the MLP) or one
//              model (== 1, the CNN) — keeping what backward needs; the logits [count, B, C];
//   backward   from d loss / d logits (training/cross_entropy.h), hands each parameter's gradient for the pass's
//              models (packed: model by model, in the parameter's layout) to a GradientSink as soon as it exists and
//              after the last use of the parameter's current value, so the optimizer step runs at once, in cache;
//   unpack     writes slice k back into model k;
//   forward_shared  evaluation: logits [K, N, C] of inputs every model shares.
// StackedTrainer (stacked_trainer.h) drives forward -> cross entropy -> backward -> the optimizer table's fused step
// for any architecture; train_population, train_on_subsets and predict_population never switch on it.
//
// Adding an architecture: its own stacked_<arch>.{h,cpp} implementing StackedArchitecture, one entry in
// stacked_architectures() (stacked_architecture.cpp), its source in CMakeLists.txt, and its shapes in the generated
// drift test (tests/engine/test_stacked_drift.cpp), which refuses a registered architecture without shapes.
#pragma once

#include <compaudit/models/models.h>

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace compaudit::engine::batched {

/// One stacked parameter, in the stack's layout.
struct StackedParameter {
  at::Tensor value;  ///< contiguous float32 [K, ...]
  at::Tensor keep;   ///< bool (true: keep; false writes +0) or float multiplier in value's layout; undefined: no mask
};

/// The packed parameters of a stack whose layers hold weight, bias and their masks (keep_w, keep_b): weight then
/// bias of each layer, in layer order.
template <class Layer>
std::vector<StackedParameter> weight_bias_parameters(const std::vector<Layer>& layers) {
  std::vector<StackedParameter> out;
  for (const Layer& l : layers) {
    out.push_back({l.weight, l.keep_w});
    out.push_back({l.bias, l.keep_b});
  }
  return out;
}

/// Where backward hands the gradients.
class GradientSink {
 public:
  /// The gradient of packed_parameters()[index] for the pass's models, model by model (numel / K floats each).
  virtual void gradient(std::size_t index, const float* grad) = 0;

 protected:
  ~GradientSink() = default;
};

class StackedArchitecture {
 public:
  virtual ~StackedArchitecture() = default;
  /// K.
  virtual std::int64_t population() const = 0;
  /// The parameters the optimizer steps, weight then bias per layer (each value aliases the stack's tensor).
  virtual std::vector<StackedParameter> packed_parameters() = 0;
  /// How many models one forward / backward covers: population() (the whole stack at once) or 1 (model by model).
  virtual std::int64_t models_per_pass() const = 0;
  /// The training forward of models [first, first + count) on inputs [count, B, features...] (count =
  /// models_per_pass(); model first + i sees inputs[i]): logits [count, B, C], valid until the next forward.
  virtual const at::Tensor& forward(std::int64_t first, const at::Tensor& inputs) = 0;
  /// The backward of the last forward from `dlogits` (its shape): every parameter's gradient to `sink`.
  virtual void backward(const at::Tensor& dlogits, GradientSink& sink) = 0;
  /// Logits [K, N, C] of inputs [N, features...] shared by every model (evaluation; no autograd).
  virtual at::Tensor forward_shared(const at::Tensor& inputs) const = 0;
  /// Writes slice k of every parameter back into model k (in place: masks, storage bits and hooks are untouched).
  virtual void unpack(const std::vector<models::TrainableModel*>& models) const = 0;
};

/// A registered architecture.
struct StackedArchitectureInfo {
  std::string name;     ///< TrainableModel::architecture()
  std::string display;  ///< in messages: "MLP"
  /// "" when the stack can hold `model` (a model of this architecture), else why not.
  std::string (*layout_problem)(models::TrainableModel& model);
  /// Packs models that passed can_stack.
  std::unique_ptr<StackedArchitecture> (*pack)(const std::vector<models::TrainableModel*>& models);
  /// Shared inputs per forward_shared call in predict_population (bounds its buffers). A model's probabilities do not
  /// depend on the chunk, which is fixed per architecture, nor on the other models.
  std::int64_t eval_chunk = 1024;
};

/// Every stacked architecture.
const std::vector<StackedArchitectureInfo>& stacked_architectures();
/// The one named `architecture`, or null (such models train one at a time).
const StackedArchitectureInfo* find_stacked_architecture(const std::string& architecture);
/// The models (which passed can_stack) as one stack of their architecture.
std::unique_ptr<StackedArchitecture> pack(const std::vector<models::TrainableModel*>& models);

/// The architecture and layer shapes of a model as text ("mlp:128x64/128;..."): models stack when their signatures
/// are equal.
std::string shape_signature(models::TrainableModel& model);

/// Why `models` cannot be trained as one stack ("" when they can): not all of one registered architecture, a model
/// the stack cannot hold (its layout_problem), different shapes, or a model whose forward() differs from the stacked
/// forward on `probe` (e.g. an activation hook).
std::string can_stack(const std::vector<models::TrainableModel*>& models, const at::Tensor& probe);

}  // namespace compaudit::engine::batched
