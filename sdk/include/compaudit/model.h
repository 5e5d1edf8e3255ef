// compaudit/model.h — the model as a compressor sees it.
//
// The host wraps every model — the built-in MLP / CNN / ResNet and TorchScript modules exported from PyTorch — in
// this interface. Compressors work on parameters by name and on "layers" (a weight with its bias), edit them in place
// (they alias the model's storage), install masks that the host keeps applied through any later training, and, where
// the model allows it, replace parameters by smaller ones (structured pruning that really shrinks the model).
//
// Contract of every member (SDK 1.1):
//  * Thread: a Model is used by one thread at a time — the thread running the compress() (or training) call that
//    was handed it; never concurrently.
//  * Lifetime: owned by the host; the Model& is valid during the call that received it. Tensors it returns stay
//    valid as long as the caller holds them (they are reference-counted), but see what each one aliases below.
//  * Ownership — one rule: inputs are copied, outputs belong to the caller. replace_parameter and set_mask copy what
//    they are given (the caller may reuse or edit its tensor afterwards); mask() and forward() return fresh tensors.
//    The one deliberate exception is the parameters themselves: named_parameters() and layers() alias the model's
//    storage so compressors can edit weights in place (under at::NoGradGuard: they require gradients). They are
//    stale after a reshape (replace_parameter with another shape): call layers() again.
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

/// When the host applies a parameter projection (Model::set_projection).
enum class ProjectionTime : int {
  every_step = 1,       ///< after every optimizer step, after the masks (truncation: the rank holds throughout)
  end_of_training = 2,  ///< once when a training run ends (quantization: values go back onto the grid)
};

/// Maps a parameter's value, in place, back onto the set its compressor left it in (rank <= r, a quantization
/// grid, ...). Called by the host without gradient recording, on the thread that trains the model.
using ParameterProjection = std::function<void(at::Tensor& value)>;

class COMPAUDIT_SDK_API Model {
 public:
  virtual ~Model();

  /// "mlp", "cnn", "resnet", "torchscript", ... — informative.
  virtual std::string architecture() const = 0;
  /// All trainable parameters by qualified name ("fc1.weight"), in a fixed order, aliasing the model's storage
  /// (edits change the model; see the contract above).
  virtual std::vector<std::pair<std::string, at::Tensor>> named_parameters() = 0;
  /// Linear and conv2d layers in forward order, their tensors aliasing the model's parameters. Biases and
  /// normalisation parameters are not layers.
  virtual std::vector<Layer> layers() = 0;
  /// Logits [B, C] for a batch of inputs (read only): a fresh tensor owned by the caller. Records gradients unless
  /// called under at::NoGradGuard; does not switch the model between training and evaluation mode.
  virtual at::Tensor forward(const at::Tensor& input) = 0;

  /// True when replace_parameter may change shapes (built-in models); false for TorchScript modules.
  virtual bool can_reshape() const = 0;
  /// Replaces a parameter's values by `value`'s (same or, if can_reshape(), different shape), copied: the caller's
  /// tensor stays the caller's. The parameter's mask is re-applied; masks and projections of a reshaped parameter
  /// are dropped. Throws Error(runtime) for an unknown name or an unsupported reshape.
  virtual void replace_parameter(const std::string& name, const at::Tensor& value) = 0;

  /// Installs a 0/1 mask (same shape as the parameter) that the host multiplies into the parameter now and after
  /// every optimizer step, until it is replaced, removed (an undefined tensor) or the parameter is reshaped.
  /// Ownership (SDK 1.1): the mask is copied, as replace_parameter copies — the caller may edit or reuse its tensor
  /// afterwards. A bool mask is kept as bool, any other in the parameter's dtype. Cost, measured on
  /// bench/compress_global_magnitude (global magnitude pruning of 22.7M ResNet-50 weights, 1 thread): 52 ms when
  /// the model kept the caller's tensor (SDK 1.0), 70-76 ms with the copy — the copy's fresh 23 MB are faulted in
  /// page by page. Re-masking a parameter whose mask has the same shape and dtype (gradual schedules, chains)
  /// copies into the installed mask's memory and costs one memory pass. Throws Error(runtime) for an unknown name
  /// or another shape.
  virtual void set_mask(const std::string& name, const at::Tensor& mask) = 0;
  /// A copy of the installed mask of a parameter, owned by the caller (SDK 1.1; before, the installed tensor
  /// itself), or an undefined tensor when it has none.
  virtual at::Tensor mask(const std::string& name) const = 0;

  /// Bits per stored weight of a parameter (32 by default; a quantizer sets 16, 8 or 4) — used to report size.
  virtual int storage_bits(const std::string& name) const = 0;
  /// Records the bits per stored weight (1..32; Error(runtime) otherwise or for an unknown name).
  virtual void set_storage_bits(const std::string& name, int bits) = 0;

  /// Installs a hook on every layer's input during forward (activation quantization, calibration). Returns false
  /// when the model cannot host it (TorchScript). An empty function removes it. The model keeps (a copy of) the
  /// function until it is replaced; it is called during forward(), on the thread that calls forward(), with a
  /// tensor it must not keep, and returns a tensor the model then owns.
  virtual bool set_activation_hook(ActivationHook hook) = 0;

  // --- appended in ABI 1.1 (docs/sdk-changelog.md): new virtuals go at the end only ---

  /// Installs a projection that keeps parameter `name` compressed through any later training (fine-tuning, and the
  /// training a later compressor of the chain drives): the host calls it on the parameter after every optimizer
  /// step (after masks), or once when each training run ends, as `when` says. One projection per parameter and
  /// time: installing replaces the previous one; an empty function removes it. A projection is not applied at
  /// installation (the compressor has already written the compressed value) and is dropped when the parameter is
  /// reshaped (replace_parameter with another shape). After a step the host applies masks first, then projections
  /// (a parameter both masked and projected ends projected, which may refill masked zeros: avoid combining them).
  /// Ownership: the model keeps the function (and what it captured) as long as the model lives and copies it into
  /// clones; the function is code in the plugin's library, which the host keeps loaded while the model lives.
  /// It is called from the thread that trains the model, one call at a time, never concurrently with the plugin's
  /// own calls on this model; it must not keep the tensor it is given. Returns false (and keeps nothing) when the
  /// model cannot apply projections; then the compression does not survive training (record that).
  /// Throws Error(runtime) for an unknown parameter name.
  virtual bool set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when);
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
