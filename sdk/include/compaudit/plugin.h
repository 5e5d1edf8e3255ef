// compaudit/plugin.h — the plugin base class, the descriptor and the one exported entry point.
//
// A plugin library exports exactly one symbol, `compaudit_plugin_entry`, produced by COMPAUDIT_PLUGIN_MANIFEST (or
// the older COMPAUDIT_PLUGIN, which takes id, kind and version by hand). It returns a
// static PluginDescriptor that begins with the SDK ABI version. The host reads the descriptor *before* any other call
// and refuses the library when the ABI major differs, the minor is newer than the host's, the LibTorch version or the
// C++ ABI flag differ, or the id / kind differ from the manifest's.
//
// Example (a complete plugin; see examples/third-party-plugin for the whole project). compaudit_add_plugin(halve
// MANIFEST halve.toml ...) generates halve_manifest.h from the manifest: id, kind, version and a typed Options with
// one member per [[param]], so the code cannot disagree with the manifest (docs/manifests.md):
//
//     #include "halve_manifest.h"
//     class Halve final : public compaudit::Compressor {
//      public:
//       explicit Halve(const compaudit::Params& p) : options_(p) {}
//       compaudit::CompressionRecord compress(compaudit::Model& m, compaudit::CompressionContext&) override {...}
//      private:
//       const halve_manifest::Options options_;
//     };
//     COMPAUDIT_PLUGIN_MANIFEST(Halve, halve_manifest)
#pragma once

#include <compaudit/export.h>
#include <compaudit/params.h>
#include <compaudit/version.h>

#include <cstdint>

COMPAUDIT_NAMESPACE_BEGIN

/// The kinds of plugin. The manifest spells them "compressor", "metric", "augmentation".
enum class PluginKind : int { compressor = 1, metric = 2, augmentation = 3 };

COMPAUDIT_SDK_API const char* to_string(PluginKind kind) noexcept;
COMPAUDIT_SDK_API std::optional<PluginKind> plugin_kind_from_string(const std::string& name) noexcept;

/// Base of every plugin object. Its type_info and vtable live in the SDK library, which host and plugins share, so
/// dynamic_cast between host and plugin works. The destructor may throw (noexcept(false)) so that a plugin that
/// throws while being destroyed is reported by the host instead of terminating the process.
/// Lifetime and threads (SDK 1.1): the host creates instances through the descriptor's create() — possibly more
/// than one per pipeline use (a check before any work, then the instance that works) — uses each for many calls
/// (one per cell, arm or batch, as each interface says) and destroys it with destroy() after its last call. The
/// Params given to the constructor are the host's and valid during the constructor only: copy what you need (a
/// generated Options struct does).
class COMPAUDIT_SDK_API Plugin {
 public:
  virtual ~Plugin() noexcept(false);
  Plugin() = default;
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
};

/// Static description of a plugin library. Layout is frozen for an ABI major: fields are only ever appended (with a
/// minor bump) into the reserved space, and struct_size tells the host how much of it the plugin filled.
struct PluginDescriptor {
  std::uint32_t abi_version;   ///< COMPAUDIT_SDK_ABI_VERSION at the plugin's build. Always first.
  std::uint32_t abi_minor;     ///< COMPAUDIT_SDK_ABI_MINOR at the plugin's build.
  std::uint32_t struct_size;   ///< sizeof(PluginDescriptor) at the plugin's build.
  const char* id;              ///< Reverse-DNS id; must equal the manifest's.
  const char* kind;            ///< to_string(PluginKind); must equal the manifest's.
  const char* plugin_version;  ///< The plugin's own version, informative.
  const char* torch_version;   ///< TORCH_VERSION the plugin was compiled against ("" when built without LibTorch).
  const char* compiler;        ///< __VERSION__ of the compiler that built the plugin.
  int cxx11_abi;               ///< _GLIBCXX_USE_CXX11_ABI at the plugin's build (-1 when not libstdc++).
  /// Creates an instance from complete, checked parameters. Returns an object owned by the caller, who releases it
  /// with destroy(). May throw; the host turns the exception into an error attached to this plugin.
  Plugin* (*create)(const Params& params);
  /// Destroys an object returned by create(). May throw (the host reports it).
  void (*destroy)(Plugin* instance);
  void* reserved[8];           ///< Zero. Room to grow without a major bump.
};

COMPAUDIT_NAMESPACE_END

/// The name of the one symbol every plugin library exports.
#define COMPAUDIT_PLUGIN_ENTRY_NAME "compaudit_plugin_entry"
using compaudit_plugin_entry_fn = const compaudit::PluginDescriptor*();

// TORCH_VERSION, whatever the plugin included first (a generated <target>_manifest.h, a precompiled header of ATen
// alone): <torch/version.h> is on the include path of everything that links LibTorch, and of nothing else.
#if !defined(TORCH_VERSION) && defined(__has_include)
#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif
#endif
#if defined(TORCH_VERSION)
#define COMPAUDIT_DETAIL_TORCH_VERSION TORCH_VERSION
#else
#define COMPAUDIT_DETAIL_TORCH_VERSION ""
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define COMPAUDIT_DETAIL_CXX11_ABI _GLIBCXX_USE_CXX11_ABI
#else
#define COMPAUDIT_DETAIL_CXX11_ABI -1
#endif

/// Defines the entry point of a plugin library. Use it once, at namespace scope, in one source file.
///   CLASS    a class derived from Compressor, Metric or Augmentation, constructible from `const Params&`
///   ID       the reverse-DNS id, identical to the manifest's `id`
///   KIND     a compaudit::PluginKind
///   VERSION  the plugin's version string, e.g. "1.0.0"
/// Include the header of your plugin kind (compressor.h, ...) before this macro; it brings in TORCH_VERSION.
/// Prefer COMPAUDIT_PLUGIN_MANIFEST, which takes ID, KIND and VERSION from the manifest.
#define COMPAUDIT_PLUGIN(CLASS, ID, KIND, VERSION)                                                          \
  extern "C" COMPAUDIT_EXPORT const ::compaudit::PluginDescriptor* compaudit_plugin_entry() {              \
    static const ::compaudit::PluginDescriptor descriptor = {                                              \
        COMPAUDIT_SDK_ABI_VERSION,                                                                         \
        COMPAUDIT_SDK_ABI_MINOR,                                                                           \
        sizeof(::compaudit::PluginDescriptor),                                                             \
        ID,                                                                                                \
        ::compaudit::to_string(KIND),                                                                      \
        VERSION,                                                                                           \
        COMPAUDIT_DETAIL_TORCH_VERSION,                                                                    \
        __VERSION__,                                                                                       \
        COMPAUDIT_DETAIL_CXX11_ABI,                                                                        \
        [](const ::compaudit::Params& p) -> ::compaudit::Plugin* { return new CLASS(p); },                 \
        [](::compaudit::Plugin* instance) { delete instance; },                                            \
        {}};                                                                                               \
    return &descriptor;                                                                                    \
  }

/// COMPAUDIT_PLUGIN with the id, kind and version of the manifest, from the header compaudit_add_plugin generates
/// (<target>_manifest.h, namespace <target>_manifest), so the code cannot disagree with the manifest:
///     #include "my_pruner_manifest.h"
///     COMPAUDIT_PLUGIN_MANIFEST(MyPruner, my_pruner_manifest)
#define COMPAUDIT_PLUGIN_MANIFEST(CLASS, MANIFEST) \
  COMPAUDIT_PLUGIN(CLASS, MANIFEST::id, MANIFEST::kind, MANIFEST::version)
