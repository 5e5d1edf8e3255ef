// trend.cpp — see trend.h.
#include "trend.h"

#include <cmath>
#include <random>
#include <stdexcept>

#include "draws.h"
#include "stats.h"

namespace compaudit::stats {

TrendTest spearman_trend_test(const std::vector<std::vector<double>>& values, const std::vector<double>& levels,
                              std::int64_t permutations, std::uint32_t seed) {
  TrendTest out;
  out.seeds = values.size();
  out.levels = levels.size();
  std::vector<double> x, y;
  for (const auto& row : values) {
    if (row.size() != levels.size()) throw std::invalid_argument("spearman_trend_test: a seed misses a level");
    x.insert(x.end(), levels.begin(), levels.end());
    y.insert(y.end(), row.begin(), row.end());
  }
  out.rho = spearman(x, y);
  if (!out.rho) return out;
  // Ranks of y are fixed under the permutation; only which level each value sits at moves.
  const double observed = std::fabs(*out.rho);
  std::mt19937 rng(seed);
  std::vector<double> shuffled(x.size());
  std::int64_t reaching = 0;
  const std::size_t L = levels.size();
  for (std::int64_t p = 0; p < permutations; ++p) {
    for (std::size_t s = 0; s < values.size(); ++s) {
      double* block = shuffled.data() + s * L;
      for (std::size_t l = 0; l < L; ++l) block[l] = levels[l];
      for (std::size_t l = L; l > 1; --l) std::swap(block[l - 1], block[uniform_index(rng, static_cast<std::uint32_t>(l))]);
    }
    const auto r = spearman(shuffled, y);
    reaching += r && std::fabs(*r) >= observed - 1e-12;  // ties of |rho| in floating point count as reaching
  }
  out.permutations = permutations;
  out.p_value = static_cast<double>(1 + reaching) / static_cast<double>(1 + permutations);
  return out;
}

}  // namespace compaudit::stats
