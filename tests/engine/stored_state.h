// stored_state.h — a finished cell's model as the store holds it (parameters, "mask/<param>", "bits/<param>"), for
// engine tests that check what a compressor or a control left in the final model.
#pragma once

#include "run/state_io.h"

#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace engine_test {

using State = std::map<std::string, at::Tensor>;

/// The stored final state of (arm, seed); fails the test when the cell stored none.
inline State final_state(const compaudit::store::Store& s, const std::string& arm, std::int64_t seed) {
  const auto blob = s.blob(arm, seed, "state");
  REQUIRE(blob.has_value());
  return compaudit::engine::decode_state(*blob);
}

}  // namespace engine_test
