// power.h — power of the two-sample t-test and the number of models per group that would detect an effect
// (docs/science.md §3), from Boost.Math's non-central t. Checked against statsmodels' TTestIndPower by
// tests/metrics/test_verdicts.cpp (fixtures from scripts/fixtures/metrics/make_verdict_fixtures.py).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace compaudit::stats {

/// Power of the two-sided two-sample Student t-test with n models per group at level alpha for the standardized
/// effect `effect` (difference / pooled sd): df = 2n - 2, non-centrality effect * sqrt(n / 2), power =
/// P(T > t_crit) + P(T < -t_crit) under the non-central t, as statsmodels TTestIndPower().power(effect, n, alpha).
/// Requires n >= 2.
double t_test_power(double effect, std::int64_t n, double alpha);

/// The smallest n >= 2 models per group whose power for `effect` reaches `power` at `alpha`, i.e.
/// ceil(TTestIndPower().solve_power(effect, alpha=alpha, power=power)); nullopt when the effect is 0 or not finite,
/// or when even n_max would not reach the power.
std::optional<std::int64_t> models_needed(double effect, double alpha, double power, std::int64_t n_max = 1000000);

/// Cohen's d of two samples: |mean_a - mean_b| / pooled sd, pooled variance ((n_a-1) var_a + (n_b-1) var_b) /
/// (n_a + n_b - 2); nullopt when a group has fewer than two values or the pooled variance is 0.
std::optional<double> standardized_effect(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace compaudit::stats
