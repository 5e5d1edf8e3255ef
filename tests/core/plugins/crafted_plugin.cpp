// A descriptor written by hand, to present the host with what no COMPAUDIT_PLUGIN build would: another SDK ABI, a
// newer minor, another LibTorch, another C++ ABI, or no descriptor at all. create() must never be reached: the host
// refuses the library before any call but the entry point.
#include <compaudit/plugin.h>

#include <cstdlib>

#ifndef CRAFT_ABI
#define CRAFT_ABI COMPAUDIT_SDK_ABI_VERSION
#endif
#ifndef CRAFT_MINOR
#define CRAFT_MINOR COMPAUDIT_SDK_ABI_MINOR
#endif
#ifndef CRAFT_TORCH
#define CRAFT_TORCH ""
#endif
#ifndef CRAFT_CXX11
#define CRAFT_CXX11 _GLIBCXX_USE_CXX11_ABI
#endif

extern "C" COMPAUDIT_EXPORT const compaudit::PluginDescriptor* compaudit_plugin_entry() {
#ifdef CRAFT_NULL
  return nullptr;
#else
  static const compaudit::PluginDescriptor descriptor = {
      CRAFT_ABI, CRAFT_MINOR, sizeof(compaudit::PluginDescriptor), "org.test.compressor.crafted", "compressor",
      "1.0.0", CRAFT_TORCH, __VERSION__, CRAFT_CXX11,
      [](const compaudit::Params&) -> compaudit::Plugin* { std::abort(); },
      [](compaudit::Plugin*) { std::abort(); }, {}};
  return &descriptor;
#endif
}
