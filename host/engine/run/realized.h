// host/engine/run/realized.h — what compression a final model still has ("compressed stays
// compressed"): measured on the model after fine-tuning, not taken from what the compressors declared.
//
// Stored with the cell under size.realized (store::Cell::size) and read by the size metric (docs/metrics.md). Per
// layer weight, only the figures that apply:
//   layer, parameter       the layer and its weight's name
//   sparsity               fraction of exact zeros in the weight (every layer)
//   norm_loss              ||W_dense - W||_F^2 / ||W_dense||_F^2 against this seed's dense model (every layer of
//                          the same shape): the definition truncation records (discarded s^2 / total s^2), so the
//                          recorded and the realized figure compare; it includes what fine-tuning moved
//   cuts                   for every {layer, cut, chi} a compression record holds for this layer (truncate.svd and
//                          any plugin following its convention): [{cut, chi, rank}], rank the numerical rank of the
//                          weight's matrix along the cut (numpy.linalg.matrix_rank's tolerance, s_max max(m, n) eps
//                          of float32)
//   bits                   storage bits, when below 32
//   off_grid_fraction      fraction of the weight's values that its compressor's end-of-training projection (its
//                          grid) would move: 0 when the values are on the declared grid; when the model holds one
//   levels_max, levels_allowed   the most distinct values in one output channel, and 2^bits (bits < 16): a b-bit
//                          code names at most 2^b values, whatever the grid, so levels_max <= levels_allowed is the
//                          bits claimed being bits the values need
#pragma once

#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

namespace compaudit::engine {

/// {"layers": [...]} as above. `dense`: this seed's dense model (nullptr: no norm_loss); `records`: the cell's
/// compression records (an array of {plugin, details, ...}).
nlohmann::json realized_json(models::TrainableModel& model, models::TrainableModel* dense,
                             const nlohmann::json& records);

/// Numerical rank of `matrix` (2-D) with numpy.linalg.matrix_rank's default tolerance for float32 values.
std::int64_t numerical_rank(const at::Tensor& matrix);

/// The weight `w` ([o, i] or [o, i, h, w]) as the matrix of a cut such as "o|ihw" or "oh|iw" (rows first).
at::Tensor cut_matrix(const at::Tensor& w, const std::string& cut);

}  // namespace compaudit::engine
