// trend.h — a permutation test of a monotone trend across levels (docs/science.md §5): "rises with sparsity" is
// printed only when a test rejects. Free of LibTorch; used by the report (host/report/src/findings.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace compaudit::stats {

struct TrendTest {
  std::optional<double> rho;     ///< Spearman's rho between level and value over all seed x level cells; nullopt
                                 ///< when either is constant (then p_value is 1)
  double p_value = 1.0;          ///< Two-sided: (1 + #{|rho*| >= |rho|}) / (1 + P)
  std::int64_t permutations = 0;
  std::size_t seeds = 0, levels = 0;
};

/// values[s][l]: the per-seed statistic of seed s at level index l (every seed has every level); levels[l]: the
/// level. Under "no trend" the levels are exchangeable within a seed (the seed is the block: its models share data
/// order and initialization), so each permutation shuffles the level labels within every seed independently
/// (Fisher–Yates with draws.h on std::mt19937(seed)) and recomputes rho.
TrendTest spearman_trend_test(const std::vector<std::vector<double>>& values, const std::vector<double>& levels,
                              std::int64_t permutations = 10000, std::uint32_t seed = 0);

}  // namespace compaudit::stats
