// data_support.h — shared by the data-loader targets: the checks every RawData must pass (data_init.cpp, linked into
// each of them, sets up LibTorch).
#pragma once

#include "fuzz_support.h"

#include "data/readers.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

namespace fuzz {

namespace fs = std::filesystem;

/// What any reader returns: N examples, N int64 targets in [0, max_label], inputs of `dims` dimensions.
inline void check_raw(const compaudit::engine::RawData& raw, std::int64_t dims, std::int64_t max_label) {
  require(raw.inputs.defined() && raw.targets.defined(), "inputs and targets are defined");
  require(raw.inputs.dim() == dims, "inputs have the expected rank");
  require(raw.targets.dim() == 1 && raw.targets.scalar_type() == at::kLong, "targets are int64 [N]");
  require(raw.inputs.size(0) == raw.targets.size(0), "one target per example");
  require(raw.targets.size(0) > 0, "at least one example");
  require(raw.targets.min().item<std::int64_t>() >= 0, "labels are non-negative");
  require(raw.targets.max().item<std::int64_t>() <= max_label, "labels are in range");
}

}  // namespace fuzz
