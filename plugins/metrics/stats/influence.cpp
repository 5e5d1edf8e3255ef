// influence.cpp — see influence.h.
#include "influence.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace compaudit::stats {

std::vector<InfluencePoint> top_influence(const std::uint8_t* membership, const std::uint8_t* correct, std::int64_t T,
                                          std::int64_t n_train, std::int64_t n_test,
                                          const std::vector<std::int64_t>& points, std::size_t top) {
  if (T < 1 || n_train < 0 || n_test < 0) throw std::invalid_argument("top_influence: needs T >= 1");
  const auto nt = static_cast<std::size_t>(n_train);
  std::vector<std::int32_t> in_count(nt, 0);  // subsets holding i
  for (std::int64_t t = 0; t < T; ++t)
    for (std::size_t i = 0; i < nt; ++i) in_count[i] += membership[t * n_train + i] != 0;

  const auto before = [](const InfluenceEntry& a, const InfluenceEntry& b) {
    return a.influence > b.influence || (a.influence == b.influence && a.train < b.train);
  };
  std::vector<InfluencePoint> out;
  std::vector<std::int32_t> in_correct(nt);  // models holding i that classify j correctly
  std::vector<InfluenceEntry> all;
  all.reserve(nt);
  for (const std::int64_t j : points) {
    if (j < 0 || j >= n_test)
      throw std::invalid_argument("top_influence: test example " + std::to_string(j) + " is outside [0, " +
                                  std::to_string(n_test) + ")");
    std::fill(in_correct.begin(), in_correct.end(), 0);
    std::int32_t all_correct = 0;
    for (std::int64_t t = 0; t < T; ++t)
      if (correct[t * n_test + j]) {
        ++all_correct;
        const std::uint8_t* row = membership + t * n_train;
        for (std::size_t i = 0; i < nt; ++i) in_correct[i] += row[i] != 0;
      }
    all.clear();
    for (std::size_t i = 0; i < nt; ++i) {
      const std::int32_t in = in_count[i], out_count = static_cast<std::int32_t>(T) - in;
      if (in == 0 || out_count == 0) continue;
      all.push_back({static_cast<std::int64_t>(i), static_cast<double>(in_correct[i]) / in -
                                                       static_cast<double>(all_correct - in_correct[i]) / out_count});
    }
    InfluencePoint p;
    p.example = j;
    const std::size_t k = std::min(top, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), before);
    p.top.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k));
    if (!all.empty()) {
      const double best = std::max_element(all.begin(), all.end(), [](const auto& a, const auto& b) {
                            return a.influence < b.influence;
                          })->influence;
      p.tied_at_max = std::count_if(all.begin(), all.end(), [&](const InfluenceEntry& e) { return e.influence == best; });
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace compaudit::stats
