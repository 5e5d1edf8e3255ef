// compaudit/compaudit.h — the stable SDK in one include.
#pragma once

#include <compaudit/augmentation.h>
#include <compaudit/compressor.h>
#include <compaudit/error.h>
#include <compaudit/metric.h>
#include <compaudit/model.h>
#include <compaudit/params.h>
#include <compaudit/plugin.h>
#include <compaudit/version.h>
