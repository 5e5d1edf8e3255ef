#include "run/state_io.h"

#include <compaudit/error.h>

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/jit/serialization/pickle.h>

namespace compaudit::engine {

std::vector<std::uint8_t> encode_state(const std::map<std::string, at::Tensor>& state) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : state) dict.insert(name, t.detach().contiguous());
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
  return {bytes.begin(), bytes.end()};
}

std::map<std::string, at::Tensor> decode_state(const std::vector<std::uint8_t>& bytes) {
  try {
    const c10::IValue value = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    std::map<std::string, at::Tensor> out;
    for (const auto& entry : value.toGenericDict()) out[entry.key().toStringRef()] = entry.value().toTensor();
    return out;
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::io, std::string("stored model state cannot be decoded: ") + e.what_without_backtrace());
  }
}

}  // namespace compaudit::engine
