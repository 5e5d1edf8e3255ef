// toy_data.h — the small learnable data sets of the training tests (test_training.cpp, test_batched*.cpp,
// test_subset_train.cpp).
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

/// 240 two-channel 6x6 images; the label is the quadrant of channel 0 with the largest sum, so it is learnable. Two
/// channels exercise a CNN stack's NCHW -> NHWC permutation; 6x6 -> 3x3 -> 1x1 the floor of an odd max pool.
inline compaudit::engine::Dataset toy_images() {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  compaudit::engine::Dataset d;
  d.inputs = at::randn({240, 2, 6, 6}, gen);
  const at::Tensor q = d.inputs.select(1, 0).reshape({240, 2, 3, 2, 3}).sum({2, 4}).reshape({240, 4});
  d.targets = q.argmax(1);
  d.ids = at::arange(240, at::kLong);
  return d;
}

}  // namespace engine_test
