// host/engine/data/load.h — from a pipeline's [data] table to normalised train / validation / test splits.
#pragma once

#include "data/dataset.h"

#include <compaudit/host/pipeline.h>

#include <string>

namespace compaudit::engine {

/// Reads the files named by `spec` (relative paths resolved against `base_dir`, the pipeline's directory) and
/// builds the splits, in this order — each step stratified and seeded by spec.split_seed:
///   1. test: the test file(s), or a `test_fraction` carved from the training file;
///   2. long tail: class c of the training data keeps n_max * IF^(c/(C-1)) examples (IF = spec.imbalance);
///   3. train_limit / test_limit: proportional subsets (class profile kept);
///   4. validation: `validation_fraction` carved from what remains of the training data;
///   5. normalisation fitted on the final training split, applied to all three.
/// Throws Error(data) naming the file for anything wrong with the data.
DataSplits load_data(const host::DataSpec& spec, const std::string& base_dir);

/// load_data() for a DataSpec with test_only set (npy / npz / images with only test data): the test split only —
/// train and validation empty, normalize "none" (anything else is Error(pipeline)), classes from class_names, the
/// image folders, num_classes or 0..max test label. test_limit applies. (data/load_test_only.cpp)
DataSplits load_test_only(const host::DataSpec& spec, const std::string& base_dir);

/// `path` made absolute against `base_dir` (unchanged when already absolute or empty).
std::string resolve_path(const std::string& path, const std::string& base_dir);

}  // namespace compaudit::engine
