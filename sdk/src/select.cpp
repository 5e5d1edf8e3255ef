// Exact k-smallest selection (compaudit/select.h), moved from the built-in compressors' support library so third
// parties get the same code. Compiled at -O3 (sdk/CMakeLists.txt): the kernels are written to vectorize, and GCC 12
// does that at -O3, not at -O2's "very cheap" cost model (about 2x on bench/compress_global_magnitude).
#include <compaudit/error.h>
#include <compaudit/select.h>

#include <ATen/ATen.h>

#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

COMPAUDIT_NAMESPACE_BEGIN

std::int64_t count_for(double fraction, std::int64_t n) {
  return static_cast<std::int64_t>(std::nearbyint(fraction * static_cast<double>(n)));  // default mode: to even
}

std::int64_t zeros_of(const at::Tensor& t) { return t.numel() - t.count_nonzero().item<std::int64_t>(); }

namespace {
// An order-preserving map of a score to uint32; 0 is reserved for already-pruned entries (they rank first).
struct Source {
  const float* values;
  const bool* pruned;  // may be null
  std::int64_t n;
  bool absolute;
};

template <bool Absolute, bool Pruned>
inline std::uint32_t key_at(const float* v, const bool* pruned, std::int64_t i) {
  std::uint32_t u;
  std::memcpy(&u, v + i, sizeof u);
  std::uint32_t k;
  if (Absolute) {
    k = (u & 0x7FFFFFFFu) + 1u;  // |x| is x without its sign bit; +1 keeps 0 free
  } else {
    if (u == 0x80000000u) u = 0;  // -0.0 ranks as +0.0
    k = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // flip so the unsigned order is the numeric order
  }
  if (Pruned) k = pruned[i] ? 0u : k;
  return k;
}

std::uint32_t key_of(const Source& s, std::int64_t i) {
  if (s.absolute) return s.pruned ? key_at<true, true>(s.values, s.pruned, i) : key_at<true, false>(s.values, s.pruned, i);
  return s.pruned ? key_at<false, true>(s.values, s.pruned, i) : key_at<false, false>(s.values, s.pruned, i);
}

// The hot loops are templates over the key's kind, with everything in locals, so the compiler vectorizes them.
constexpr std::int64_t kChunk = 16;

// Counts keys below `lo` and appends keys in [lo, hi] to cand (from position c). Chunks of 16 are tested with
// vector code; only chunks holding a candidate take the scalar, branch-free append.
template <bool Absolute, bool Pruned>
void bracket_kernel(const Source& s, std::uint32_t lo, std::uint32_t hi, std::int64_t& below,
                    std::vector<std::uint32_t>& cand, std::int64_t& c) {
  const float* v = s.values;
  const bool* pr = s.pruned;
  const std::int64_t n = s.n;
  const std::uint32_t width = hi - lo;
  std::int64_t blow = 0;
  std::int64_t i = 0;
  for (; i + kChunk <= n; i += kChunk) {
    if (static_cast<std::int64_t>(cand.size()) < c + kChunk) cand.resize(static_cast<std::size_t>(2 * (c + kChunk)));
    std::uint32_t keys[kChunk];
    std::uint32_t any = 0;
    for (std::int64_t j = 0; j < kChunk; ++j) {
      keys[j] = key_at<Absolute, Pruned>(v, pr, i + j);
      blow += keys[j] < lo;
      any |= static_cast<std::uint32_t>(keys[j] - lo <= width);
    }
    if (!any) continue;
    std::uint32_t* out = cand.data();
    for (std::int64_t j = 0; j < kChunk; ++j) {
      out[c] = keys[j];
      c += keys[j] - lo <= width;
    }
  }
  for (; i < n; ++i) {
    if (static_cast<std::int64_t>(cand.size()) < c + 1) cand.resize(static_cast<std::size_t>(2 * (c + 1)));
    const std::uint32_t k = key_at<Absolute, Pruned>(v, pr, i);
    blow += k < lo;
    cand[static_cast<std::size_t>(c)] = k;
    c += k - lo <= width;
  }
  below += blow;
}

// Writes keep = key > t, and prunes the first `ties` entries whose key equals t. Returns the number pruned.
template <bool Absolute, bool Pruned>
std::int64_t mask_kernel(const Source& s, bool* keep, std::uint32_t t, std::int64_t& ties) {
  const float* v = s.values;
  const bool* pr = s.pruned;
  const std::int64_t n = s.n;
  std::int64_t kept = 0;
  for (std::int64_t b = 0; b < n; b += 4096) {
    const std::int64_t e = std::min(n, b + 4096);
    std::int64_t equal = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const std::uint32_t k = key_at<Absolute, Pruned>(v, pr, i);
      keep[i] = k > t;
      kept += k > t;
      equal += k == t;
    }
    if (equal == 0) continue;
    for (std::int64_t i = b; i < e; ++i) {
      if (key_at<Absolute, Pruned>(v, pr, i) != t) continue;
      const bool stays = ties-- <= 0;
      keep[i] = stays;
      kept += stays;
    }
  }
  return n - kept;
}

// A byte buffer for large scratch and mask memory whose 2 MiB-aligned interior is advised to use transparent huge
// pages. Fresh memory is paid for at its first touch, one page fault per page; on the reference VM a 4 KiB fault
// costs about 30 us, so 23 MiB of masks took 200 ms to fault in (ten read passes of the weights they mask), while
// 2 MiB pages take 15 ms.
at::Tensor huge_page_bytes(std::int64_t bytes) {
  constexpr std::int64_t kHuge = 2 << 20;
  if (bytes < 2 * kHuge) return at::empty({bytes}, at::kByte);
  at::Tensor buffer = at::empty({bytes + kHuge}, at::kByte);
  const auto address = reinterpret_cast<std::uintptr_t>(buffer.data_ptr());
  const auto skip = static_cast<std::int64_t>((kHuge - address % kHuge) % kHuge);
#ifdef MADV_HUGEPAGE
  ::madvise(reinterpret_cast<void*>(address + skip), static_cast<std::size_t>(bytes / kHuge * kHuge), MADV_HUGEPAGE);
#endif
  return buffer.narrow(0, skip, bytes);
}

// The entries the fused pass collects from inside the bracket: key and mask address, in position order. Sized
// from the sample's estimate up front in one huge-page buffer (growing a std::vector faults in fresh pages
// again at every doubling); grows if the estimate falls short.
struct Candidates {
  at::Tensor memory;
  bool** where = nullptr;
  std::uint32_t* keys = nullptr;
  std::int64_t size = 0, capacity = 0;

  void reserve(std::int64_t need) {
    if (need <= capacity) return;
    const std::int64_t cap = std::max(need, 2 * capacity);
    at::Tensor bigger = huge_page_bytes(cap * static_cast<std::int64_t>(sizeof(bool*) + sizeof(std::uint32_t)));
    auto* w = reinterpret_cast<bool**>(bigger.data_ptr());
    auto* k = reinterpret_cast<std::uint32_t*>(w + cap);
    if (size > 0) {
      std::memcpy(w, where, static_cast<std::size_t>(size) * sizeof(bool*));
      std::memcpy(k, keys, static_cast<std::size_t>(size) * sizeof(std::uint32_t));
    }
    memory = std::move(bigger), where = w, keys = k, capacity = cap;
  }
};

#ifdef __SSE2__
// key_at for entries i .. i+3 in one SSE2 register.
template <bool Absolute, bool Pruned>
inline __m128i keys4(const float* v, const bool* pruned, std::int64_t i) {
  __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i));
  __m128i k;
  if (Absolute) {
    k = _mm_add_epi32(_mm_and_si128(u, _mm_set1_epi32(0x7FFFFFFF)), _mm_set1_epi32(1));
  } else {
    u = _mm_andnot_si128(_mm_cmpeq_epi32(u, _mm_set1_epi32(INT32_MIN)), u);  // -0.0 ranks as +0.0
    k = _mm_xor_si128(u, _mm_or_si128(_mm_srai_epi32(u, 31), _mm_set1_epi32(INT32_MIN)));
  }
  if (Pruned) {
    std::int32_t four;
    std::memcpy(&four, pruned + i, sizeof four);
    const __m128i zero = _mm_setzero_si128();
    const __m128i p = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(four), zero), zero);
    k = _mm_and_si128(k, _mm_cmpeq_epi32(p, zero));  // already pruned: key 0
  }
  return k;
}
#endif

// The usual single pass: keep = key > hi for every entry, count keys below lo, and collect the keys inside
// [lo, hi] with the address of their mask entry, to be decided once the k-th key is known.
template <bool Absolute, bool Pruned>
std::int64_t fused_kernel(const Source& s, bool* keep, std::uint32_t lo, std::uint32_t hi, std::int64_t& below,
                          Candidates& cand) {
  const float* v = s.values;
  const bool* pr = s.pruned;
  const std::int64_t n = s.n;
  const std::uint32_t width = hi - lo;
  std::int64_t blow = 0, above = 0, c = cand.size;
  std::int64_t i = 0;
#ifdef __SSE2__
  // 16 entries at a time in four registers (GCC leaves the scalar loop below unvectorized: 2.5x slower). SSE2
  // compares signed integers only, so keys are compared with their top bit flipped.
  const __m128i flip = _mm_set1_epi32(INT32_MIN);
  const auto flipped = [](std::uint32_t x) { return _mm_set1_epi32(static_cast<std::int32_t>(x ^ 0x80000000u)); };
  const __m128i hi_f = flipped(hi), lo_f = flipped(lo), width_f = flipped(width), lo_v = _mm_set1_epi32(static_cast<std::int32_t>(lo));
  __m128i above_v = _mm_setzero_si128(), below_v = _mm_setzero_si128();  // per-lane counts (true is -1: subtract)
  for (; i + kChunk <= n; i += kChunk) {
    __m128i k[4], kept[4], outside[4];
    for (int q = 0; q < 4; ++q) {
      k[q] = keys4<Absolute, Pruned>(v, pr, i + 4 * q);
      const __m128i kf = _mm_xor_si128(k[q], flip);
      kept[q] = _mm_cmpgt_epi32(kf, hi_f);
      outside[q] = _mm_cmpgt_epi32(_mm_xor_si128(_mm_sub_epi32(k[q], lo_v), flip), width_f);
      above_v = _mm_sub_epi32(above_v, kept[q]);
      below_v = _mm_sub_epi32(below_v, _mm_cmplt_epi32(kf, lo_f));
    }
    const __m128i kept_bytes = _mm_packs_epi16(_mm_packs_epi32(kept[0], kept[1]), _mm_packs_epi32(kept[2], kept[3]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(keep + i), _mm_and_si128(kept_bytes, _mm_set1_epi8(1)));
    const int out_bits = _mm_movemask_epi8(
        _mm_packs_epi16(_mm_packs_epi32(outside[0], outside[1]), _mm_packs_epi32(outside[2], outside[3])));
    if (out_bits == 0xFFFF) continue;
    cand.size = c;  // rare (about one chunk in seven): append the bracket's entries in position order
    cand.reserve(c + kChunk);
    std::uint32_t keys[kChunk];
    std::memcpy(keys, k, sizeof keys);
    for (std::int64_t j = 0; j < kChunk; ++j) {
      cand.keys[c] = keys[j];
      cand.where[c] = keep + i + j;
      c += ((out_bits >> j) & 1) == 0;
    }
  }
  std::int32_t lanes_above[4], lanes_below[4];
  std::memcpy(lanes_above, &above_v, sizeof lanes_above);
  std::memcpy(lanes_below, &below_v, sizeof lanes_below);
  for (int q = 0; q < 4; ++q) above += lanes_above[q], blow += lanes_below[q];
#endif
  for (; i + kChunk <= n; i += kChunk) {
    std::uint32_t keys[kChunk];
    std::uint32_t any = 0;
    for (std::int64_t j = 0; j < kChunk; ++j) {
      keys[j] = key_at<Absolute, Pruned>(v, pr, i + j);
      keep[i + j] = keys[j] > hi;
      above += keys[j] > hi;
      blow += keys[j] < lo;
      any |= static_cast<std::uint32_t>(keys[j] - lo <= width);
    }
    if (!any) continue;
    cand.size = c;
    cand.reserve(c + kChunk);
    for (std::int64_t j = 0; j < kChunk; ++j) {
      cand.keys[c] = keys[j];
      cand.where[c] = keep + i + j;
      c += keys[j] - lo <= width;
    }
  }
  for (; i < n; ++i) {
    cand.size = c;
    cand.reserve(c + 1);
    const std::uint32_t k = key_at<Absolute, Pruned>(v, pr, i);
    keep[i] = k > hi;
    above += k > hi;
    blow += k < lo;
    cand.keys[c] = k;
    cand.where[c] = keep + i;
    c += k - lo <= width;
  }
  cand.size = c;
  below += blow;
  return above;
}

template <class F>
auto dispatch(const Source& s, F&& f) {
  if (s.absolute) return s.pruned ? f(std::true_type{}, std::true_type{}) : f(std::true_type{}, std::false_type{});
  return s.pruned ? f(std::false_type{}, std::true_type{}) : f(std::false_type{}, std::false_type{});
}

// Counts keys below `lo` and collects the keys in [lo, hi] over all sources.
void bracket_pass(const std::vector<Source>& sources, std::uint32_t lo, std::uint32_t hi, std::int64_t& below,
                  std::vector<std::uint32_t>& cand) {
  std::int64_t c = 0;
  below = 0;
  for (const Source& s : sources)
    dispatch(s, [&](auto a, auto p) { bracket_kernel<decltype(a)::value, decltype(p)::value>(s, lo, hi, below, cand, c); });
  cand.resize(static_cast<std::size_t>(c));
}
}  // namespace

std::vector<at::Tensor> keep_masks(const std::vector<ScoreSource>& inputs, std::int64_t k,
                                   std::vector<std::int64_t>* pruned_counts) {
  if (pruned_counts) pruned_counts->clear();
  std::vector<at::Tensor> values, pruned, masks;
  std::vector<Source> sources;
  std::int64_t n = 0;
  for (const auto& in : inputs) {
    values.push_back(in.values.detach().to(at::kFloat).contiguous());
    pruned.push_back(in.pruned.defined() ? in.pruned.detach().eq(0).contiguous() : at::Tensor());
    sources.push_back({values.back().data_ptr<float>(), pruned.back().defined() ? pruned.back().data_ptr<bool>() : nullptr,
                       values.back().numel(), in.absolute});
    n += values.back().numel();
  }
  // The masks are views of one buffer: one allocation, faulted in as huge pages (see huge_page_bytes).
  const at::Tensor mask_memory = huge_page_bytes(n).view(at::kBool);
  for (std::int64_t s = 0, offset = 0; s < static_cast<std::int64_t>(inputs.size()); offset += sources[s].n, ++s)
    masks.push_back(mask_memory.narrow(0, offset, sources[s].n).view(inputs[s].values.sizes()));
  k = std::clamp<std::int64_t>(k, 0, n);
  if (k == 0 || k == n) {
    for (auto& m : masks) {
      m.fill_(k == 0);
      if (pruned_counts) pruned_counts->push_back(k == 0 ? 0 : m.numel());
    }
    return masks;
  }

  // 1. Bracket the k-th smallest key with a deterministic sample, wide enough (4 sigma of the sample quantile plus
  //    slack) that one counting pass nearly always holds it. The sample is runs of 64 consecutive entries at evenly
  //    spaced positions: a run costs a few cache lines, where 64 scattered entries would cost 64 misses.
  constexpr std::int64_t kSample = 65536, kRun = 64;
  std::vector<std::uint32_t> sample;
  sample.reserve(static_cast<std::size_t>(std::min(n, kSample)));
  const std::int64_t runs = n <= kSample ? 1 : kSample / kRun, run = n <= kSample ? n : kRun;
  std::size_t src = 0;
  std::int64_t base = 0;  // global position of sources[src]'s first entry
  for (std::int64_t r = 0; r < runs; ++r) {
    std::int64_t pos = runs > 1 ? r * (n - run) / (runs - 1) : 0;
    for (std::int64_t j = 0; j < run; ++j, ++pos) {
      while (pos >= base + sources[src].n) base += sources[src++].n;
      sample.push_back(key_of(sources[src], pos - base));
    }
  }
  const auto m = static_cast<std::int64_t>(sample.size());
  const double p = static_cast<double>(k) / static_cast<double>(n);
  const auto rank = static_cast<std::int64_t>(p * static_cast<double>(m - 1));
  const auto delta = static_cast<std::int64_t>(4.0 * std::sqrt(static_cast<double>(m) * p * (1 - p))) + 32;
  auto sample_at = [&](std::int64_t r) {
    std::nth_element(sample.begin(), sample.begin() + r, sample.end());
    return sample[static_cast<std::size_t>(r)];
  };
  const std::uint32_t lo = rank - delta <= 0 ? 0u : sample_at(rank - delta);
  const std::uint32_t hi = rank + delta >= m - 1 ? std::numeric_limits<std::uint32_t>::max() : sample_at(rank + delta);

  // 2. One pass over the data: everything above the bracket is kept, everything below it pruned, and the few
  //    entries inside it are collected (key and mask address, in position order).
  std::int64_t below = 0;
  Candidates cand;
  const std::int64_t bracket_ranks = std::min(m, rank + delta + 1) - std::max<std::int64_t>(0, rank - delta);
  const double expected = static_cast<double>(n) * static_cast<double>(bracket_ranks) / static_cast<double>(m);
  cand.reserve(static_cast<std::int64_t>(1.25 * expected) + 4 * kChunk);
  std::vector<std::int64_t> above(sources.size()), first_cand(sources.size() + 1);
  for (std::size_t s = 0; s < sources.size(); ++s) {
    first_cand[s] = cand.size;
    above[s] = dispatch(sources[s], [&](auto a, auto p) {
      return fused_kernel<decltype(a)::value, decltype(p)::value>(sources[s], masks[s].data_ptr<bool>(), lo, hi, below,
                                                                   cand);
    });
  }
  const std::int64_t c = cand.size;
  first_cand[sources.size()] = c;

  if (below < k && k <= below + c) {
    // 3. The k-th smallest key T among the candidates, and how many entries equal to T must go for an exact count.
    const at::Tensor scratch = huge_page_bytes(c * static_cast<std::int64_t>(sizeof(std::uint32_t)));
    auto* sorted = reinterpret_cast<std::uint32_t*>(scratch.data_ptr());
    std::copy(cand.keys, cand.keys + c, sorted);
    const std::int64_t nth = k - below - 1;
    std::nth_element(sorted, sorted + nth, sorted + c);
    const std::uint32_t t = sorted[nth];
    std::int64_t less = below;
    for (std::int64_t i = 0; i < c; ++i) less += cand.keys[i] < t;
    std::int64_t ties_to_prune = k - less;
    // 4. Decide the candidates: above T stays; of those equal to T, the first ones in position order go.
    for (std::size_t s = 0; s < sources.size(); ++s) {
      std::int64_t kept = above[s];
      for (std::int64_t i = first_cand[s]; i < first_cand[s + 1]; ++i) {
        const std::uint32_t key = cand.keys[i];
        const bool stays = key > t || (key == t && ties_to_prune-- <= 0);
        *cand.where[i] = stays;
        kept += stays;
      }
      if (pruned_counts) pruned_counts->push_back(sources[s].n - kept);
    }
    return masks;
  }

  // Rarely the sample's bracket misses the k-th key: then take the whole range as the bracket (two more passes,
  // same answer).
  std::vector<std::uint32_t> all;
  bracket_pass(sources, 0u, std::numeric_limits<std::uint32_t>::max(), below, all);
  const auto nth = static_cast<std::size_t>(k - below - 1);
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(nth), all.end());
  const std::uint32_t t = all[nth];
  std::int64_t less = below;
  for (std::uint32_t x : all) less += x < t;
  std::int64_t ties_to_prune = k - less;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    const std::int64_t z = dispatch(sources[s], [&](auto a, auto p) {
      return mask_kernel<decltype(a)::value, decltype(p)::value>(sources[s], masks[s].data_ptr<bool>(), t, ties_to_prune);
    });
    if (pruned_counts) pruned_counts->push_back(z);
  }
  return masks;
}

std::int64_t prune_to(Model& model, const std::vector<Layer>& layers, double fraction, bool global,
                      const std::vector<at::Tensor>& scores, std::vector<std::int64_t>* per_layer) {
  if (!scores.empty() && scores.size() != layers.size())
    throw Error(ErrorCode::runtime, "prune_to: " + std::to_string(scores.size()) + " score tensors for " +
                                        std::to_string(layers.size()) + " layers");
  std::vector<ScoreSource> sources;
  std::vector<std::int64_t> already;
  std::int64_t total = 0, total_already = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const at::Tensor existing = model.mask(layers[i].name + ".weight");
    const bool scored = !scores.empty();
    sources.push_back({scored ? scores[i] : layers[i].weight, existing, /*absolute=*/!scored});
    already.push_back(existing.defined() ? zeros_of(existing) : 0);
    total += layers[i].weight.numel();
    total_already += already.back();
  }
  std::vector<at::Tensor> keep;
  std::vector<std::int64_t> counts;
  if (global) {
    keep = keep_masks(sources, std::max(count_for(fraction, total), total_already), &counts);
  } else {
    std::vector<std::int64_t> one;
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const std::int64_t k = std::max(count_for(fraction, sources[i].values.numel()), already[i]);
      keep.push_back(keep_masks({sources[i]}, k, &one).front());
      counts.push_back(one.front());
    }
  }
  std::int64_t pruned = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    model.set_mask(layers[i].name + ".weight", keep[i]);
    pruned += counts[i];
  }
  if (per_layer) *per_layer = std::move(counts);
  return pruned;
}

COMPAUDIT_NAMESPACE_END
