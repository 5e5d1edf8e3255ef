// toy_data.h — the small learnable data set of the training tests (test_training.cpp, test_batched.cpp).
#pragma once

#include "data/dataset.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace engine_test {

/// 300 examples of 16 normal features; the label is the index of the largest of the first four, so it is learnable.
inline compaudit::engine::Dataset toy_data() {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
  compaudit::engine::Dataset d;
  d.inputs = at::randn({300, 16}, gen);
  d.targets = d.inputs.slice(1, 0, 4).argmax(1);
  d.ids = at::arange(300, at::kLong);
  return d;
}

}  // namespace engine_test
