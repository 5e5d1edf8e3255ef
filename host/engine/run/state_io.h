// host/engine/run/state_io.h — a model's state() as bytes, for the results store's blobs table.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace compaudit::engine {

/// LibTorch's pickle format (what torch.save writes inside its zip), so a blob is also readable from Python.
std::vector<std::uint8_t> encode_state(const std::map<std::string, at::Tensor>& state);
/// Inverse of encode_state. Throws Error(io) for bytes that are not an encoded state.
std::map<std::string, at::Tensor> decode_state(const std::vector<std::uint8_t>& bytes);

}  // namespace compaudit::engine
