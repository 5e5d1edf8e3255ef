// host/engine/run/memorization_phase.h — the memorization estimate (Feldman & Zhang, docs/science.md): T models on
// random subsets of the training set; mem[i] = accuracy on example i of the models that saw it minus that of the
// models that did not. Stored with the subsets' membership and test correctness (the influence estimate reads them).
#pragma once

#include "data/dataset.h"
#include "run/model_source.h"
#include "run/progress.h"
#include "run/training_plans.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/store/store.h>

namespace compaudit::engine {

/// Run-level blobs (no arm) of the memorization models: row-major uint8 0/1 matrices [T, N_train] (which examples
/// each model trained on) and [T, N_test] (which test examples it classifies correctly). Blobs, not a table, so a
/// store written before them reads as it is (the influence is then unavailable).
inline constexpr const char* kMembershipBlob = "memorization/membership";
inline constexpr const char* kTestCorrectBlob = "memorization/test_correct";

/// m: how many of the T subsets hold each training example. Our choice (docs/engine.md): every point is in exactly
/// m = round(f*T) subsets, clamped to 1..T-1 so every point has models that saw it and models that did not. The
/// realized fraction m/T can differ from f (f = 0.7, T = 8: m = 6, 0.75), so the run records both.
int subsets_per_example(const host::MemorizationSpec& spec);

/// Trains the T models (two stacks on two chains when `chains` > 1, else one at a time or two stacks on this
/// thread; the same bits either way) and stores the scores and blobs in one transaction. Does nothing when the
/// pipeline has no [memorization] or the store has the scores (resume). Throws Error(pipeline) for T < 2, and
/// what training or the store throws.
void memorize(const host::Pipeline& pipeline, const DataSplits& data, const ModelSource& source,
              const TrainingPlans& training, int chains, store::Store& store, Progress& progress);

}  // namespace compaudit::engine
