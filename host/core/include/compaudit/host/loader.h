// compaudit/host/loader.h — opening plugin libraries and creating plugin objects.
//
// Loading one library, in order (each step has its own LoadFault and an Error naming the library, the manifest
// and, where there are two sides, both of them):
//   1. sha256 pin of the manifest checked against the file — before the file is opened by the dynamic linker;
//   2. dlopen with RTLD_NOW | RTLD_LOCAL, so an unresolved symbol fails here, with dlerror's text;
//   3. the entry point `compaudit_plugin_entry` looked up and called; its descriptor checked — ABI major, ABI minor
//      not newer than the host's, descriptor size, LibTorch version (equal to host_torch_version(); "" — a plugin
//      compiled without LibTorch headers — is accepted, it cannot disagree), _GLIBCXX_USE_CXX11_ABI, id and kind
//      equal to the manifest's — before any other call into the library.
// Libraries are cached by canonical path (a symlink or a relative path reaches the same library once). Every object
// a plugin creates holds a reference to its library, so the library stays loaded as long as any object lives, even
// after the Loader is gone. Nothing is ever unloaded while an object lives.
//
// Threading: a Loader may be used from several threads; plugin objects follow their interface's rules.
#pragma once

#include <compaudit/error.h>
#include <compaudit/export.h>
#include <compaudit/host/manifest.h>
#include <compaudit/plugin.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace compaudit::host {

/// Which load check failed. The ErrorCode of the LoadError says the category; this says the exact check.
enum class LoadFault : int {
  sha256_mismatch,   ///< ErrorCode::library
  not_loadable,      ///< ErrorCode::library — dlopen failed (missing, not an ELF, truncated, unresolved symbol)
  no_entry_point,    ///< ErrorCode::symbol — a shared library that is not a compaudit plugin
  bad_descriptor,    ///< ErrorCode::symbol — the entry point returned null or a too-small descriptor
  abi_major,         ///< ErrorCode::version
  abi_minor,         ///< ErrorCode::version — built against a newer SDK minor than the host's
  torch_version,     ///< ErrorCode::version
  cxx_abi,           ///< ErrorCode::version — _GLIBCXX_USE_CXX11_ABI differs
  id_mismatch,       ///< ErrorCode::identity
  kind_mismatch,     ///< ErrorCode::identity
  wrong_interface,   ///< ErrorCode::identity — instantiate_as<T>: the object is not a T
};
COMPAUDIT_EXPORT const char* to_string(LoadFault fault) noexcept;

class COMPAUDIT_EXPORT LoadError : public Error {
 public:
  LoadError(LoadFault fault, ErrorCode code, std::string message, SourceLocation where = {});
  LoadFault fault() const noexcept { return fault_; }

 private:
  LoadFault fault_;
};

/// What a library's descriptor says about itself (for `plugins inspect --load`).
struct LibraryInfo {
  std::string path;  ///< canonical
  unsigned abi_version = 0, abi_minor = 0;
  std::string id, kind, plugin_version, torch_version, compiler;
  int cxx11_abi = 0;
};

/// The host's side of the checks.
COMPAUDIT_EXPORT const char* host_torch_version() noexcept;  ///< COMPAUDIT_TORCH_VERSION, e.g. "1.13.0"
COMPAUDIT_EXPORT int host_cxx11_abi() noexcept;

class COMPAUDIT_EXPORT Loader {
 public:
  Loader();
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Opens (or finds in the cache) and checks the manifest's library. Throws LoadError.
  LibraryInfo open(const Manifest& manifest);

  /// Creates an instance with complete, checked parameters (see Params::resolve). The object pins its library;
  /// destroying it calls the descriptor's destroy() and reports (never propagates) an exception from it.
  /// Throws LoadError, or Error(runtime) when the plugin's constructor throws.
  std::shared_ptr<Plugin> instantiate(const Manifest& manifest, const Params& params);

  /// instantiate(), then checks the object implements T (Compressor, Metric, Augmentation). Throws
  /// LoadError(wrong_interface) otherwise.
  template <class T>
  std::shared_ptr<T> instantiate_as(const Manifest& manifest, const Params& params) {
    std::shared_ptr<Plugin> plugin = instantiate(manifest, params);
    if (auto typed = std::dynamic_pointer_cast<T>(plugin)) return typed;
    throw_wrong_interface(manifest);
  }

  /// Libraries opened by this Loader and still cached.
  std::size_t library_count() const;

  /// Receives errors from plugin destructors (default: printed to stderr). Process-wide.
  static void set_destroy_error_handler(std::function<void(const Error&)> handler);

 private:
  struct Library;
  std::shared_ptr<Library> load(const Manifest& manifest);
  [[noreturn]] static void throw_wrong_interface(const Manifest& manifest);

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Library>> cache_;  // canonical path -> library
};

namespace detail {
COMPAUDIT_EXPORT Error plugin_failure(const std::string& plugin_id, const char* what, const char* message);
}

/// Runs f() and turns any exception into Error(runtime) "plugin <id> failed in <what>: <message>". Use it around
/// every call into plugin code, so a throwing plugin fails its own cell and nothing else.
template <class F>
auto guarded(const std::string& plugin_id, const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw detail::plugin_failure(plugin_id, what, e.what());
  } catch (...) {
    throw detail::plugin_failure(plugin_id, what, "an exception that is not a std::exception");
  }
}

}  // namespace compaudit::host
