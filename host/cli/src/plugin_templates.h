// plugin_templates.h — the files `compaudit new-plugin` writes. Placeholders: @NAME@ (target and file name),
// @CLASS@ (C++ class), @ID@ (reverse-DNS id), @KIND@. Each source is a complete plugin that builds against the
// installed SDK and loads as is; the comments tell a new author what each part is for. Like the built-in plugins,
// each takes its id, kind, version and Options from @NAME@_manifest.h, which compaudit_add_plugin generates from the
// manifest, so code and manifest cannot disagree.
#pragma once

namespace compaudit::cli::templates {

inline constexpr const char* kCMakeLists = R"(# Out-of-tree compaudit plugin. Build against an installed compaudit:
#   cmake -S . -B build -DCMAKE_PREFIX_PATH=<compaudit prefix> && cmake --build build     # Release by default
#   COMPAUDIT_PLUGIN_PATH=$PWD/build compaudit plugins inspect @ID@ --load
#   cmake --build build --target install_@NAME@      # into your user plugin directory: no path needed then
cmake_minimum_required(VERSION 3.25)
project(@NAME@ LANGUAGES CXX)
find_package(compaudit CONFIG REQUIRED)
compaudit_add_plugin(@NAME@ SOURCES @NAME@.cpp MANIFEST @NAME@.toml)
compaudit_install_plugin(@NAME@)
)";

inline constexpr const char* kReadme = R"(# @NAME@ — a compaudit @KIND@ plugin

Build against an installed compaudit (its prefix in `CMAKE_PREFIX_PATH`), then point compaudit at the build:

    cmake -S . -B build -DCMAKE_PREFIX_PATH=/usr/local
    cmake --build build
    export COMPAUDIT_PLUGIN_PATH=$PWD/build
    compaudit plugins inspect @ID@ --load

`@NAME@.toml` is the manifest: compaudit lists and validates the plugin from it without opening the library. It is
the plugin's one declaration of its id, version and parameters: the build generates `@NAME@_manifest.h` from it (an
`Options` struct with one member per `[[param]]`, and the constants `COMPAUDIT_PLUGIN_MANIFEST` registers with), so
add or rename a parameter in the manifest and use the member in `@NAME@.cpp`. Use the plugin in a pipeline as shown
at the top of `@NAME@.cpp`; `compaudit validate PIPELINE.toml` checks every parameter against the manifest.
)";

inline constexpr const char* kCompressorManifest = R"(# Manifest of @ID@ (format: docs/manifests.md). Unknown keys are errors.
id = "@ID@"
version = "0.1.0"
kind = "compressor"
library = "lib@NAME@.so"       # relative to this file; compaudit_add_plugin puts the library beside it
abi = 1
description = "Prunes every weight whose magnitude is below a threshold"
license = "MIT"

[[param]]
name = "threshold"
type = "float"
default = 0.01
min = 0.0
doc = "Weights with |w| below this are set to zero and kept at zero. Default: 0.01"
)";

inline constexpr const char* kCompressorSource = R"(// @NAME@ — a compressor that prunes every weight whose magnitude is below a threshold.
//
// Use it in a pipeline (a list is a sweep: one arm per value):
//
//     [[arm]]
//     name = "@NAME@"
//     finetune_epochs = 1
//       [[arm.step]]
//       plugin = "@ID@"
//       threshold = [0.01, 0.05]
//
// Start here: replace the body of compress() with your scheme, declare its parameters as [[param]] tables in
// @NAME@.toml, and rebuild: the generated Options gets one member per parameter. The host checks parameters against
// the manifest before it creates the plugin, so Options never holds a missing or ill-typed value.
#include "@NAME@_manifest.h"  // generated from @NAME@.toml by compaudit_add_plugin

#include <compaudit/compressor.h>

#include <ATen/ATen.h>

#include <string>

namespace {

class @CLASS@ final : public compaudit::Compressor {
 public:
  explicit @CLASS@(const compaudit::Params& params) : options_(params) {}

  /// Called once per seed, on that seed's trained model; may throw (the host then fails this cell only).
  compaudit::CompressionRecord compress(compaudit::Model& model, compaudit::CompressionContext& context) override {
    std::int64_t total = 0, kept = 0;
    for (const compaudit::Layer& layer : model.layers()) {
      const std::string name = layer.name + ".weight";
      at::Tensor keep = layer.weight.abs().ge(options_.threshold).to(layer.weight.scalar_type());
      // In a chain an earlier step may already have pruned this weight: never bring a weight back.
      if (at::Tensor previous = model.mask(name); previous.defined()) keep.mul_(previous);
      model.set_mask(name, keep);  // the host applies it now and after every fine-tuning step
      total += keep.numel();
      kept += keep.count_nonzero().item<std::int64_t>();
    }
    const double sparsity = total ? 1.0 - double(kept) / double(total) : 0.0;
    context.log("pruned " + std::to_string(total - kept) + " of " + std::to_string(total) + " weights");
    compaudit::CompressionRecord record;
    record.summary = "threshold pruning at " + std::to_string(options_.threshold) + ": sparsity " +
                     std::to_string(sparsity);
    record.details = {{"threshold", options_.threshold}, {"weights", total}, {"kept", kept}, {"sparsity", sparsity}};
    return record;
  }

 private:
  const @NAME@_manifest::Options options_;  // the [[param]] tables of @NAME@.toml, checked by the host
};

}  // namespace

// The one exported symbol, with the manifest's id, kind and version (the host checks them before any other call).
COMPAUDIT_PLUGIN_MANIFEST(@CLASS@, @NAME@_manifest)
)";

inline constexpr const char* kMetricManifest = R"(# Manifest of @ID@ (format: docs/manifests.md). Unknown keys are errors.
id = "@ID@"
version = "0.1.0"
kind = "metric"
library = "lib@NAME@.so"       # relative to this file; compaudit_add_plugin puts the library beside it
abi = 1
description = "Fraction of examples on which the compressed model predicts what its dense model predicts"
license = "MIT"
needs = []                     # "probabilities" and/or "memorization" when compute() uses them

[[param]]
name = "per_class"
type = "bool"
default = false
doc = "Also report the agreement within each true class. Default: false"
)";

inline constexpr const char* kMetricSource = R"(// @NAME@ — a metric: how often a compressed model predicts what its own dense model predicts.
//
// Use it in a pipeline:
//
//     [[metric]]
//     plugin = "@ID@"
//     per_class = true
//
// The host hands compute() the reference population (dense) and a candidate population (one arm), paired by seed:
// row k of both comes from seed k. Return JSON with the conventional members of compaudit/metric.h ("summary",
// "intervals", "per_class", "examples") so the report can show them.
#include "@NAME@_manifest.h"  // generated from @NAME@.toml by compaudit_add_plugin

#include <compaudit/metric.h>

#include <ATen/ATen.h>

namespace {

class @CLASS@ final : public compaudit::Metric {
 public:
  explicit @CLASS@(const compaudit::Params& params) : options_(params) {}

  /// Pure: the same input gives the same output. Called from one thread at a time.
  nlohmann::json compute(const compaudit::MetricInput& input) override {
    // [K, N]: 1 where seed k's compressed model agrees with seed k's dense model on example n.
    const at::Tensor same = input.candidate.predicted.eq(input.reference.predicted).to(at::kDouble);
    nlohmann::json result;
    result["summary"] = {{"agreement", same.mean().item<double>()}};
    if (options_.per_class) {
      result["per_class"] = nlohmann::json::array();
      for (int c = 0; c < input.data.num_classes; ++c) {
        const at::Tensor in_class = input.data.targets.eq(c);
        const double agreement = in_class.any().item<bool>()
                                     ? same.index({at::indexing::Slice(), in_class}).mean().item<double>()
                                     : 0.0;
        result["per_class"].push_back({{"class", c}, {"agreement", agreement}});
      }
    }
    return result;
  }

 private:
  const @NAME@_manifest::Options options_;  // the [[param]] tables of @NAME@.toml, checked by the host
};

}  // namespace

// The one exported symbol, with the manifest's id, kind and version (the host checks them before any other call).
COMPAUDIT_PLUGIN_MANIFEST(@CLASS@, @NAME@_manifest)
)";

inline constexpr const char* kAugmentationManifest = R"(# Manifest of @ID@ (format: docs/manifests.md). Unknown keys are errors.
id = "@ID@"
version = "0.1.0"
kind = "augmentation"
library = "lib@NAME@.so"       # relative to this file; compaudit_add_plugin puts the library beside it
abi = 1
description = "Adds Gaussian noise to every training input"
license = "MIT"

[[param]]
name = "std"
type = "float"
default = 0.1
min = 0.0
max = 10.0
doc = "Standard deviation of the noise, in normalised input units. Default: 0.1"
)";

inline constexpr const char* kAugmentationSource = R"(// @NAME@ — an augmentation policy that adds Gaussian noise to every training input.
//
// Use it in a pipeline (one policy applies to all training and fine-tuning):
//
//     [augmentation]
//     plugin = "@ID@"
//     std = 0.1
//
// apply() edits the batch in place. Draw every random number from context.generator: it is seeded per cell, which
// keeps runs reproducible and resumable.
#include "@NAME@_manifest.h"  // generated from @NAME@.toml by compaudit_add_plugin

#include <compaudit/augmentation.h>

#include <ATen/ATen.h>

namespace {

class @CLASS@ final : public compaudit::Augmentation {
 public:
  explicit @CLASS@(const compaudit::Params& params) : options_(params) {}

  /// Called on every training batch, from one thread at a time. `state` tells how compressed the model is, should
  /// the noise follow its size.
  void apply(compaudit::Batch& batch, const compaudit::AugmentationState& state,
             compaudit::AugmentationContext& context) override {
    (void)state;
    const at::Tensor noise = at::randn(batch.inputs.sizes(), context.generator, batch.inputs.options());
    batch.inputs.add_(noise, options_.std);
  }

 private:
  const @NAME@_manifest::Options options_;  // the [[param]] tables of @NAME@.toml, checked by the host
};

}  // namespace

// The one exported symbol, with the manifest's id, kind and version (the host checks them before any other call).
COMPAUDIT_PLUGIN_MANIFEST(@CLASS@, @NAME@_manifest)
)";

}  // namespace compaudit::cli::templates
