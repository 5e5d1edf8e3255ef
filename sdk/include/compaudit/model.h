// compaudit/model.h — the model as a compressor sees it.
//
// The host wraps every model — the built-in MLP / CNN / ResNet and TorchScript modules exported from PyTorch — in
// this interface. Compressors work on parameters by name and on "layers" (a weight with its bias), edit them in place
// (they alias the model's storage), install masks that the host keeps applied through any later training, and, where
// the model allows it, replace parameters by smaller ones (structured pruning that really shrinks the model).
//
// Threading: a Model is used by one thread at a time (one cell). Lifetime: owned by the host; references handed to a
// plugin are valid for the duration of the call that received them.
#pragma once

#include <compaudit/export.h>
#include <compaudit/version.h>

#include <ATen/core/Tensor.h>
#include <torch/version.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

COMPAUDIT_NAMESPACE_BEGIN

enum class LayerType : int { linear = 1, conv2d = 2, other = 3 };

/// A weight tensor and its bias, aliasing the model's parameters.
struct Layer {
  std::string name;             ///< Module path, e.g. "fc1" or "features.0"; parameters are name + ".weight" / ".bias".
  LayerType type = LayerType::other;
  at::Tensor weight;            ///< [out, in] for linear, [out, in, kh, kw] for conv2d.
  at::Tensor bias;              ///< [out], or undefined.
  /// Index (in Model::layers()) of the layer that consumes this layer's output channels as its input channels, or
  /// -1 when there is none or the model does not know (then structured pruning can only mask, not shrink).
  int consumer = -1;
};

/// A hook placed on the input of a layer during forward (see Model::set_activation_hook). Receives the layer index
/// and the activation, returns the (possibly transformed) activation.
using ActivationHook = std::function<at::Tensor(int layer, const at::Tensor& activation)>;

class COMPAUDIT_SDK_API Model {
 public:
  virtual ~Model();

  /// "mlp", "cnn", "resnet", "torchscript", ... — informative.
  virtual std::string architecture() const = 0;
  /// All trainable parameters by qualified name ("fc1.weight"), aliasing the model's storage.
  virtual std::vector<std::pair<std::string, at::Tensor>> named_parameters() = 0;
  /// Linear and conv2d layers in forward order. Biases and normalisation parameters are not layers.
  virtual std::vector<Layer> layers() = 0;
  /// Logits for a batch of inputs.
  virtual at::Tensor forward(const at::Tensor& input) = 0;

  /// True when replace_parameter may change shapes (built-in models); false for TorchScript modules.
  virtual bool can_reshape() const = 0;
  /// Replaces a parameter by a new tensor (same or, if can_reshape(), different shape). Masks of a reshaped
  /// parameter are dropped. Throws Error(runtime) for an unknown name or an unsupported reshape.
  virtual void replace_parameter(const std::string& name, const at::Tensor& value) = 0;

  /// Installs a 0/1 mask (same shape as the parameter) that the host multiplies into the parameter now and after
  /// every optimizer step. An undefined tensor removes the mask.
  /// Ownership (SDK 1.0, documented since compaudit 0.2): the model keeps the tensor itself — shared, not copied —
  /// when it is contiguous and bool or of the parameter's dtype (other masks are converted, which copies). Hand
  /// over a mask and do not modify it afterwards; to change an installed mask, build a new tensor (or clone() the
  /// one mask() returns) and install that. Copying 23M mask bytes cost a third of a pruning step.
  virtual void set_mask(const std::string& name, const at::Tensor& mask) = 0;
  /// The mask of a parameter, or an undefined tensor. It is the installed tensor itself: read it, do not modify it.
  virtual at::Tensor mask(const std::string& name) const = 0;

  /// Bits per stored weight of a parameter (32 by default; a quantizer sets 16, 8 or 4) — used to report size.
  virtual int storage_bits(const std::string& name) const = 0;
  virtual void set_storage_bits(const std::string& name, int bits) = 0;

  /// Installs a hook on every layer's input during forward (activation quantization, calibration). Returns false
  /// when the model cannot host it (TorchScript). An empty function removes it.
  virtual bool set_activation_hook(ActivationHook hook) = 0;
};

/// Number of parameters and of non-zero parameters, and bytes at the stored precision (non-zeros only when
/// `sparse` is true: a sparse format is assumed to store only those, ignoring index overhead).
struct ModelSize {
  std::int64_t parameters = 0;
  std::int64_t nonzeros = 0;
  std::int64_t bytes = 0;         ///< All parameters at their storage bits.
  std::int64_t sparse_bytes = 0;  ///< Non-zeros only, at their storage bits.
};
COMPAUDIT_SDK_API ModelSize measure(Model& model);

COMPAUDIT_NAMESPACE_END
