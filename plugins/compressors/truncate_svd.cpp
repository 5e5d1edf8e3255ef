// org.compaudit.truncate.svd — tensor truncation along cuts (Singh, Jahromi, Orús: correlation compression).
//
// A conv kernel K[o, i, h, w] is reshaped along a cut — a bipartition of its indices, spelled rows|columns:
//   "o|ihw"  "i|ohw"  "h|oiw"  "w|oih"  "oi|hw"  "oh|iw"  "ow|ih"
// into a matrix whose SVD is truncated to rank chi, then reshaped back. A linear weight W[o, i] has the one cut
// "o|i". chi is the smaller of `rank` and the smallest rank that keeps the fraction `energy` of the squared norm.
// Several cuts run in sequence, each on the result of the previous (an MPS-like truncation). The kernel norm loss
// of a cut is sum(discarded s^2) / sum(s^2). A weight's mask, if any, is re-applied by the model afterwards.
// The rank survives later training (fine-tuning, a training compressor later in the chain): each truncated weight
// gets a projection (Model::set_projection) that the host applies after every optimizer step, W <- U (U^T W) with
// the kept left singular vectors U of each cut — fine-tuning the factored form U A with U fixed.
//
//     [[arm.step]]
//     plugin = "org.compaudit.truncate.svd"
//     layers = ["block3.*", "fc"]     # "truncate deep layers only"
//     cuts = ["o|ihw", "oi|hw"]       # for conv layers (fc, linear, takes its one cut o|i); [] = each layer's
//                                     # first cut ("o|ihw" / "o|i")
//     energy = [0.9, 0.7, 0.5]        # keep this fraction of the squared norm (a sweep), and/or rank = 4
//
// Details recorded: per layer and cut {layer, cut, rank_before, chi, norm_loss}, the parameters the truncated
// factors would need, the mean norm loss, and rank_held_in_training (false when the model cannot hold
// projections, so fine-tuning would raise the rank again).
#include "truncate_svd_manifest.h"  // generated from manifests/truncate_svd.toml
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <limits>

namespace compaudit::compressors {


/// What truncating one matrix did.
struct CutResult {
  at::Tensor value;
  std::int64_t rank_before = 0, chi = 0;
  double norm_loss = 0.0;
  std::int64_t factor_parameters = 0;  ///< chi * (rows + columns)
  at::Tensor basis;                     ///< [rows, chi] float32: the kept left singular vectors U_chi
};

/// The permutation that undoes `perm`.
inline std::vector<std::int64_t> inverse_permutation(const std::vector<std::int64_t>& perm) {
  std::vector<std::int64_t> inverse(perm.size());
  for (std::size_t d = 0; d < perm.size(); ++d) inverse[static_cast<std::size_t>(perm[d])] = static_cast<std::int64_t>(d);
  return inverse;
}

/// A cut's kept column space, for the projection that holds the rank through fine-tuning.
struct CutBasis {
  std::vector<std::int64_t> perm;     ///< kernel order -> cut order (rows first)
  std::vector<std::int64_t> inverse;  ///< cut order -> kernel order
  at::Tensor basis;                   ///< [rows, chi]
};

/// W <- U (U^T W) along each cut in turn: W's matrix along the cut keeps its columns in the span of the kept left
/// singular vectors, so its rank stays <= chi. It equals fine-tuning the factored form U A with U fixed (SGD and
/// momentum are linear, so the projected update is the factored one), and costs 2 chi rows cols per cut and step.
/// Several cuts: each projection acts on its cut's row indices only, so it keeps the rank of an earlier cut whose
/// one side holds all of those indices (always so for the single-letter cuts o|ihw, i|ohw, h|oiw, w|oih).
inline void project_onto_bases(at::Tensor& w, const std::vector<CutBasis>& cuts) {
  at::Tensor value = w;
  for (const CutBasis& c : cuts) {
    const at::Tensor permuted = value.permute(c.perm);
    const at::Tensor m = permuted.reshape({c.basis.size(0), -1});
    const at::Tensor projected = at::matmul(c.basis, at::matmul(c.basis.t(), m));
    value = projected.reshape(permuted.sizes()).permute(c.inverse);
  }
  w.copy_(value);
}

/// The permutation that puts `kernel`'s indices in `cut` order (rows first).
inline std::vector<std::int64_t> cut_permutation(const at::Tensor& kernel, const std::string& cut) {
  const std::string letters = kernel.dim() == 4 ? "oihw" : "oi";
  std::vector<std::int64_t> perm;
  for (char c : cut)
    if (c != '|') perm.push_back(static_cast<std::int64_t>(letters.find(c)));
  return perm;
}

/// Truncates `kernel` along `cut` (e.g. "oh|iw"; index letters o, i, h, w in kernel order).
inline CutResult truncate(const at::Tensor& kernel, const std::string& cut, std::int64_t max_rank, double energy) {
  const auto bar = cut.find('|');
  const std::vector<std::int64_t> perm = cut_permutation(kernel, cut);
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
  r.basis = u.slice(1, 0, chi).to(kernel.scalar_type()).contiguous();
  const at::Tensor low = at::matmul(u.slice(1, 0, chi) * s.slice(0, 0, chi), vh.slice(0, 0, chi));
  r.value = low.reshape(permuted.sizes()).permute(inverse_permutation(perm)).contiguous().to(kernel.scalar_type());
  return r;
}

class SvdTruncation final : public Compressor {
 public:
  static constexpr const char* kId = truncate_svd_manifest::id;

  explicit SvdTruncation(const Params& params) : options_(params) {
    if (options_.rank == std::numeric_limits<std::int32_t>::max() && options_.energy >= 1.0)
      throw Error(ErrorCode::parameters, fmt::format("{}: set rank or energy (< 1), otherwise nothing is truncated", kId));
  }

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection(), kId);
    CompressionRecord record;
    bool rank_held = true;
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
      std::vector<CutBasis> bases;
      for (const std::string& cut : cuts) {
        CutResult r = truncate(w, cut, options_.rank, options_.energy);
        w = r.value;
        const std::vector<std::int64_t> perm = cut_permutation(w, cut);
        bases.push_back({perm, inverse_permutation(perm), r.basis});
        loss_sum += r.norm_loss;
        cuts_done.push_back({{"layer", layer.name}, {"cut", cut}, {"rank_before", r.rank_before}, {"chi", r.chi},
                             {"norm_loss", r.norm_loss}, {"factor_parameters", r.factor_parameters},
                             {"parameters", w.numel()}});
      }
      model.replace_parameter(layer.name + ".weight", w);
      // Fine-tuning must not give the rank back: project after every optimizer step.
      rank_held = model.set_projection(
                      layer.name + ".weight",
                      [bases = std::move(bases)](at::Tensor& value) { project_onto_bases(value, bases); },
                      ProjectionTime::every_step) && rank_held;
    }
    if (!rank_held)
      context.log(fmt::format("{}: this {} model cannot hold projections: fine-tuning will raise the rank again",
                              kId, model.architecture()));
    record.details["rank_held_in_training"] = rank_held;
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
  const truncate_svd_manifest::Options options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN_MANIFEST(compaudit::compressors::SvdTruncation, truncate_svd_manifest)
