// pie_null.cpp — see pie_null.h.
#include "pie_null.h"

#include <algorithm>
#include <random>
#include <stdexcept>

#include "draws.h"
#include "stats.h"

namespace compaudit::stats {
namespace {

/// The examples on which some pair disagrees, as [k][m] label copies: on every other example both sides hold the
/// same K labels under any swap or resample, so their modal labels agree.
struct ActiveColumns {
  std::int64_t k = 0, m = 0;
  std::vector<std::int64_t> ref, cand;  // row-major [k, m]
};

ActiveColumns active_columns(const std::int64_t* ref, const std::int64_t* cand, std::int64_t k, std::int64_t n,
                             int num_classes) {
  ActiveColumns a;
  a.k = k;
  std::vector<std::int64_t> columns;
  for (std::int64_t i = 0; i < n; ++i) {
    bool differs = false;
    for (std::int64_t row = 0; row < k; ++row) {
      const std::int64_t x = ref[row * n + i], y = cand[row * n + i];
      if (x < 0 || x >= num_classes || y < 0 || y >= num_classes)
        throw std::out_of_range("label " + std::to_string(x < 0 || x >= num_classes ? x : y) + " of example " +
                                std::to_string(i) + " is outside [0, " + std::to_string(num_classes) + ")");
      differs |= x != y;
    }
    if (differs) columns.push_back(i);
  }
  a.m = static_cast<std::int64_t>(columns.size());
  a.ref.resize(static_cast<std::size_t>(k * a.m));
  a.cand.resize(a.ref.size());
  for (std::int64_t row = 0; row < k; ++row)
    for (std::int64_t j = 0; j < a.m; ++j) {
      a.ref[row * a.m + j] = ref[row * n + columns[j]];
      a.cand[row * a.m + j] = cand[row * n + columns[j]];
    }
  return a;
}

/// PIE count when side A takes, for r in 0..K-1, row pick[r] of the reference (or of the candidate when swap[r]) and
/// side B the other member of that pair. `counts` is scratch of num_classes zeros, left zeroed.
std::int64_t pie_count(const ActiveColumns& a, const std::vector<std::uint32_t>& pick, const std::vector<char>& swap,
                       std::vector<std::int32_t>& counts) {
  std::int64_t pies = 0;
  const auto mode = [&](std::int64_t j, bool side_a) {
    std::int64_t best = -1;
    std::int32_t best_count = 0;
    for (std::size_t r = 0; r < pick.size(); ++r) {
      const bool from_ref = (swap[r] != 0) != side_a;
      const std::int64_t label = (from_ref ? a.ref : a.cand)[pick[r] * a.m + j];
      const std::int32_t c = ++counts[static_cast<std::size_t>(label)];
      if (c > best_count || (c == best_count && label > best)) best = label, best_count = c;  // ties: largest
    }
    for (std::size_t r = 0; r < pick.size(); ++r) {
      const bool from_ref = (swap[r] != 0) != side_a;
      counts[static_cast<std::size_t>((from_ref ? a.ref : a.cand)[pick[r] * a.m + j])] = 0;
    }
    return best;
  };
  for (std::int64_t j = 0; j < a.m; ++j) pies += mode(j, true) != mode(j, false);
  return pies;
}

}  // namespace

PieNullResult pie_null(const std::int64_t* reference, const std::int64_t* candidate, std::int64_t k, std::int64_t n,
                       int num_classes, const PieNullOptions& options) {
  if (k < 1 || n < 0 || num_classes < 1) throw std::invalid_argument("pie_null: needs K >= 1 and classes >= 1");
  const ActiveColumns a = active_columns(reference, candidate, k, n, num_classes);
  std::vector<std::int32_t> counts(static_cast<std::size_t>(num_classes), 0);
  std::vector<std::uint32_t> identity(static_cast<std::size_t>(k));
  for (std::int64_t r = 0; r < k; ++r) identity[static_cast<std::size_t>(r)] = static_cast<std::uint32_t>(r);
  std::vector<char> swap(static_cast<std::size_t>(k), 0);

  PieNullResult out;
  out.observed = pie_count(a, identity, swap, counts);
  // Exact when every swap pattern fits in the budget: bit r of the pattern swaps pair r (pattern 0 is the data).
  out.exact = k < 62 && (std::int64_t{1} << k) <= options.permutations;
  out.permutations = out.exact ? std::int64_t{1} << k : options.permutations;
  std::mt19937 swaps(options.seed);
  std::int64_t reaching = 0;
  double sum = 0.0;
  for (std::int64_t p = 0; p < out.permutations; ++p) {
    for (std::int64_t r = 0; r < k; ++r)
      swap[static_cast<std::size_t>(r)] = out.exact ? static_cast<char>((p >> r) & 1) : static_cast<char>(coin(swaps));
    const std::int64_t c = pie_count(a, identity, swap, counts);
    sum += static_cast<double>(c);
    reaching += c >= out.observed;
  }
  if (out.permutations > 0) {
    out.null_mean = sum / static_cast<double>(out.permutations);
    out.p_value = out.exact ? static_cast<double>(reaching) / static_cast<double>(out.permutations)
                            : static_cast<double>(1 + reaching) / static_cast<double>(1 + out.permutations);
  }

  std::fill(swap.begin(), swap.end(), 0);
  std::mt19937 resamples(options.seed + 1u);
  std::vector<std::uint32_t> pick(static_cast<std::size_t>(k));
  for (std::int64_t b = 0; b < options.bootstrap; ++b) {
    for (auto& r : pick) r = uniform_index(resamples, static_cast<std::uint32_t>(k));
    out.bootstrap_counts.push_back(static_cast<double>(pie_count(a, pick, swap, counts)));
  }
  std::sort(out.bootstrap_counts.begin(), out.bootstrap_counts.end());
  if (!out.bootstrap_counts.empty()) {
    out.ci_lo = quantile_sorted(out.bootstrap_counts, (1.0 - options.confidence) / 2.0);
    out.ci_hi = quantile_sorted(out.bootstrap_counts, (1.0 + options.confidence) / 2.0);
  }
  return out;
}

std::vector<double> pair_disagreement(const std::int64_t* reference, const std::int64_t* candidate, std::int64_t k,
                                      std::int64_t n) {
  std::vector<double> out(static_cast<std::size_t>(k), 0.0);
  if (n == 0) return out;
  for (std::int64_t r = 0; r < k; ++r) {
    std::int64_t differ = 0;
    for (std::int64_t i = 0; i < n; ++i) differ += reference[r * n + i] != candidate[r * n + i];
    out[static_cast<std::size_t>(r)] = static_cast<double>(differ) / static_cast<double>(n);
  }
  return out;
}

}  // namespace compaudit::stats
