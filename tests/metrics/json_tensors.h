// json_tensors.h — LibTorch tensors from the JSON arrays of the metric fixtures (tests only).
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace compaudit::test {

/// An int64 tensor of shape [n] or [k, n] from a JSON array (of arrays) of integers.
inline at::Tensor int64_tensor(const nlohmann::json& j) {
  std::vector<std::int64_t> flat;
  std::vector<std::int64_t> shape;
  if (j.front().is_array()) {
    shape = {static_cast<std::int64_t>(j.size()), static_cast<std::int64_t>(j.front().size())};
    for (const auto& row : j)
      for (const auto& v : row) flat.push_back(v.get<std::int64_t>());
  } else {
    shape = {static_cast<std::int64_t>(j.size())};
    for (const auto& v : j) flat.push_back(v.get<std::int64_t>());
  }
  return at::tensor(flat, at::kLong).view(shape);
}

/// A float32 tensor of shape [k, n, c] from a JSON array of arrays of arrays.
inline at::Tensor float_tensor_3d(const nlohmann::json& j) {
  std::vector<float> flat;
  for (const auto& a : j)
    for (const auto& b : a)
      for (const auto& v : b) flat.push_back(v.get<float>());
  return at::tensor(flat, at::kFloat)
      .view({static_cast<std::int64_t>(j.size()), static_cast<std::int64_t>(j[0].size()), -1});
}

}  // namespace compaudit::test
