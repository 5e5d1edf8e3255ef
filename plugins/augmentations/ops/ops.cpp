// ops.cpp — see ops.h.
#include "ops.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace compaudit::augment {
namespace {

constexpr double kShiftAtMax = 0.3;      // fraction of the image size
constexpr double kRotateAtMax = 30.0;    // degrees
constexpr double kNoiseAtMax = 0.5;      // standard deviations of the (normalised) data
constexpr double kCutoutAtMax = 0.5;     // fraction of min(H, W)
constexpr double kContrastAtMax = 0.9;   // change of the contrast factor
constexpr double kPi = 3.14159265358979323846;

void require_images(const at::Tensor& x, const char* op) {
  if (x.dim() != 4)
    throw Error(ErrorCode::runtime, std::string(op) + " needs image inputs [B, C, H, W], got " + c10::str(x.sizes()));
}

/// Per-example sign ±1, drawn for the whole batch.
at::Tensor random_sign(std::int64_t b, at::Generator& g, const at::TensorOptions& o) {
  return at::where(at::rand({b}, g, o) < 0.5, at::full({b}, -1.0, o), at::full({b}, 1.0, o));
}

/// Warps the selected images with per-image affine matrices theta [B, 2, 3] (normalised coordinates).
at::Tensor warp(const at::Tensor& x, const at::Tensor& selected, const at::Tensor& theta) {
  const at::Tensor index = selected.nonzero().view({-1});
  if (index.numel() == 0) return x;
  const at::Tensor sub = x.index_select(0, index);
  const at::Tensor grid = at::affine_grid_generator(theta.index_select(0, index), sub.sizes(), false);
  const at::Tensor warped = at::grid_sampler(sub, grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners*/ false);
  return x.index_copy(0, index, warped);
}

at::Tensor shift(const at::Tensor& x, const at::Tensor& selected, double m, at::Generator& g) {
  require_images(x, "shift");
  const auto o = x.options();
  const std::int64_t b = x.size(0);
  const at::Tensor angle = at::rand({b}, g, o) * (2.0 * kPi);
  // A shift of a fraction f of the image is 2f in affine_grid's [-1, 1] coordinates.
  const double length = 2.0 * kShiftAtMax * m;
  at::Tensor theta = at::zeros({b, 2, 3}, o);
  theta.select(1, 0).select(1, 0).fill_(1.0);
  theta.select(1, 1).select(1, 1).fill_(1.0);
  theta.select(1, 0).select(1, 2).copy_(at::cos(angle) * length);
  theta.select(1, 1).select(1, 2).copy_(at::sin(angle) * length);
  return warp(x, selected, theta);
}

at::Tensor rotate(const at::Tensor& x, const at::Tensor& selected, double m, at::Generator& g) {
  require_images(x, "rotate");
  const auto o = x.options();
  const std::int64_t b = x.size(0);
  const at::Tensor angle = random_sign(b, g, o) * (kRotateAtMax * m * kPi / 180.0);
  const at::Tensor c = at::cos(angle), s = at::sin(angle), z = at::zeros({b}, o);
  const at::Tensor theta = at::stack({at::stack({c, -s, z}, 1), at::stack({s, c, z}, 1)}, 1);
  return warp(x, selected, theta);
}

at::Tensor noise(const at::Tensor& x, const at::Tensor& selected, double m, at::Generator& g) {
  const at::Tensor n = at::randn(x.sizes(), g, x.options()) * (kNoiseAtMax * m);
  std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  return x + n * selected.to(x.scalar_type()).view(shape);
}

at::Tensor cutout(const at::Tensor& x, const at::Tensor& selected, double m, at::Generator& g) {
  require_images(x, "cutout");
  const auto o = x.options();
  const std::int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  const at::Tensor cy = at::floor(at::rand({b}, g, o) * h), cx = at::floor(at::rand({b}, g, o) * w);
  const double side = std::round(kCutoutAtMax * m * static_cast<double>(std::min(h, w)));
  if (side <= 0.0) return x;
  const at::Tensor y0 = (cy - std::floor(side / 2.0)).view({b, 1, 1});
  const at::Tensor x0 = (cx - std::floor(side / 2.0)).view({b, 1, 1});
  const at::Tensor rows = at::arange(h, o).view({1, h, 1}), cols = at::arange(w, o).view({1, 1, w});
  const at::Tensor box = (rows >= y0) & (rows < y0 + side) & (cols >= x0) & (cols < x0 + side);
  const at::Tensor mask = box & selected.view({b, 1, 1});
  return x.masked_fill(mask.unsqueeze(1), 0.0);
}

at::Tensor contrast(const at::Tensor& x, const at::Tensor& selected, double m, at::Generator& g) {
  require_images(x, "contrast");
  const auto o = x.options();
  const std::int64_t b = x.size(0);
  const at::Tensor factor = 1.0 + random_sign(b, g, o) * (kContrastAtMax * m);
  const at::Tensor mean = x.mean({1, 2, 3}, /*keepdim*/ true);
  // where(), not a factor of 1, so that unselected images stay bit-identical.
  return at::where(selected.view({b, 1, 1, 1}), mean + (x - mean) * factor.view({b, 1, 1, 1}), x);
}

}  // namespace

double MagnitudeSchedule::at(double sparsity) const {
  const double s = std::clamp(sparsity, 0.0, 1.0);
  double m = dense;
  switch (kind) {
    case Kind::constant: break;
    case Kind::linear:
      m = sparsity_end <= 0.0 ? sparse : dense + (sparse - dense) * std::min(s / sparsity_end, 1.0);
      break;
    case Kind::step: {
      if (thresholds.empty()) break;
      const auto reached = std::count_if(thresholds.begin(), thresholds.end(), [&](double t) { return s >= t; });
      m = dense + (sparse - dense) * static_cast<double>(reached) / static_cast<double>(thresholds.size());
      break;
    }
  }
  return std::clamp(m, 0.0, kMaxMagnitude);
}

MagnitudeSchedule::Kind MagnitudeSchedule::kind_from_string(const std::string& name) {
  if (name == "constant") return Kind::constant;
  if (name == "linear") return Kind::linear;
  if (name == "step") return Kind::step;
  throw Error(ErrorCode::parameters, "schedule = \"" + name + "\" is not one of constant, linear, step");
}

std::optional<Op> op_from_string(const std::string& name) {
  if (name == "shift") return Op::shift;
  if (name == "rotate") return Op::rotate;
  if (name == "noise") return Op::noise;
  if (name == "cutout") return Op::cutout;
  if (name == "contrast") return Op::contrast;
  return std::nullopt;
}

at::Tensor apply(Op op, const at::Tensor& inputs, const at::Tensor& selected, double m, at::Generator& generator) {
  if (m <= 0.0) return inputs;  // exactly the identity, with no draws
  switch (op) {
    case Op::shift: return shift(inputs, selected, m, generator);
    case Op::rotate: return rotate(inputs, selected, m, generator);
    case Op::noise: return noise(inputs, selected, m, generator);
    case Op::cutout: return cutout(inputs, selected, m, generator);
    case Op::contrast: return contrast(inputs, selected, m, generator);
  }
  return inputs;
}

void mixup(Batch& batch, double alpha, int num_classes, at::Generator& generator) {
  if (alpha <= 0.0) return;
  const std::int64_t b = batch.inputs.size(0);
  if (!batch.soft_targets.defined()) {
    if (num_classes <= 0) throw Error(ErrorCode::runtime, "mixup needs the number of classes (state.num_classes)");
    batch.soft_targets = at::one_hot(batch.targets, num_classes).to(at::kFloat);
  }
  // λ ~ Beta(α, α) as X / (X + Y) with X, Y ~ Gamma(α): LibTorch has no Beta sampler taking a generator.
  const at::Tensor gamma = at::_standard_gamma(at::full({2}, alpha, at::kDouble), generator);
  const double lambda = (gamma[0] / (gamma[0] + gamma[1])).item<double>();
  const at::Tensor partner = at::randperm(b, generator, at::TensorOptions().dtype(at::kLong));
  auto mix = [&](const at::Tensor& t) { return t * lambda + t.index_select(0, partner) * (1.0 - lambda); };
  batch.inputs = mix(batch.inputs);
  batch.soft_targets = mix(batch.soft_targets);
  if (batch.weights.defined()) batch.weights = mix(batch.weights);
}

}  // namespace compaudit::augment
