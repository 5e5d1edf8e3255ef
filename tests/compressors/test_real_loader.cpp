// The built-in compressors through the host's real registry and loader (host/core): discovered from their
// manifests in the build's plugin directory, checked, instantiated with parameters resolved from the manifest's
// schema, and run — the path `compaudit run` takes.
#include <compaudit/compressor.h>
#include <compaudit/host/loader.h>
#include <compaudit/host/registry.h>
#include <compaudit/models/models.h>

#include <catch2/catch.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

using namespace compaudit;

TEST_CASE("every built-in compressor is found, loaded and run through the host's registry and loader",
          "[loader][integration]") {
  at::set_num_threads(1);
  host::SearchPaths paths;
  paths.dirs.emplace_back(COMPAUDIT_PLUGIN_DIR, "built-in");
  const host::Registry registry = host::Registry::discover(paths);
  host::Loader loader;
  const std::map<std::string, std::map<std::string, ParamValue>> uses{
      {"org.compaudit.prune.magnitude", {{"sparsity", 0.5}}},
      {"org.compaudit.prune.structured", {{"amount", 0.5}}},
      {"org.compaudit.prune.gradual", {{"final_sparsity", 0.5}}},
      {"org.compaudit.prune.lottery", {{"sparsity", 0.5}}},
      {"org.compaudit.quantize.ptq", {}},
      {"org.compaudit.truncate.svd", {{"rank", std::int64_t{2}}}},
      {"org.compaudit.compress.classdep", {{"critical_class", std::int64_t{0}}, {"sparsity", 0.5}}}};
  for (const auto& [id, given] : uses) {
    DYNAMIC_SECTION(id) {
      const host::Manifest* manifest = registry.find(id);
      REQUIRE(manifest != nullptr);
      CHECK(manifest->kind == PluginKind::compressor);
      const Params params = Params::resolve(manifest->params, given, id);
      auto compressor = loader.instantiate_as<Compressor>(*manifest, params);
      REQUIRE(compressor);
      // One-shot schemes run on a model here; the training schemes are run by tests with a training context.
      if (id == "org.compaudit.prune.magnitude" || id == "org.compaudit.quantize.ptq" ||
          id == "org.compaudit.truncate.svd" || id == "org.compaudit.prune.structured") {
        struct Context final : CompressionContext {
          std::int64_t seed() const override { return 0; }
          int num_classes() const override { return 3; }
          double train(const TrainRequest&) override { return 0; }
          Evaluation evaluate(const std::string&) override { return {}; }
          std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t) override { return {}; }
          at::Tensor calibration_batch(std::int64_t n) override { return at::randn({n, 16}); }
          void log(const std::string&) override {}
        } context;
        auto model = models::make_builtin_model("mlp", {16}, {16}, 3, 0);
        const CompressionRecord record =
            host::guarded(id, "compress", [&] { return compressor->compress(*model, context); });
        CHECK_FALSE(record.summary.empty());
      }
    }
  }
}
