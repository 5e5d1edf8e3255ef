#include "batched/slice_gemm.h"

#include <compaudit/error.h>

#include <dnnl.h>
#include <dnnl_debug.h>
#include <fmt/format.h>

namespace compaudit::engine::batched {
namespace {

// A slice's rows must be contiguous: the leading dimension is the row stride.
void check_rows(const at::Tensor& t, const char* what) {
  if (t.dim() != 3 || t.scalar_type() != at::kFloat || t.stride(2) != 1 || t.stride(1) < t.size(2))
    throw Error(ErrorCode::runtime, fmt::format("slice_gemm: {} must be 3-D float32 with contiguous rows", what));
}

}  // namespace

void slice_gemm(at::Tensor& out, const at::Tensor& a, bool trans_a, const at::Tensor& b, bool trans_b, bool accumulate) {
  check_rows(a, "a");
  check_rows(b, "b");
  if (!out.is_contiguous() || out.dim() != 3 || out.scalar_type() != at::kFloat)
    throw Error(ErrorCode::runtime, "slice_gemm: out must be contiguous 3-D float32");
  const std::int64_t slices = out.size(0), m = out.size(1), n = out.size(2);
  const std::int64_t k = trans_a ? a.size(1) : a.size(2);
  if (a.size(0) != slices || b.size(0) != slices || (trans_a ? a.size(2) : a.size(1)) != m ||
      (trans_b ? b.size(1) : b.size(2)) != n || (trans_b ? b.size(2) : b.size(1)) != k)
    throw Error(ErrorCode::runtime, fmt::format("slice_gemm: shapes [{}] and [{}] do not give [{}]",
                                                fmt::join(a.sizes(), ", "), fmt::join(b.sizes(), ", "),
                                                fmt::join(out.sizes(), ", ")));
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = out.data_ptr<float>();
  for (std::int64_t s = 0; s < slices; ++s) {
    const dnnl_status_t status =
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, pa + s * a.stride(0), a.stride(1),
                   pb + s * b.stride(0), b.stride(1), accumulate ? 1.0f : 0.0f, pc + s * out.stride(0), n);
    if (status != dnnl_success)
      throw Error(ErrorCode::runtime, fmt::format("slice_gemm: oneDNN sgemm failed (status {})", static_cast<int>(status)));
  }
}

std::string gemm_description() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("oneDNN {}.{}.{} {}", v->major, v->minor, v->patch, dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
}

}  // namespace compaudit::engine::batched
