// draws.h — the random draws of the resampling tests (PIE null and interval, trend test), bit-reproducible across
// platforms and easy to repeat in NumPy: std::mt19937 seeded with a 32-bit seed gives the same stream as
// numpy.random.RandomState(seed).randint(0, 2**32, dtype=numpy.uint32); the standard library's distributions are not
// specified bit for bit, so the two below are written out.
#pragma once

#include <cstdint>
#include <random>

namespace compaudit::stats {

/// A fair coin from the top bit of one 32-bit draw.
inline bool coin(std::mt19937& rng) { return (rng() >> 31) != 0; }

/// Uniform integer in [0, n), n >= 1, by rejection: draws x until x < 2^32 - (2^32 mod n), then returns x mod n.
inline std::uint32_t uniform_index(std::mt19937& rng, std::uint32_t n) {
  const std::uint64_t range = std::uint64_t{1} << 32;
  const std::uint64_t limit = range - range % n;
  std::uint64_t x;
  do x = rng();
  while (x >= limit);
  return static_cast<std::uint32_t>(x % n);
}

}  // namespace compaudit::stats
