// ops.h — the augmentation operations and the magnitude schedule shared by the built-in augmentation plugins
// (randaugment, difficulty). Internal: linked statically into each plugin, nothing exported.
//
// Magnitudes follow RandAugment: M on a 0..30 scale, every operation at strength m = M / 30, and M = 0 leaves the
// input unchanged. Inputs are normalised (mean 0, unit variance per feature), so "blank" is 0 and noise is in units
// of the data's standard deviation. Strengths at M = 30 (our choice, documented in docs/augmentations.md):
//   shift     the image moves 0.3 of its size in a random direction      (affine_grid + grid_sample, zero fill)
//   rotate    ±30 degrees, random sign                                     (affine_grid + grid_sample, zero fill)
//   noise     additive Gaussian noise with standard deviation 0.5
//   cutout    a square of side 0.5 * min(H, W) at a random centre is set to 0
//   contrast  x -> mean + f (x - mean) per image, f = 1 ± 0.9, random sign
// Every random draw comes from the caller's generator, and each operation draws the same amount whatever it is
// applied to, so a seeded generator reproduces a batch exactly.
#pragma once

#include <compaudit/augmentation.h>

#include <optional>
#include <string>
#include <vector>

namespace compaudit::augment {

constexpr double kMaxMagnitude = 30.0;

/// M as a function of the model's sparsity: constant, linear or step, decreasing from `dense` towards `sparse`
/// (Yu, Zhang, Ma: smaller models prefer weaker augmentation).
struct MagnitudeSchedule {
  enum class Kind { constant, linear, step };
  Kind kind = Kind::constant;
  double dense = 9.0;               ///< M at sparsity 0, and at every sparsity for `constant`.
  double sparse = 3.0;              ///< M reached at `sparsity_end` (linear) or past the last threshold (step).
  double sparsity_end = 0.9;        ///< linear: the sparsity where M reaches `sparse`; constant beyond.
  std::vector<double> thresholds;   ///< step: M moves one equal step towards `sparse` at each threshold reached.

  /// M at `sparsity` (clamped to [0, 30]).
  double at(double sparsity) const;
  /// "constant" | "linear" | "step"; throws compaudit::Error(parameters) otherwise.
  static Kind kind_from_string(const std::string& name);
};

enum class Op { shift, rotate, noise, cutout, contrast };
/// "shift", "rotate", "noise", "cutout", "contrast"; nullopt otherwise.
std::optional<Op> op_from_string(const std::string& name);

/// Applies `op` at strength m = M / 30 to the examples whose entry in `selected` ([B] bool) is true and returns the
/// result (a new tensor; `inputs` is not modified). Image ops need [B, C, H, W] inputs; noise accepts any [B, ...].
/// m <= 0 returns `inputs` itself without drawing; unselected examples are returned bit-identical.
at::Tensor apply(Op op, const at::Tensor& inputs, const at::Tensor& selected, double m, at::Generator& generator);

/// Mixup (Zhang et al.): one λ ~ Beta(alpha, alpha) per batch and a random pairing; inputs, soft targets (one-hot of
/// the targets when undefined) and defined weights become λ·own + (1-λ)·partner's. No-op for alpha <= 0.
void mixup(Batch& batch, double alpha, int num_classes, at::Generator& generator);

}  // namespace compaudit::augment
