// data_init.cpp — libFuzzer's initialisation hook for the data-loader targets (compiled into each of them).
#include <ATen/Parallel.h>

/// LibTorch's thread pool is not needed to read files and would only slow each input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);
  return 0;
}
