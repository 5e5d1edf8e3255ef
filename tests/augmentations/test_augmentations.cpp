// Tests of the built-in augmentation policies, loaded from their built libraries through the host's loader, and of
// the magnitude schedule they share (plugins/augmentations/ops).
#include "support/plugin_loading.h"

#include <ops/ops.h>

#include <compaudit/augmentation.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

using compaudit::test::make_plugin;

namespace {

const bool one_thread = (at::set_num_threads(1), true);  // tests run side by side; keep LibTorch to one thread

compaudit::Batch images(std::int64_t b = 8, std::int64_t c = 1, std::int64_t h = 16, std::int64_t w = 16) {
  at::manual_seed(3);
  return {at::randn({b, c, h, w}), at::randint(10, {b}, at::kLong), {}, {}};
}

compaudit::Batch rows(std::int64_t b = 8, std::int64_t f = 5) {
  at::manual_seed(4);
  return {at::randn({b, f}), at::randint(3, {b}, at::kLong), {}, {}};
}

compaudit::AugmentationContext context(std::uint64_t seed) {
  compaudit::AugmentationContext ctx;
  ctx.generator = at::detail::createCPUGenerator(seed);
  return ctx;
}

compaudit::AugmentationState state(double sparsity = 0.0, int num_classes = 10) {
  compaudit::AugmentationState s;
  s.sparsity = sparsity;
  s.num_classes = num_classes;
  return s;
}

/// Applies a fresh instance of `plugin` to a copy of `batch` with a generator seeded by `seed`.
compaudit::Batch augmented(const std::string& plugin, const std::map<std::string, compaudit::ParamValue>& params,
                           compaudit::Batch batch, std::uint64_t seed = 1, double sparsity = 0.0) {
  batch.inputs = batch.inputs.clone();
  auto ctx = context(seed);
  make_plugin<compaudit::Augmentation>(plugin, params)->apply(batch, state(sparsity), ctx);
  return batch;
}

}  // namespace

TEST_CASE("noise adds Gaussian noise of the requested deviation from the cell's generator", "[augment][noise]") {
  compaudit::Batch zeros{at::zeros({20000, 1}), at::zeros({20000}, at::kLong), {}, {}};
  const auto out = augmented("augment_noise", {{"std", 0.5}}, zeros);
  CHECK(out.inputs.std().item<double>() == Approx(0.5).epsilon(0.03));
  CHECK(at::equal(out.inputs, augmented("augment_noise", {{"std", 0.5}}, zeros).inputs));
  CHECK_FALSE(at::equal(out.inputs, augmented("augment_noise", {{"std", 0.5}}, zeros, 2).inputs));
  const auto batch = images();
  CHECK(at::equal(augmented("augment_noise", {{"std", 0.0}}, batch).inputs, batch.inputs));
}

TEST_CASE("randaugment keeps shapes and is deterministic for a fixed generator seed", "[augment][randaugment]") {
  for (const auto& batch : {images(6, 3, 12, 10), rows()}) {
    const auto a = augmented("augment_randaugment", {{"magnitude", 20.0}, {"n", std::int64_t{3}}}, batch, 7);
    const auto b = augmented("augment_randaugment", {{"magnitude", 20.0}, {"n", std::int64_t{3}}}, batch, 7);
    const auto c = augmented("augment_randaugment", {{"magnitude", 20.0}, {"n", std::int64_t{3}}}, batch, 8);
    CHECK(a.inputs.sizes() == batch.inputs.sizes());
    CHECK(at::equal(a.inputs, b.inputs));
    CHECK_FALSE(at::equal(a.inputs, c.inputs));
    CHECK_FALSE(at::equal(a.inputs, batch.inputs));
    CHECK_FALSE(a.weights.defined());
    CHECK_FALSE(a.soft_targets.defined());
  }
}

TEST_CASE("randaugment at magnitude 0 without mixup is the identity", "[augment][randaugment]") {
  for (const auto& batch : {images(), rows()}) {
    const auto out = augmented("augment_randaugment", {{"magnitude", 0.0}, {"n", std::int64_t{4}}}, batch);
    CHECK(at::equal(out.inputs, batch.inputs));
  }
}

TEST_CASE("each randaugment operation changes images, and only noise touches tabular rows", "[augment][randaugment]") {
  for (const char* op : {"shift", "rotate", "noise", "cutout", "contrast"}) {
    INFO("op " << op);
    const std::map<std::string, compaudit::ParamValue> params = {
        {"magnitude", 30.0}, {"n", std::int64_t{1}}, {"ops", std::vector<std::string>{op}}};
    const auto batch = images();
    CHECK_FALSE(at::equal(augmented("augment_randaugment", params, batch).inputs, batch.inputs));
    const auto table = rows();
    const bool unchanged = at::equal(augmented("augment_randaugment", params, table).inputs, table.inputs);
    CHECK(unchanged == (op != std::string("noise")));
  }
}

TEST_CASE("cutout blanks one square of the image and contrast keeps each image's mean", "[augment][randaugment]") {
  compaudit::Batch ones{at::ones({16, 1, 20, 20}), at::zeros({16}, at::kLong), {}, {}};
  const auto cut = augmented("augment_randaugment",
                             {{"magnitude", 30.0}, {"n", std::int64_t{1}}, {"ops", std::vector<std::string>{"cutout"}}},
                             ones);
  const at::Tensor zeros = (cut.inputs == 0).sum({1, 2, 3});
  CHECK(zeros.max().item<std::int64_t>() <= 100);  // side 0.5 * 20 = 10, clipped at the border
  CHECK(zeros.min().item<std::int64_t>() >= 25);   // a centre inside the image keeps at least a 5 x 5 corner
  CHECK(zeros.max().item<std::int64_t>() == 100);

  const auto batch = images(8, 3, 12, 12);
  const std::map<std::string, compaudit::ParamValue> contrast = {
      {"magnitude", 15.0}, {"n", std::int64_t{1}}, {"ops", std::vector<std::string>{"contrast"}}};
  const auto contrasted = augmented("augment_randaugment", contrast, batch);
  CHECK(at::allclose(contrasted.inputs.mean({1, 2, 3}), batch.inputs.mean({1, 2, 3}), 1e-5, 1e-6));
  const at::Tensor spread = contrasted.inputs.std({1, 2, 3}) / batch.inputs.std({1, 2, 3});
  CHECK(at::allclose(at::abs(spread - 1.0), at::full({8}, 0.45), 1e-4, 1e-5));  // factor 1 ± 0.9 * 15/30
}

TEST_CASE("mixup mixes inputs and soft targets into distributions", "[augment][randaugment]") {
  const auto batch = images();
  const auto out = augmented("augment_randaugment", {{"magnitude", 0.0}, {"mixup_alpha", 0.4}}, batch);
  REQUIRE(out.soft_targets.defined());
  CHECK(out.soft_targets.sizes() == at::IntArrayRef({8, 10}));
  CHECK(at::allclose(out.soft_targets.sum(1), at::ones({8})));
  CHECK_FALSE(at::equal(out.inputs, batch.inputs));
  CHECK((out.soft_targets > 0).sum().item<std::int64_t>() > 8);  // some rows hold two classes
}

TEST_CASE("the magnitude schedule follows sparsity as documented", "[augment][schedule]") {
  using compaudit::augment::MagnitudeSchedule;
  MagnitudeSchedule s;
  s.dense = 12.0;
  s.sparse = 4.0;
  s.sparsity_end = 0.8;
  s.thresholds = {0.5, 0.8};
  s.kind = MagnitudeSchedule::Kind::constant;
  CHECK(s.at(0.0) == 12.0);
  CHECK(s.at(0.9) == 12.0);
  s.kind = MagnitudeSchedule::Kind::linear;
  CHECK(s.at(0.0) == 12.0);
  CHECK(s.at(0.4) == Approx(8.0));
  CHECK(s.at(0.8) == Approx(4.0));
  CHECK(s.at(0.95) == Approx(4.0));
  s.kind = MagnitudeSchedule::Kind::step;
  CHECK(s.at(0.49) == 12.0);
  CHECK(s.at(0.5) == Approx(8.0));
  CHECK(s.at(0.79) == Approx(8.0));
  CHECK(s.at(0.8) == Approx(4.0));
  CHECK_THROWS_AS(MagnitudeSchedule::kind_from_string("cosine"), compaudit::Error);
}

TEST_CASE("randaugment's linear schedule reaches magnitude 0 at sparsity_end and stops augmenting",
          "[augment][schedule]") {
  const std::map<std::string, compaudit::ParamValue> params = {
      {"magnitude", 10.0}, {"magnitude_sparse", 0.0}, {"schedule", std::string("linear")}, {"sparsity_end", 0.5}};
  const auto batch = images();
  CHECK_FALSE(at::equal(augmented("augment_randaugment", params, batch, 1, 0.0).inputs, batch.inputs));
  CHECK_FALSE(at::equal(augmented("augment_randaugment", params, batch, 1, 0.25).inputs, batch.inputs));
  CHECK(at::equal(augmented("augment_randaugment", params, batch, 1, 0.6).inputs, batch.inputs));
}

TEST_CASE("difficulty drops or down-weights samples the teacher finds hard", "[augment][difficulty]") {
  auto batch = images(6);
  // A teacher sure of the true class of even samples (p = 0.9) and unsure of odd ones (p = 0.2).
  auto ctx = context(5);
  ctx.teacher = [&](const at::Tensor& inputs) {
    at::Tensor p = at::full({inputs.size(0), 10}, 0.0);
    for (std::int64_t i = 0; i < inputs.size(0); ++i) p[i][batch.targets[i].item<std::int64_t>()] = i % 2 ? 0.2 : 0.9;
    return p;
  };
  SECTION("hard samples are dropped") {
    make_plugin<compaudit::Augmentation>("augment_difficulty", {{"threshold", 0.5}})->apply(batch, state(), ctx);
    REQUIRE(batch.weights.defined());
    CHECK(at::equal(batch.weights, at::tensor({1.f, 0.f, 1.f, 0.f, 1.f, 0.f})));
  }
  SECTION("hard samples are down-weighted, on top of existing weights") {
    batch.weights = at::full({6}, 0.5);
    make_plugin<compaudit::Augmentation>("augment_difficulty", {{"threshold", 0.5}, {"hard_weight", 0.25}})
        ->apply(batch, state(), ctx);
    CHECK(at::allclose(batch.weights, at::tensor({0.5f, 0.125f, 0.5f, 0.125f, 0.5f, 0.125f})));
  }
  SECTION("a threshold above every difficulty keeps all") {
    make_plugin<compaudit::Augmentation>("augment_difficulty", {{"threshold", 0.9}})->apply(batch, state(), ctx);
    CHECK(at::equal(batch.weights, at::ones({6})));
  }
}

TEST_CASE("difficulty without a teacher only augments, and magnitude 0 leaves inputs alone", "[augment][difficulty]") {
  const auto batch = images();
  const auto out = augmented("augment_difficulty", {{"magnitude", 0.0}}, batch);
  CHECK(at::equal(out.inputs, batch.inputs));
  CHECK_FALSE(out.weights.defined());
  CHECK_FALSE(at::equal(augmented("augment_difficulty", {{"magnitude", 9.0}}, batch).inputs, batch.inputs));
  auto tabular = rows();
  auto ctx = context(1);
  ctx.teacher = [](const at::Tensor&) { return at::ones({3}); };  // wrong shape
  CHECK_THROWS_WITH(make_plugin<compaudit::Augmentation>("augment_difficulty")->apply(tabular, state(), ctx),
                    Catch::Contains("teacher must return probabilities"));
}
