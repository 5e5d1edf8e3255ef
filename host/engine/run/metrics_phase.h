// host/engine/run/metrics_phase.h — the last phase: every [[metric]] plugin on every arm against its reference
// population (run/executor.h reference_arm), paired by seed over the cells done in both. A metric that cannot be
// created, or that throws on one arm, is stored as that result's error; the others are computed.
#pragma once

#include "data/dataset.h"
#include "run/plugin_set.h"
#include "run/progress.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/store/store.h>

namespace compaudit::engine {

/// Replaces the store's metric results with new ones, one per (metric, arm), each stored as soon as it is computed.
/// `delay_ms` > 0 pauses before each result is stored (durability tests only, host::TestHooks). Throws only what
/// the store throws.
void measure(const host::Pipeline& pipeline, const DataSplits& data, PluginSet& plugins, store::Store& store,
             Progress& progress, int delay_ms = 0);

}  // namespace compaudit::engine
