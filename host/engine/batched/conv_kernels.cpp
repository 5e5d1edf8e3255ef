#include "batched/conv_kernels.h"
#include "batched/vector_clones.h"  // one clone per vector width, the same bits

#include <algorithm>
#include <cstring>

namespace compaudit::engine::batched {
namespace {

// The channel count as a compile-time constant for one-channel inputs (the first block of a grey-scale CNN, where a
// run-time loop of one element per tap would cost more than the copy), else at run time.
template <int C>
struct Fixed {
  static constexpr std::int64_t get(std::int64_t) { return C; }
};
struct Runtime {
  static std::int64_t get(std::int64_t c) { return c; }
};

// `keep ? v : +0` as bit operations (GCC does not vectorize the select written with ?: here).
inline float select(bool keep, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits &= 0u - static_cast<std::uint32_t>(keep);
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

template <class Channels>
inline __attribute__((always_inline)) void im2col_impl(const float* x, const ConvShape& s, float* cols) {
  const std::int64_t c = Channels::get(s.c), width = 9 * c;
  for (std::int64_t b = 0; b < s.b; ++b)
    for (std::int64_t y = 0; y < s.h; ++y) {
      float* rows = cols + (b * s.h + y) * s.w * width;  // row (b, y, 0)
      for (std::int64_t ky = 0; ky < 3; ++ky) {
        const std::int64_t sy = y + ky - 1;
        const bool inside = sy >= 0 && sy < s.h;
        const float* line = x + (b * s.h + (inside ? sy : 0)) * s.w * c;
        for (std::int64_t kx = 0; kx < 3; ++kx) {
          float* tap = rows + (ky * 3 + kx) * c;
          // Columns x0 whose tap reads inside the image: [lo, hi); the others (and whole rows outside) read padding.
          const std::int64_t lo = inside ? std::max<std::int64_t>(0, 1 - kx) : s.w;
          const std::int64_t hi = inside ? std::min<std::int64_t>(s.w, s.w + 1 - kx) : s.w;
          for (std::int64_t x0 = 0; x0 < s.w; ++x0) {
            if (x0 >= lo && x0 < hi) continue;
            float* __restrict dst = tap + x0 * width;
            for (std::int64_t ch = 0; ch < c; ++ch) dst[ch] = 0.0f;
          }
          for (std::int64_t x0 = lo; x0 < hi; ++x0) {
            float* __restrict dst = tap + x0 * width;
            const float* __restrict src = line + (x0 + kx - 1) * c;
            for (std::int64_t ch = 0; ch < c; ++ch) dst[ch] = src[ch];
          }
        }
      }
    }
}

}  // namespace

COMPAUDIT_VECTOR_CLONES
void im2col3x3(const float* x, const ConvShape& s, float* cols) {
  if (s.c == 1)
    im2col_impl<Fixed<1>>(x, s, cols);
  else
    im2col_impl<Runtime>(x, s, cols);
}

COMPAUDIT_VECTOR_CLONES
void col2im3x3(const float* dcols, const ConvShape& s, float* dx) {
  const std::int64_t c = s.c, width = 9 * c;
  std::fill(dx, dx + s.rows() * c, 0.0f);
  for (std::int64_t b = 0; b < s.b; ++b)
    for (std::int64_t y = 0; y < s.h; ++y)
      for (std::int64_t x0 = 0; x0 < s.w; ++x0) {
        const float* row = dcols + ((b * s.h + y) * s.w + x0) * width;
        for (std::int64_t ky = 0; ky < 3; ++ky) {
          const std::int64_t sy = y + ky - 1;
          if (sy < 0 || sy >= s.h) continue;
          for (std::int64_t kx = 0; kx < 3; ++kx) {
            const std::int64_t sx = x0 + kx - 1;
            if (sx < 0 || sx >= s.w) continue;
            const float* __restrict src = row + (ky * 3 + kx) * c;
            float* __restrict dst = dx + ((b * s.h + sy) * s.w + sx) * c;
            for (std::int64_t ch = 0; ch < c; ++ch) dst[ch] += src[ch];
          }
        }
      }
}

COMPAUDIT_VECTOR_CLONES
void bias_relu_pool(const float* z, const float* bias, const ConvShape& s, float* out, std::int32_t* argmax) {
  const std::int64_t c = s.c, ho = s.h / 2, wo = s.w / 2;
  for (std::int64_t b = 0; b < s.b; ++b)
    for (std::int64_t oy = 0; oy < ho; ++oy)
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        // The window's four positions in LibTorch's scan order (row by row).
        const float* __restrict z0 = z + ((b * s.h + 2 * oy) * s.w + 2 * ox) * c;
        const float* __restrict z1 = z0 + c;
        const float* __restrict z2 = z0 + s.w * c;
        const float* __restrict z3 = z2 + c;
        const std::int64_t o = ((b * ho + oy) * wo + ox) * c;
        float* __restrict po = out + o;
        std::int32_t* __restrict pa = argmax + o;
        for (std::int64_t ch = 0; ch < c; ++ch) {  // branch-free, so the channels vectorize
          const float bc = bias[ch];
          const float v0 = z0[ch] + bc, v1 = z1[ch] + bc, v2 = z2[ch] + bc, v3 = z3[ch] + bc;
          // Strict >: the first maximum wins, as in max_pool2d.
          float best = v0;
          std::int32_t tap = 0;
          tap = v1 > best ? 1 : tap;
          best = v1 > best ? v1 : best;
          tap = v2 > best ? 2 : tap;
          best = v2 > best ? v2 : best;
          tap = v3 > best ? 3 : tap;
          best = v3 > best ? v3 : best;
          const bool pass = best > 0.0f;
          po[ch] = pass ? best : 0.0f;
          pa[ch] = pass ? tap : -1;
        }
      }
}

COMPAUDIT_VECTOR_CLONES
void pool_relu_backward(const float* dout, const std::int32_t* argmax, const ConvShape& s, float* dz, float* dbias) {
  const std::int64_t c = s.c, ho = s.h / 2, wo = s.w / 2;
  // Rows and columns an odd size leaves outside every window get no gradient; windows cover the rest exactly once.
  if (s.h % 2 != 0 || s.w % 2 != 0) std::fill(dz, dz + s.rows() * c, 0.0f);
  std::fill(dbias, dbias + c, 0.0f);
  for (std::int64_t b = 0; b < s.b; ++b)
    for (std::int64_t oy = 0; oy < ho; ++oy)
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        float* __restrict d0 = dz + ((b * s.h + 2 * oy) * s.w + 2 * ox) * c;
        float* __restrict d1 = d0 + c;
        float* __restrict d2 = d0 + s.w * c;
        float* __restrict d3 = d2 + c;
        const std::int64_t o = ((b * ho + oy) * wo + ox) * c;
        const float* __restrict g = dout + o;
        const std::int32_t* __restrict a = argmax + o;
        float* __restrict db = dbias;
        for (std::int64_t ch = 0; ch < c; ++ch) {  // unconditional loads, selects: the channels vectorize
          const float gv = g[ch];
          const std::int32_t av = a[ch];
          d0[ch] = select(av == 0, gv);
          d1[ch] = select(av == 1, gv);
          d2[ch] = select(av == 2, gv);
          d3[ch] = select(av == 3, gv);
        }
        // Windows in order: a fixed summation order per channel.
        for (std::int64_t ch = 0; ch < c; ++ch) db[ch] += select(a[ch] >= 0, g[ch]);
      }
}

COMPAUDIT_VECTOR_CLONES
void column_sums(const float* d, std::int64_t rows, std::int64_t n, float* dbias) {
  std::fill(dbias, dbias + n, 0.0f);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < n; ++j) dbias[j] += d[i * n + j];
}

}  // namespace compaudit::engine::batched
