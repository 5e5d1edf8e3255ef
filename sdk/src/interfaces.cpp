// Key functions of the LibTorch-facing interfaces, so their vtables and type_info have one home: this library,
// which the host engine and every plugin link.
#include <compaudit/augmentation.h>
#include <compaudit/compressor.h>
#include <compaudit/metric.h>
#include <compaudit/model.h>

#include <ATen/ATen.h>

COMPAUDIT_NAMESPACE_BEGIN

Model::~Model() = default;
// Models that predate ABI 1.1 (or cannot apply projections) keep nothing: the caller learns the compression will
// not survive training.
bool Model::set_projection(const std::string&, ParameterProjection, ProjectionTime) { return false; }
CompressionContext::~CompressionContext() = default;
Compressor::~Compressor() noexcept(false) = default;
Metric::~Metric() noexcept(false) = default;
Augmentation::~Augmentation() noexcept(false) = default;

ModelSize measure(Model& model) {
  ModelSize size;
  for (const auto& [name, tensor] : model.named_parameters()) {
    const std::int64_t n = tensor.numel();
    const std::int64_t nz = tensor.count_nonzero().item<std::int64_t>();
    const std::int64_t bits = model.storage_bits(name);
    size.parameters += n;
    size.nonzeros += nz;
    size.bytes += (n * bits + 7) / 8;
    size.sparse_bytes += (nz * bits + 7) / 8;
  }
  return size;
}

COMPAUDIT_NAMESPACE_END
