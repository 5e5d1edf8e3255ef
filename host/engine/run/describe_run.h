// host/engine/run/describe_run.h — the run as the store records it once, before any cell: settings (seeds, model,
// training, data, normalisation, metrics, gates, [attribution] / [search]), arms with their references, the data's
// classes and splits' labels, and test thumbnails for image data. Reports and resume read it back.
#pragma once

#include "data/dataset.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/store/store.h>

#include <nlohmann/json.hpp>

#include <string>

namespace compaudit::engine {

/// Writes the description in one transaction unless the store has one (a resumed run). `model_path`: the [model]
/// path resolved (run/model_source.h); `extra_settings` are merged into the settings (a shard's {"shard": ...}).
/// Throws store::StoreError on an io failure.
void describe_run(const host::Pipeline& pipeline, const DataSplits& data, const std::string& pipeline_dir,
                  const std::string& model_path, const nlohmann::json& extra_settings, store::Store& store);

}  // namespace compaudit::engine
