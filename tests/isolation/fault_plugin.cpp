// A compressor that misbehaves on purpose, for the isolation tests (tests/isolation; docs/isolation.md). Test-only:
// built into a test plugin directory, never installed.
//
//   [[arm]]
//   name = "fault"
//     [[arm.step]]
//     plugin = "org.test.compressor.fault"
//     fault = ["segv", "abort", "hang", "oom", "oom_tensor", "throw"]   # a sweep: one arm per fault
//     seed = 1                                                         # only seed 1 misbehaves
//
// fault:  "none" (prunes nothing, a normal plugin), "segv" (writes through a null pointer), "abort" (std::abort),
//         "hang" (sleeps forever), "oom" (operator new until it fails), "oom_tensor" (LibTorch tensors until the
//         allocator fails), "throw" (an ordinary exception: the in-process failure path); "throw_create" and
//         "segv_create" misbehave in the constructor instead, on every seed (`run` creates every plugin before any
//         work: tests/isolation/test_fail_before_work.cpp).
// seed:   the population seed that misbehaves; -1 = every seed. The other seeds behave like "none".
#include <compaudit/compressor.h>
#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace compaudit::test {

class FaultCompressor final : public Compressor {
 public:
  explicit FaultCompressor(const Params& params)
      : fault_(params.get<std::string>("fault")), seed_(params.get<std::int64_t>("seed")) {
    if (fault_ == "throw_create")
      throw Error(ErrorCode::runtime, "the fault plugin throws in its constructor, as asked");
    if (fault_ == "segv_create") {
      volatile int* null = nullptr;
      *null = 42;  // SIGSEGV while being created
    }
  }

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    (void)model;
    const bool act = seed_ < 0 || context.seed() == seed_;
    if (act) misbehave();
    CompressionRecord record;
    record.summary = act ? "fault '" + fault_ + "' did nothing" : "behaved (seed " + std::to_string(context.seed()) + ")";
    return record;
  }

 private:
  void misbehave() {
    if (fault_ == "segv") {
      volatile int* null = nullptr;
      *null = 42;  // SIGSEGV
    } else if (fault_ == "abort") {
      std::abort();
    } else if (fault_ == "hang") {
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    } else if (fault_ == "oom") {
      // Touch every block, so the pages are really used even without a limit on the address space.
      std::vector<std::unique_ptr<char[]>> blocks;
      for (;;) {
        blocks.emplace_back(new char[64 << 20]);
        std::memset(blocks.back().get(), 1, 64 << 20);
      }
    } else if (fault_ == "oom_tensor") {
      std::vector<at::Tensor> tensors;
      for (;;) tensors.push_back(at::ones({64 << 20}, at::kByte));
    } else if (fault_ == "throw") {
      throw Error(ErrorCode::runtime, "the fault plugin throws, as asked");
    }
  }

  std::string fault_;
  std::int64_t seed_;
};

}  // namespace compaudit::test

COMPAUDIT_PLUGIN(compaudit::test::FaultCompressor, "org.test.compressor.fault", compaudit::PluginKind::compressor,
                 "1.0.0")
