// host/engine/batched/conv_kernels.h — the plain loops around a stacked CNN's matrix products (stacked_cnn.h).
//
// A 3x3 convolution (padding 1, stride 1) on one model's NHWC activations is one product: im2col lays the input out
// as rows (b, y, x) and columns (ky, kx, c), and the layer's weight is stored [out, 9·in] in the same (ky, kx, c)
// order, so z = cols · Wᵀ (slice_gemm: oneDNN). Everything else of a CNN block is here, fused where LibTorch runs
// separate NCHW kernels (its max_pool2d_with_indices, relu and threshold_backward cost as much as the convolutions
// in a profile of one training step, docs/performance.md): bias + ReLU + 2x2 max pool in one pass that records the
// argmax, and its backward in one scatter that also sums the bias gradient.
//
// Every loop runs in a fixed order over one model's data (no threads, no reductions across models), so a model's
// bits depend neither on the other models of its stack nor on the thread count. No LibTorch here.
#pragma once

#include <cstdint>

namespace compaudit::engine::batched {

/// Geometry of one conv block's input: batch b, image h x w, c channels (NHWC, contiguous).
struct ConvShape {
  std::int64_t b = 0, h = 0, w = 0, c = 0;
  std::int64_t rows() const { return b * h * w; }
};

/// cols [b·h·w, 9·c]: row (b, y, x), column (ky, kx, ch) = x[b, y+ky-1, x+kx-1, ch], 0 outside the image.
void im2col3x3(const float* x, const ConvShape& s, float* cols);

/// The adjoint of im2col3x3: dx [b, h, w, c] = Σ over the rows and taps that read each input element (dx is
/// overwritten, taps added in row order, then ky, kx).
void col2im3x3(const float* dcols, const ConvShape& s, float* dx);

/// out[b, y/2, x/2, ch] = max(0, max over the 2x2 window of z[.., ch] + bias[ch]) for z [b, h, w, c] (the block's
/// conv output without bias); floor(h/2) x floor(w/2) windows, as max_pool2d. argmax (same layout as out) = the
/// window position 0..3 (row by row) of the first maximum, LibTorch's choice, when that maximum is > 0; else -1
/// (the ReLU passes no gradient). Branch-free over the channels, so it vectorizes. One difference: a NaN in a window is
/// not propagated as max_pool2d propagates it (a diverged model either way).
void bias_relu_pool(const float* z, const float* bias, const ConvShape& s, float* out, std::int32_t* argmax);

/// Backward of bias_relu_pool for z [b, h, w, c] (`s`): dz = dout at each recorded argmax, 0 elsewhere (dz is
/// overwritten); dbias[ch] = Σ of dout over the windows that pass a gradient, in window order.
void pool_relu_backward(const float* dout, const std::int32_t* argmax, const ConvShape& s, float* dz, float* dbias);

/// dbias[j] = Σ_i d[i, j] over rows i in order, for d [rows, n] (a linear layer's bias gradient).
void column_sums(const float* d, std::int64_t rows, std::int64_t n, float* dbias);

}  // namespace compaudit::engine::batched
