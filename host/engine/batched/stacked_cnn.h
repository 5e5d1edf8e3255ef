// host/engine/batched/stacked_cnn.h — K built-in CNNs of one shape as one stacked model (population batching).
//
// The "cnn" recipe (models.h): per block a 3x3 convolution (padding 1, stride 1) -> ReLU -> 2x2 max pool, then a
// linear classifier on the channel-major flatten. Layer l of model k is slice k of stacked tensors, in the layouts
// the stack computes in (activations are NHWC per model, a convolution is im2col + one product: conv_kernels.h):
//   conv weight  [K, out, 9·in]   columns (ky, kx, c)   (the model's [out, in, 3, 3] permuted)
//   fc weight    [K, C, h·w·c]    columns (h, w, c)     (the model's channel-major (c, h, w) flatten permuted)
//   bias         [K, 1, out]
// The masks the compressors installed are stacked in the same layouts (bool masks stay bool and write +0; float
// masks multiply), and unpack() permutes back and writes slice k into model k in place, as StackedMlp does.
//
// Training (StackedArchitecture, stacked_architecture.h; driven by StackedTrainer) goes model by model
// (models_per_pass() == 1), each on its own batch, without autograd:
//   forward   per block: cols = im2col(a), z = cols·Wᵀ, a' = pool(relu(z + b)) with the argmax recorded
//             (forward_model); logits = b + a·Wᵀ
//   backward  classifier as an MLP layer (dW = dzᵀ·a, db = Σ dz, da = dz·W); per block from the last: dz = the
//             pooled gradient scattered to the argmax where the ReLU passed (pool_relu_backward, which also sums db),
//             dW = dzᵀ·cols, dcols = dz·W, da = col2im(dcols) (not for the first block)
// each layer's gradients going to the optimizer step on slice k as soon as they exist. Checked against the models'
// own forward with autograd and torch::optim in tests/engine/test_stacked_drift.cpp.
//
// Why not grouped convolutions: measured slower than K separate ones here, and their results changed with K
// (bench/grouped_conv). Why not LibTorch's NCHW conv + relu + max_pool2d per model: in a profile of one training
// step the pool and ReLU (forward and backward) cost as much as the convolutions; fused NHWC loops do not.
//
// Bits: each model runs alone through the stack — its own im2col, one oneDNN product per model slice, its own
// fixed-order loops — so model k's result does not depend on which or how many models share the stack (tested).
// ResNets (strided convs, 1x1 shortcuts, residual sums, global average pool) are not stacked: one at a time.
#pragma once

#include "batched/conv_kernels.h"
#include "batched/stacked_architecture.h"

#include <compaudit/models/models.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine::batched {

/// One model's forward pass through the stack: the buffers it fills, kept for the backward pass and reused from
/// step to step (3-D [1, rows, columns] tensors, the shape slice_gemm multiplies).
struct CnnWorkspace {
  std::vector<ConvShape> shapes;   ///< the input geometry of each conv block
  std::vector<at::Tensor> acts;    ///< acts[l]: conv block l's input, NHWC as [1, b·h·w, c]; acts.back(): fc input
  std::vector<at::Tensor> cols;    ///< im2col of acts[l], [1, b·h·w, 9·c]
  std::vector<at::Tensor> argmax;  ///< int32, per pooled output of block l: window position, -1: no gradient
  at::Tensor z;                    ///< a conv's output before bias / ReLU / pool (scratch)
  at::Tensor logits;               ///< [1, b, classes]
};

class StackedCnn final : public StackedArchitecture {
 public:
  /// Stacks copies of the models' parameters and masks. The models must pass can_stack.
  explicit StackedCnn(const std::vector<models::TrainableModel*>& models);

  std::int64_t population() const override { return k_; }
  std::vector<StackedParameter> packed_parameters() override;
  std::int64_t models_per_pass() const override { return 1; }
  /// Model `first`'s logits [1, b, C] for inputs [1, b, features...] (inputs[0] as forward_model reads it).
  const at::Tensor& forward(std::int64_t first, const at::Tensor& inputs) override;
  void backward(const at::Tensor& dlogits, GradientSink& sink) override;

  struct StackedLayer {
    bool conv = false;   ///< a conv block (conv, ReLU, pool), else the classifier
    at::Tensor weight;   ///< [K, out, columns], contiguous, in the stack's layout
    at::Tensor bias;     ///< [K, 1, out], contiguous
    at::Tensor keep_w;   ///< bool (true: keep) or float multiplier in the weight's layout, or undefined (no mask)
    at::Tensor keep_b;
  };
  std::vector<StackedLayer>& layers() { return layers_; }
  const std::vector<StackedLayer>& layers() const { return layers_; }

  /// Model k's logits (in ws.logits) for its inputs x [b, features...] (the model's own input shape, NCHW, or
  /// flat features that form a square image, as the recipe reads them). Throws Error(runtime) for a shape that
  /// does not fit the layers.
  void forward_model(std::int64_t k, const at::Tensor& x, CnnWorkspace& ws) const;
  /// Logits [K, N, C] of inputs [N, features...] shared by every model (evaluation; no autograd).
  at::Tensor forward_shared(const at::Tensor& inputs) const override;
  /// Writes slice k of every parameter back into model k (permuted back to the model's layout; in place: masks,
  /// storage bits and hooks are untouched).
  void unpack(const std::vector<models::TrainableModel*>& models) const override;

 private:
  std::int64_t k_ = 0;
  std::vector<StackedLayer> layers_;
  // Training scratch, reused from step to step: the forward's workspace and model, one slice's gradient per
  // parameter (packed order, [1, ...]), the backward's buffers.
  CnnWorkspace ws_;
  std::int64_t model_ = 0;
  std::vector<at::Tensor> grads_;
  at::Tensor dz_, dcols_, da_, da_next_;
};

/// `t` as a scratch buffer of `sizes` and `type`: reused (resized) when it already has that type, else allocated.
/// The CNN's workspace and the trainer's backward buffers live from step to step this way.
at::Tensor& ensure_buffer(at::Tensor& t, at::IntArrayRef sizes, at::ScalarType type = at::kFloat);

/// Why `model` is not a built-in CNN the stack can run ("" when it is): conv blocks 3x3 / stride 1 / padding 1 with
/// ReLU and max pool, a linear classifier, biases everywhere, float32.
std::string cnn_layout_problem(models::TrainableModel& model);

}  // namespace compaudit::engine::batched
