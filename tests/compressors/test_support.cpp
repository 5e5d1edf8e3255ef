// The helpers every pruning compressor relies on: exact k-smallest selection, rounding of counts, ROC AUC.
#include "plugin_harness.h"
#include "support/compress_support.h"

#include <catch2/catch.hpp>
#include <ATen/ATen.h>

using namespace compaudit;  // keep_masks, count_for, glob_match: the SDK (compaudit/select.h, layers.h)
using namespace compaudit::compressors;

namespace {
// The reference: a stable sort of (pruned first, score, position); the first k go.
std::vector<at::Tensor> brute_force(const std::vector<ScoreSource>& sources, std::int64_t k) {
  std::vector<std::tuple<int, double, std::int64_t>> all;
  std::int64_t pos = 0;
  for (const auto& s : sources) {
    const at::Tensor v = s.values.to(at::kDouble).flatten();
    const at::Tensor p = s.pruned.defined() ? s.pruned.flatten().eq(0) : at::zeros({v.numel()}, at::kBool);
    for (std::int64_t i = 0; i < v.numel(); ++i) {
      const double x = s.absolute ? std::abs(v[i].item<double>()) : v[i].item<double>();
      const bool pruned = p[i].item<bool>();
      all.emplace_back(pruned ? 0 : 1, pruned ? 0.0 : x, pos++);  // among pruned entries, position decides
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<bool> keep(all.size(), true);
  for (std::int64_t i = 0; i < k; ++i) keep[std::get<2>(all[i])] = false;
  std::vector<at::Tensor> out;
  pos = 0;
  for (const auto& s : sources) {
    at::Tensor m = at::empty({s.values.numel()}, at::kBool);
    for (std::int64_t i = 0; i < m.numel(); ++i) m[i] = static_cast<bool>(keep[pos++]);
    out.push_back(m.reshape(s.values.sizes()));
  }
  return out;
}
}  // namespace

TEST_CASE("keep_masks prunes exactly k entries, ties broken by position, pruned entries first", "[support]") {
  at::manual_seed(3);
  const at::Tensor a = (at::randn({7, 9}) * 4).round() / 4;  // many ties
  const at::Tensor b = (at::randn({3, 2, 3, 3}) * 4).round() / 4;
  const at::Tensor mask_b = (at::rand({3, 2, 3, 3}) > 0.3).to(at::kFloat);
  for (bool absolute : {true, false}) {
    for (std::int64_t k : {0L, 1L, 17L, 40L, 63L, 64L, 100L, 117L}) {
      const std::vector<ScoreSource> sources{{a, {}, absolute}, {b, mask_b, absolute}};
      const auto got = keep_masks(sources, k), want = brute_force(sources, k);
      INFO("k = " << k << ", absolute = " << absolute);
      CHECK(got[0].equal(want[0]));
      CHECK(got[1].equal(want[1]));
      CHECK(got[0].logical_not().sum().item<std::int64_t>() + got[1].logical_not().sum().item<std::int64_t>() == k);
    }
  }
}

TEST_CASE("keep_masks is exact on a large tensor whose values are all equal", "[support]") {
  const at::Tensor w = at::full({300000}, 0.5f);
  const auto keep = keep_masks({{w, {}, true}}, 123457);
  CHECK(keep[0].logical_not().sum().item<std::int64_t>() == 123457);
  CHECK_FALSE(keep[0][123456].item<bool>());  // the first positions go
  CHECK(keep[0][123457].item<bool>());
}

TEST_CASE("keep_masks finds the k-th value on large random tensors as a sort would", "[support]") {
  at::manual_seed(5);
  const at::Tensor w = at::randn({1000003});
  for (double p : {0.001, 0.5, 0.9, 0.9999}) {
    const auto k = static_cast<std::int64_t>(p * 1000003);
    const auto keep = keep_masks({{w, {}, true}}, k)[0];
    const double threshold = std::get<0>(w.abs().sort())[k].item<double>();  // the smallest kept magnitude
    CHECK(keep.logical_not().sum().item<std::int64_t>() == k);
    CHECK(w.abs().masked_select(keep).min().item<double>() == threshold);
  }
}

TEST_CASE("keep_masks agrees with a sort on large signed scores with an earlier mask and negative zeros",
          "[support]") {
  // Above the 65,536-entry sample, so the bracket, the vectorized pass and the candidates all take part.
  at::manual_seed(11);
  const at::Tensor a = (at::randn({200, 200}) * 64).round() / 64;  // ties, and -0.0 from negative values near 0
  const at::Tensor b = (at::randn({35003}) * 64).round() / 64;
  const at::Tensor mask_b = (at::rand({35003}) > 0.2).to(at::kFloat);
  REQUIRE(a.signbit().logical_and(a.eq(0)).any().item<bool>());
  for (bool absolute : {false, true}) {
    for (std::int64_t k : {700L, 37500L, 74300L}) {
      const std::vector<ScoreSource> sources{{a, {}, absolute}, {b, mask_b, absolute}};
      const auto got = keep_masks(sources, k), want = brute_force(sources, k);
      INFO("k = " << k << ", absolute = " << absolute);
      CHECK(got[0].equal(want[0]));
      CHECK(got[1].equal(want[1]));
    }
  }
}

TEST_CASE("counts round half to even, like Python's round() in torch.nn.utils.prune", "[support]") {
  CHECK(count_for(0.5, 5) == 2);   // 2.5 -> 2
  CHECK(count_for(0.5, 7) == 4);   // 3.5 -> 4
  CHECK(count_for(0.3, 10) == 3);
  CHECK(count_for(1.0, 10) == 10);
}

TEST_CASE("ROC AUC with tied scores matches sklearn's roc_auc_score", "[support]") {
  const auto f = compaudit::testing::fixture("auc.json");
  const at::Tensor scores = at::tensor(f["scores"].get<std::vector<double>>());
  const at::Tensor labels = at::tensor(f["labels"].get<std::vector<std::int64_t>>());
  CHECK(roc_auc(scores, labels.eq(1)) == Approx(f["auc"].get<double>()).epsilon(1e-12));
  CHECK(std::isnan(roc_auc(scores, at::zeros({scores.numel()}, at::kBool))));
  CHECK(roc_auc(at::tensor({0.1, 0.1}), at::tensor({1, 0}).eq(1)) == 0.5);
}

TEST_CASE("layer globs follow shell rules", "[support]") {
  CHECK(glob_match("block3.*", "block3.conv1"));
  CHECK_FALSE(glob_match("block3.*", "block30conv1"));
  CHECK(glob_match("fc?", "fc2"));
}
