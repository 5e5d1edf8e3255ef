// Precompiled header of the engine: LibTorch and the SDK, parsed once for all engine sources.
#pragma once
#include <ATen/ATen.h>
#include <compaudit/compaudit.h>
#include <fmt/format.h>
