// Precompiled header for compaudit plugins: ATen's operators and the SDK, what plugin sources include. Not
// <torch/torch.h>: its autograd, nn and optim headers double the header's size and the built-in plugins' build time
// (all_plugins: 56 s with this header, 114 s with <torch/torch.h>, 115 s with none; bench/plugin_build/README.md).
#pragma once
#include <ATen/ATen.h>
#include <compaudit/compaudit.h>
