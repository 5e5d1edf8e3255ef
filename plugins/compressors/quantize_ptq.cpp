// org.compaudit.quantize.ptq — post-training quantization, simulated ("fake quant": quantize, then de-quantize back
// to float32, so any model runs unchanged and only its values and its reported size change).
//
// TFLite conventions (docs/compressors.md):
//   symmetric  s = max|w| / qmax,  q = clamp(round(w / s), -qmax, qmax),  qmax = 2^(b-1) - 1   (127 for int8, 7 for int4)
//   affine     range [min(w, 0), max(w, 0)] (zero is exactly representable), s = (max - min) / (2^b - 1),
//              z = clamp(qmin - round(min / s), qmin, qmax), q = clamp(round(w / s) + z, qmin, qmax),
//              w' = (q - z) * s,  qmin = -2^(b-1)
//   round() is half away from zero (TFLite's TfLiteRound / std::round), not PyTorch's half-to-even.
//   per_channel: one scale (and zero point) per output channel (dim 0), per_tensor: one for the whole tensor.
// "full int8" (activations = true): ranges of every layer's input are calibrated on the host's representative batch
// and each layer's input is then fake-quantized affine per tensor to int8 during every later forward pass.
// Biases stay float32 (TFLite stores them as int32 at the product of input and weight scales: 32 bits either way).
//
//     [[arm.step]]
//     plugin = "org.compaudit.quantize.ptq"
//     precision = "int8"              # "float16" | "int8" | "int4"
//     scheme = "symmetric"            # or "affine"
//     granularity = "per_channel"     # or "per_tensor"
//     activations = false             # true: full int8 (needs a model that hosts activation hooks)
//
// Training after quantization (fine-tuning, a training compressor later in the chain) moves weights off the grid:
// each quantized weight gets an end-of-training projection (Model::set_projection) that rounds it back onto the
// same grid — same scales and zero points, per channel as configured — when each training run ends.
//
// Details recorded: per layer {layer, bits, max_abs_error, scale_min, scale_max}; activation ranges; model size
// before and after in bytes at the stored precision; grid_held_in_training (false when the model cannot hold
// projections, so fine-tuning would leave the grid).
#include "quantize_ptq_manifest.h"  // generated from manifests/quantize_ptq.toml
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::compressors {

/// Storage bits of a `precision`: "float16" 16, "int8" 8, "int4" 4.
int bits_of(const std::string& precision) { return precision == "float16" ? 16 : precision == "int8" ? 8 : 4; }

/// Half away from zero, as TFLite rounds (at::round is half to even).
inline at::Tensor round_away(const at::Tensor& x) { return at::sign(x) * at::floor(at::abs(x) + 0.5); }

/// A fixed grid: w' = (clamp(round(w / scale) + zero, qmin, qmax) - zero) * scale; scale and zero are scalars or
/// [C, 1, ...] per channel (scale > 0: an all-zero range gets scale 1 and stays zero); zero is undefined for a
/// symmetric grid (no zero point: the same bits as before grids were kept for re-quantization).
struct Grid {
  at::Tensor scale, zero;
  double qmin = 0, qmax = 0;
};

/// `w` rounded onto `grid`.
inline at::Tensor onto_grid(const at::Tensor& w, const Grid& grid) {
  if (!grid.zero.defined())  // symmetric
    return at::clamp(round_away(w / grid.scale), grid.qmin, grid.qmax) * grid.scale;
  return (at::clamp(round_away(w / grid.scale) + grid.zero, grid.qmin, grid.qmax) - grid.zero) * grid.scale;
}

/// The grid of `bits` for the ranges `lo` / `hi` (scalars, or [C, 1, ...] per channel); `scales` receives the
/// scales as computed (0 for an all-zero range), for the record.
inline Grid make_grid(at::Tensor lo, at::Tensor hi, int bits, bool symmetric, at::Tensor* scales = nullptr) {
  Grid g;
  g.qmax = std::pow(2.0, bits - 1) - 1, g.qmin = symmetric ? -g.qmax : -g.qmax - 1;
  at::Tensor s;
  if (symmetric) {
    s = at::maximum(lo.abs(), hi.abs()) / g.qmax;
  } else {
    lo = at::clamp_max(lo, 0.0), hi = at::clamp_min(hi, 0.0);
    s = (hi - lo) / (g.qmax - g.qmin);
  }
  g.scale = at::where(s > 0, s, at::ones_like(s));  // an all-zero channel stays zero
  if (!symmetric) g.zero = at::clamp(g.qmin - round_away(lo / g.scale), g.qmin, g.qmax);
  if (scales) *scales = s;
  return g;
}

/// Fake-quantizes `w` with `bits`; `lo` / `hi` are the ranges (scalars, or [C, 1, ...] per channel). Returns w'
/// and the scales.
inline std::pair<at::Tensor, at::Tensor> fake_quant(const at::Tensor& w, at::Tensor lo, at::Tensor hi, int bits,
                                                    bool symmetric) {
  at::Tensor s;
  const Grid grid = make_grid(std::move(lo), std::move(hi), bits, symmetric, &s);
  return {onto_grid(w, grid), s};
}

class PostTrainingQuantization final : public Compressor {
 public:
  static constexpr const char* kId = quantize_ptq_manifest::id;

  explicit PostTrainingQuantization(const Params& params) : options_(params) {}

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection(), kId);
    CompressionRecord record;
    record.details["size_before"] = size_json(model);
    nlohmann::json per_layer = nlohmann::json::array();
    const int bits = bits_of(options_.precision);
    const bool symmetric = options_.scheme == "symmetric";

    bool grid_held = true;
    for (const Layer& layer : layers) {
      const at::Tensor w = layer.weight.detach();
      at::Tensor q, scales;
      ParameterProjection back_onto_grid;  // the same grid again after training
      if (bits == 16) {
        q = w.to(at::kHalf).to(w.scalar_type());
        scales = at::zeros({1});
        back_onto_grid = [](at::Tensor& v) { v.copy_(v.to(at::kHalf).to(v.scalar_type())); };
      } else {
        Grid grid;
        if (options_.granularity == "per_channel") {
          const at::Tensor flat = w.flatten(1);
          std::vector<std::int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
          shape[0] = w.size(0);
          grid = make_grid(std::get<0>(flat.min(1)).reshape(shape), std::get<0>(flat.max(1)).reshape(shape), bits,
                           symmetric, &scales);
        } else {
          grid = make_grid(w.min(), w.max(), bits, symmetric, &scales);
        }
        q = onto_grid(w, grid);
        back_onto_grid = [grid](at::Tensor& v) { v.copy_(onto_grid(v, grid)); };
      }
      const std::string name = layer.name + ".weight";
      model.replace_parameter(name, q);
      model.set_storage_bits(name, bits);
      // Fine-tuning moves values off the grid; the host re-quantizes onto this grid (same scales and zero points)
      // when each later training run ends, so the bits reported are the bits the values need.
      grid_held = model.set_projection(name, std::move(back_onto_grid), ProjectionTime::end_of_training) && grid_held;
      per_layer.push_back({{"layer", layer.name}, {"bits", bits},
                           {"max_abs_error", (q - w).abs().max().item<double>()},
                           {"scale_min", scales.min().item<double>()}, {"scale_max", scales.max().item<double>()}});
    }
    if (options_.activations) record.details["activations"] = calibrate(model, context);
    if (!grid_held)
      context.log(fmt::format("{}: this {} model cannot hold projections: fine-tuning will leave the grid", kId,
                              model.architecture()));
    record.details["grid_held_in_training"] = grid_held;

    record.details["precision"] = options_.precision;
    record.details["scheme"] = bits == 16 ? "float16" : options_.scheme;
    record.details["granularity"] = bits == 16 ? "none" : options_.granularity;
    record.details["layers"] = std::move(per_layer);
    record.details["size_after"] = size_json(model);
    record.summary = fmt::format("{}{} {} weights in {} layers{}: {} -> {} bytes", options_.precision,
                                 bits == 16 ? "" : " " + options_.scheme,
                                 bits == 16 ? "" : options_.granularity, layers.size(),
                                 options_.activations ? " + int8 activations" : "",
                                 record.details["size_before"]["bytes"].get<std::int64_t>(),
                                 record.details["size_after"]["bytes"].get<std::int64_t>());
    return record;
  }

 private:
  // Full int8: record min / max of each layer's input on the calibration batch, then install a hook that
  // fake-quantizes each input to int8, affine per tensor. The hook lives as long as the model; the host keeps this
  // plugin's library loaded while the model lives.
  nlohmann::json calibrate(Model& model, CompressionContext& context) {
    const int n = static_cast<int>(model.layers().size());
    auto lo = std::make_shared<std::vector<double>>(n, 0.0), hi = std::make_shared<std::vector<double>>(n, 0.0);
    const bool hosted = model.set_activation_hook([lo, hi](int layer, const at::Tensor& x) {
      (*lo)[layer] = std::min((*lo)[layer], x.min().item<double>());
      (*hi)[layer] = std::max((*hi)[layer], x.max().item<double>());
      return x;
    });
    if (!hosted)
      throw Error(ErrorCode::parameters, fmt::format("{}: activations = true needs activation hooks, which this {} "
                                                     "model cannot host; quantize weights only",
                                                     kId, model.architecture()));
    {
      at::NoGradGuard no_grad;
      model.forward(context.calibration_batch(options_.calibration_size));
    }
    model.set_activation_hook([lo, hi](int layer, const at::Tensor& x) {
      return fake_quant(x, at::scalar_tensor((*lo)[layer]), at::scalar_tensor((*hi)[layer]), 8, false).first;
    });
    nlohmann::json ranges = nlohmann::json::array();
    for (int i = 0; i < n; ++i) ranges.push_back({{"layer", i}, {"min", (*lo)[i]}, {"max", (*hi)[i]}});
    return ranges;
  }

  const quantize_ptq_manifest::Options options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN_MANIFEST(compaudit::compressors::PostTrainingQuantization, quantize_ptq_manifest)
