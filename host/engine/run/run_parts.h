// host/engine/run/run_parts.h — the parts of one run that its phases share (run/executor_impl.h owns them).
// A phase takes this, not the Executor: it sees the run's inputs, its store and its models, not the cell loop.
#pragma once

#include "data/dataset.h"
#include "run/model_cache.h"
#include "run/model_source.h"
#include "run/plugin_set.h"
#include "run/training_plans.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/store/store.h>

namespace compaudit::engine {

/// References into the Executor; valid while it lives. Not thread-safe: used under the executor's host lock.
struct RunParts {
  const host::Pipeline& pipeline;
  const DataSplits& data;
  store::Store& store;
  PluginSet& plugins;
  const ModelSource& source;
  TrainingPlans& plans;
  ModelCache& models;
};

}  // namespace compaudit::engine
