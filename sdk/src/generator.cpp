// CompressionContext::generator (compaudit/compressor.h): a CPU generator seeded from the cell's seed and a salt by
// the SDK itself, so every host, worker process and the testing.h fake give a plugin the same stream.
#include <compaudit/compressor.h>

#include <ATen/CPUGeneratorImpl.h>

COMPAUDIT_NAMESPACE_BEGIN

namespace {
// splitmix64's finaliser: a bijection on 64 bits that spreads every input bit over the output.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// "compaudit.plugin.generator" folded into 64 bits: keeps these streams apart from the host's own seeds, which
// mix the seed with other labels (engine derive_seed).
constexpr std::uint64_t kDomain = 0x63A5F1D02B7E9C41ULL;
}  // namespace

at::Generator CompressionContext::generator(std::uint64_t salt) const {
  const std::uint64_t seed_bits = mix(static_cast<std::uint64_t>(seed()) ^ kDomain);
  return at::make_generator<at::CPUGeneratorImpl>(mix(seed_bits + 0x9E3779B97F4A7C15ULL * (salt + 1)));
}

COMPAUDIT_NAMESPACE_END
