// bench/compress_global_magnitude — compaudit's global magnitude pruning (org.compaudit.prune.magnitude, loaded
// from its plugin library) over ResNet-50's bottleneck and classifier weights (~23M), against PyTorch's
// global_unstructured (timed by compress_global_magnitude.py on the same weights and thread count) and against one
// read pass over the same weights (an L1 norm: the memory-bandwidth floor).
//
//   compress_global_magnitude WEIGHTS.pt THREADS REPEATS PYTORCH_SECONDS
// Run bench/compress_global_magnitude.sh, which runs both sides.
#include "tensor_model.h"  // tests/compressors: a Model over given tensors

#include <compaudit/compressor.h>
#include <compaudit/plugin.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/serialize.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s WEIGHTS.pt THREADS REPEATS PYTORCH_SECONDS\n", argv[0]);
    return 2;
  }
  const int threads = std::stoi(argv[2]), repeats = std::stoi(argv[3]);
  const double pytorch = std::stod(argv[4]);
  at::set_num_threads(threads);

  std::ifstream in(argv[1], std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto dict = torch::pickle_load(bytes).toGenericDict();
  std::vector<std::pair<std::string, at::Tensor>> weights;
  std::int64_t n = 0;
  for (const auto& entry : dict) {
    weights.emplace_back(entry.key().toStringRef(), entry.value().toTensor().contiguous());
    n += weights.back().second.numel();
  }

  void* lib = dlopen(COMPAUDIT_PLUGIN_DIR "/libprune_magnitude.so", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  auto entry = reinterpret_cast<compaudit_plugin_entry_fn*>(dlsym(lib, COMPAUDIT_PLUGIN_ENTRY_NAME));
  const compaudit::PluginDescriptor* d = entry();
  compaudit::Params params;
  params.set("sparsity", 0.9);
  params.set("scope", std::string("global"));
  params.set("layers", std::vector<std::string>{"*"});
  params.set("exclude", std::vector<std::string>{});
  params.set("layer_types", std::vector<std::string>{"linear", "conv2d"});
  auto* pruner = dynamic_cast<compaudit::Compressor*>(d->create(params));

  struct NoContext final : compaudit::CompressionContext {
    std::int64_t seed() const override { return 0; }
    int num_classes() const override { return 1000; }
    double train(const compaudit::TrainRequest&) override { return 0; }
    compaudit::Evaluation evaluate(const std::string&) override { return {}; }
    std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t) override { return {}; }
    at::Tensor calibration_batch(std::int64_t) override { return {}; }
    void log(const std::string&) override {}
  } context;

  double best_plugin = 1e30, best_read = 1e30;
  double checksum = 0;
  std::int64_t pruned = 0;
  for (int r = 0; r < repeats; ++r) {
    std::vector<std::pair<std::string, at::Tensor>> copy;  // the plugin zeroes weights in place: fresh copies
    for (const auto& [name, w] : weights) copy.emplace_back(name, w.clone());
    compaudit::testing::TensorModel model(copy);
    auto start = std::chrono::steady_clock::now();
    const auto record = pruner->compress(model, context);
    best_plugin = std::min(best_plugin, seconds_since(start));
    pruned = record.details["pruned"].get<std::int64_t>();

    start = std::chrono::steady_clock::now();
    double sum = 0;
    for (const auto& [name, w] : weights) sum += at::linalg_vector_norm(w, 1).item<double>();
    best_read = std::min(best_read, seconds_since(start));
    checksum += sum;
  }
  d->destroy(pruner);
  if (pruned != static_cast<std::int64_t>(std::nearbyint(0.9 * static_cast<double>(n)))) {
    std::fprintf(stderr, "wrong count: %lld of %lld\n", static_cast<long long>(pruned), static_cast<long long>(n));
    return 1;
  }
  std::printf("global magnitude pruning to 90%% of %lld weights in %zu tensors, %d thread(s), best of %d\n",
              static_cast<long long>(n), weights.size(), threads, repeats);
  std::printf("  pytorch global_unstructured  %9.2f ms\n", pytorch * 1e3);
  std::printf("  compaudit prune.magnitude    %9.2f ms\n", best_plugin * 1e3);
  std::printf("  one read pass (L1 norm)      %9.2f ms   (checksum %.3g)\n", best_read * 1e3, checksum);
  std::printf("  speed-up over pytorch        %9.1fx   (target >= 20x)\n", pytorch / best_plugin);
  std::printf("  cost over one read pass      %9.2fx   (target <= 5x)\n", best_plugin / best_read);
  return 0;
}
