// Precompiled header for compaudit plugins: the heavy LibTorch and SDK headers, parsed once per plugin target.
#pragma once
#include <torch/torch.h>
#include <compaudit/compaudit.h>
