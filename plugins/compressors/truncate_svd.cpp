// org.compaudit.truncate.svd — tensor truncation along cuts (Singh, Jahromi, Orús: correlation compression).
//
// A conv kernel K[o, i, h, w] is reshaped along a cut — a bipartition of its indices, spelled rows|columns:
//   "o|ihw"  "i|ohw"  "h|oiw"  "w|oih"  "oi|hw"  "oh|iw"  "ow|ih"
// into a matrix whose SVD is truncated to rank chi, then reshaped back. A linear weight W[o, i] has the one cut
// "o|i". chi is the smaller of `rank` and the smallest rank that keeps the fraction `energy` of the squared norm.
// Several cuts run in sequence, each on the result of the previous (an MPS-like truncation). The kernel norm loss
// of a cut is sum(discarded s^2) / sum(s^2). A weight's mask, if any, is re-applied by the model afterwards.
//
//     [[arm.step]]
//     plugin = "org.compaudit.truncate.svd"
//     layers = ["block3.*", "fc"]     # "truncate deep layers only"
//     cuts = ["o|ihw", "oi|hw"]       # for conv layers (fc, linear, takes its one cut o|i); [] = each layer's
//                                     # first cut ("o|ihw" / "o|i")
//     energy = [0.9, 0.7, 0.5]        # keep this fraction of the squared norm (a sweep), and/or rank = 4
//
// Details recorded: per layer and cut {layer, cut, rank_before, chi, norm_loss}, the parameters the truncated
// factors would need, the mean norm loss.
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <limits>

namespace compaudit::compressors {

/// The parameters of manifests/truncate_svd.toml.
struct SvdOptions {
  std::vector<std::string> cuts;  ///< Cuts applied in order; empty: "o|ihw" for conv2d, "o|i" for linear. Default: []
  std::int64_t rank;              ///< Largest chi kept. Default: 2^31 - 1 (no cap)
  double energy;                  ///< Fraction of the squared norm kept. Default: 1 (no cap)
  LayerSelection selection;

  explicit SvdOptions(const Params& p)
      : cuts(p.get<std::vector<std::string>>("cuts")), rank(p.get<std::int64_t>("rank")),
        energy(p.get<double>("energy")), selection(read_selection(p)) {}
};

/// What truncating one matrix did.
struct CutResult {
  at::Tensor value;
  std::int64_t rank_before = 0, chi = 0;
  double norm_loss = 0.0;
  std::int64_t factor_parameters = 0;  ///< chi * (rows + columns)
};

/// Truncates `kernel` along `cut` (e.g. "oh|iw"; index letters o, i, h, w in kernel order).
inline CutResult truncate(const at::Tensor& kernel, const std::string& cut, std::int64_t max_rank, double energy) {
  const std::string letters = kernel.dim() == 4 ? "oihw" : "oi";
  const auto bar = cut.find('|');
  std::vector<std::int64_t> perm;
  for (char c : cut)
    if (c != '|') perm.push_back(static_cast<std::int64_t>(letters.find(c)));
  const at::Tensor permuted = kernel.permute(perm).contiguous();
  std::int64_t rows = 1;
  for (std::size_t d = 0; d < bar; ++d) rows *= permuted.size(static_cast<std::int64_t>(d));
  const at::Tensor matrix = permuted.reshape({rows, -1}).to(at::kDouble);

  auto [u, s, vh] = at::linalg_svd(matrix, /*full_matrices=*/false);
  const at::Tensor s2 = s * s;
  const double total = s2.sum().item<double>();
  const at::Tensor kept = s2.cumsum(0) / (total > 0 ? total : 1.0);
  std::int64_t chi = s.size(0);
  if (energy < 1.0) chi = std::min(chi, (kept < energy - 1e-12).sum().item<std::int64_t>() + 1);
  chi = std::max<std::int64_t>(1, std::min(chi, max_rank));

  CutResult r;
  r.rank_before = s.size(0);
  r.chi = chi;
  r.norm_loss = total > 0 ? s2.slice(0, chi).sum().item<double>() / total : 0.0;
  r.factor_parameters = chi * (matrix.size(0) + matrix.size(1));
  const at::Tensor low = at::matmul(u.slice(1, 0, chi) * s.slice(0, 0, chi), vh.slice(0, 0, chi));
  std::vector<std::int64_t> inverse(perm.size());
  for (std::size_t d = 0; d < perm.size(); ++d) inverse[static_cast<std::size_t>(perm[d])] = static_cast<std::int64_t>(d);
  r.value = low.reshape(permuted.sizes()).permute(inverse).contiguous().to(kernel.scalar_type());
  return r;
}

class SvdTruncation final : public Compressor {
 public:
  static constexpr const char* kId = "org.compaudit.truncate.svd";

  explicit SvdTruncation(const Params& params) : options_(params) {
    if (options_.rank == std::numeric_limits<std::int32_t>::max() && options_.energy >= 1.0)
      throw Error(ErrorCode::parameters, fmt::format("{}: set rank or energy (< 1), otherwise nothing is truncated", kId));
  }

  CompressionRecord compress(Model& model, CompressionContext&) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection, kId);
    CompressionRecord record;
    nlohmann::json cuts_done = nlohmann::json::array();
    double loss_sum = 0.0;
    for (const Layer& layer : layers) {
      const bool conv = layer.type == LayerType::conv2d;
      // A linear layer has one cut and takes it whatever conv2d cuts are listed; a conv2d layer takes the listed
      // conv2d cuts in order (an "o|i" in the list is for the linear layers).
      std::vector<std::string> cuts;
      for (const std::string& c : options_.cuts)
        if (conv && c != "o|i") cuts.push_back(c);
      if (!conv || options_.cuts.empty()) cuts = {conv ? "o|ihw" : "o|i"};
      if (cuts.empty())
        throw Error(ErrorCode::parameters,
                    fmt::format("{}: conv2d layer '{}' gets no cut: cuts lists none of the conv2d cuts (o|ihw i|ohw "
                                "h|oiw w|oih oi|hw oh|iw ow|ih); restrict layer_types or layers to linear layers",
                                kId, layer.name));
      at::Tensor w = layer.weight.detach();
      for (const std::string& cut : cuts) {
        CutResult r = truncate(w, cut, options_.rank, options_.energy);
        w = r.value;
        loss_sum += r.norm_loss;
        cuts_done.push_back({{"layer", layer.name}, {"cut", cut}, {"rank_before", r.rank_before}, {"chi", r.chi},
                             {"norm_loss", r.norm_loss}, {"factor_parameters", r.factor_parameters},
                             {"parameters", w.numel()}});
      }
      model.replace_parameter(layer.name + ".weight", w);
    }
    const double mean_loss = loss_sum / static_cast<double>(cuts_done.size());
    record.details["rank"] = options_.rank;
    record.details["energy"] = options_.energy;
    record.details["cuts"] = std::move(cuts_done);
    record.details["mean_norm_loss"] = mean_loss;
    record.summary = fmt::format("SVD truncation of {} layers ({} cuts), mean kernel norm loss {:.4f}", layers.size(),
                                 record.details["cuts"].size(), mean_loss);
    return record;
  }

 private:
  SvdOptions options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN(compaudit::compressors::SvdTruncation, "org.compaudit.truncate.svd",
                 compaudit::PluginKind::compressor, "1.0.0")
