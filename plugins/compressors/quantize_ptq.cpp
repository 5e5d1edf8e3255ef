// org.compaudit.quantize.ptq — post-training quantization, simulated ("fake quant": quantize, then de-quantize back
// to float32, so any model runs unchanged and only its values and its reported size change).
//
// TFLite conventions (science.md §3):
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
// Details recorded: per layer {layer, bits, max_abs_error, scale_min, scale_max}; activation ranges; model size
// before and after in bytes at the stored precision.
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::compressors {

/// The parameters of manifests/quantize_ptq.toml.
struct PtqOptions {
  std::string precision = "int8";          ///< "float16" | "int8" | "int4". Default: "int8"
  std::string scheme = "symmetric";        ///< "symmetric" | "affine". Default: "symmetric"
  std::string granularity = "per_channel"; ///< "per_channel" | "per_tensor". Default: "per_channel"
  bool activations = false;                ///< Full int8: calibrate and fake-quantize layer inputs. Default: false
  std::int64_t calibration_size = 256;     ///< Examples in the calibration batch. Default: 256
  LayerSelection selection;

  explicit PtqOptions(const Params& p)
      : precision(p.get<std::string>("precision")), scheme(p.get<std::string>("scheme")),
        granularity(p.get<std::string>("granularity")), activations(p.get<bool>("activations")),
        calibration_size(p.get<std::int64_t>("calibration_size")), selection(read_selection(p)) {}
  int bits() const { return precision == "float16" ? 16 : precision == "int8" ? 8 : 4; }
};

/// Half away from zero, as TFLite rounds (at::round is half to even).
inline at::Tensor round_away(const at::Tensor& x) { return at::sign(x) * at::floor(at::abs(x) + 0.5); }

/// Fake-quantizes `w` with `bits`; `lo` / `hi` are the ranges (scalars, or [C, 1, ...] per channel). Returns w'
/// and the scales.
inline std::pair<at::Tensor, at::Tensor> fake_quant(const at::Tensor& w, at::Tensor lo, at::Tensor hi, int bits,
                                                    bool symmetric) {
  const double qmax = std::pow(2.0, bits - 1) - 1, qmin = symmetric ? -qmax : -qmax - 1;
  if (symmetric) {
    const at::Tensor s = at::maximum(lo.abs(), hi.abs()) / qmax;
    const at::Tensor safe = at::where(s > 0, s, at::ones_like(s));  // an all-zero channel stays zero
    return {at::clamp(round_away(w / safe), qmin, qmax) * safe, s};
  }
  lo = at::clamp_max(lo, 0.0), hi = at::clamp_min(hi, 0.0);
  const at::Tensor s = (hi - lo) / (qmax - qmin);
  const at::Tensor safe = at::where(s > 0, s, at::ones_like(s));
  const at::Tensor z = at::clamp(qmin - round_away(lo / safe), qmin, qmax);
  return {(at::clamp(round_away(w / safe) + z, qmin, qmax) - z) * safe, s};
}

class PostTrainingQuantization final : public Compressor {
 public:
  static constexpr const char* kId = "org.compaudit.quantize.ptq";

  explicit PostTrainingQuantization(const Params& params) : options_(params) {}

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection, kId);
    CompressionRecord record;
    record.details["size_before"] = size_json(model);
    nlohmann::json per_layer = nlohmann::json::array();
    const int bits = options_.bits();
    const bool symmetric = options_.scheme == "symmetric";

    for (const Layer& layer : layers) {
      const at::Tensor w = layer.weight.detach();
      at::Tensor q, scales;
      if (bits == 16) {
        q = w.to(at::kHalf).to(w.scalar_type());
        scales = at::zeros({1});
      } else if (options_.granularity == "per_channel") {
        const at::Tensor flat = w.flatten(1);
        std::vector<std::int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
        shape[0] = w.size(0);
        std::tie(q, scales) = fake_quant(w, std::get<0>(flat.min(1)).reshape(shape),
                                         std::get<0>(flat.max(1)).reshape(shape), bits, symmetric);
      } else {
        std::tie(q, scales) = fake_quant(w, w.min(), w.max(), bits, symmetric);
      }
      const std::string name = layer.name + ".weight";
      model.replace_parameter(name, q);
      model.set_storage_bits(name, bits);
      per_layer.push_back({{"layer", layer.name}, {"bits", bits},
                           {"max_abs_error", (q - w).abs().max().item<double>()},
                           {"scale_min", scales.min().item<double>()}, {"scale_max", scales.max().item<double>()}});
    }
    if (options_.activations) record.details["activations"] = calibrate(model, context);

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

  PtqOptions options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN(compaudit::compressors::PostTrainingQuantization, "org.compaudit.quantize.ptq",
                 compaudit::PluginKind::compressor, "1.0.0")
