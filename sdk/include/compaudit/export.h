// compaudit/export.h — symbol visibility. Everything is hidden by default (-fvisibility=hidden); the SDK library
// exports its API with COMPAUDIT_SDK_API and a plugin exports exactly one symbol, its entry point (see plugin.h).
#pragma once

#define COMPAUDIT_EXPORT __attribute__((visibility("default")))

#if defined(COMPAUDIT_BUILDING_SDK)
#define COMPAUDIT_SDK_API COMPAUDIT_EXPORT
#else
#define COMPAUDIT_SDK_API COMPAUDIT_EXPORT
#endif
