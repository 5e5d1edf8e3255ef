// Loading plugin libraries with Boost.DLL, checking their descriptor before any other call, and tying every plugin
// object's lifetime to its library.
#include <compaudit/host/loader.h>

#include <compaudit/host/sha256.h>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <dlfcn.h>
#include <elf.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

extern "C" const char __ehdr_start;  // the ELF header of the object containing this code (GNU ld, gold, lld)

#ifndef COMPAUDIT_TORCH_VERSION
#error "COMPAUDIT_TORCH_VERSION must be defined by the build (the LibTorch version plugins must match)"
#endif

namespace fs = std::filesystem;

namespace compaudit::host {

const char* to_string(LoadFault fault) noexcept {
  switch (fault) {
    case LoadFault::sha256_mismatch: return "sha256_mismatch";
    case LoadFault::not_loadable: return "not_loadable";
    case LoadFault::no_entry_point: return "no_entry_point";
    case LoadFault::bad_descriptor: return "bad_descriptor";
    case LoadFault::abi_major: return "abi_major";
    case LoadFault::abi_minor: return "abi_minor";
    case LoadFault::torch_version: return "torch_version";
    case LoadFault::cxx_abi: return "cxx_abi";
    case LoadFault::id_mismatch: return "id_mismatch";
    case LoadFault::kind_mismatch: return "kind_mismatch";
    case LoadFault::wrong_interface: return "wrong_interface";
  }
  return "unknown";
}

LoadError::LoadError(LoadFault fault, ErrorCode code, std::string message, SourceLocation where)
    : Error(code, std::move(message), std::move(where)), fault_(fault) {}

const char* host_torch_version() noexcept { return COMPAUDIT_TORCH_VERSION; }
int host_cxx11_abi() noexcept {
#ifdef _GLIBCXX_USE_CXX11_ABI
  return _GLIBCXX_USE_CXX11_ABI;
#else
  return -1;
#endif
}

namespace detail {
Error plugin_failure(const std::string& plugin_id, const char* what, const char* message) {
  return Error(ErrorCode::runtime, fmt::format("plugin {} failed in {}: {}", plugin_id, what, message));
}
}  // namespace detail

namespace {
std::mutex g_handler_mutex;
std::function<void(const Error&)> g_destroy_error_handler;

void report_destroy_error(const Error& error) {
  std::function<void(const Error&)> handler;
  {
    std::lock_guard<std::mutex> lock(g_handler_mutex);
    handler = g_destroy_error_handler;
  }
  if (handler) {
    try {
      handler(error);
      return;
    } catch (...) {
    }
  }
  std::cerr << "compaudit: warning: " << error.what() << '\n';
}

std::string dl_error_text() {
  const char* text = ::dlerror();
  return text ? text : "unknown dynamic-linker error";
}

// Why a file the dynamic linker refused is not loadable, as far as its ELF header tells. The linker's own text is
// sometimes misleading: for an ELF of another architecture glibc says "No such file or directory".
std::string explain_unloadable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string head((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (head.empty()) return "the file is empty";
  if (head.size() < 4 || head.compare(0, 4, ELFMAG) != 0) return "not an ELF file";
  if (head.size() < sizeof(Elf64_Ehdr)) return fmt::format("the file is truncated ({} bytes)", head.size());
  if (head[EI_CLASS] != ELFCLASS64) return "a 32-bit ELF file; this host is 64-bit";
  Elf64_Ehdr header;
  std::memcpy(&header, head.data(), sizeof(header));
  const auto* self = reinterpret_cast<const Elf64_Ehdr*>(&__ehdr_start);
  if (header.e_machine != self->e_machine)
    return fmt::format("an ELF file for machine {}, this host is machine {}", header.e_machine, self->e_machine);
  if (header.e_type != ET_DYN) return "an ELF file that is not a shared library";
  const std::uint64_t end = std::max<std::uint64_t>(header.e_shoff + std::uint64_t(header.e_shnum) * header.e_shentsize,
                                                    header.e_phoff + std::uint64_t(header.e_phnum) * header.e_phentsize);
  if (end > head.size())
    return fmt::format("the file is truncated ({} bytes, its headers say at least {})", head.size(), end);
  return {};
}
/// Device, inode, size and modification time of a file: what changes when it is rewritten or replaced.
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return fmt::format("{}:{}:{}:{}.{}", st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}
}  // namespace

struct Loader::Library {
  boost::dll::shared_library handle;
  const PluginDescriptor* descriptor = nullptr;
  std::string path;
  /// SHA-256 of the bytes that were opened, hashed just before dlopen when the opening manifest pins it (empty
  /// otherwise). A later manifest that reaches the same (cached) library is checked against this digest: its pin must
  /// hold for the code actually in memory, not for whatever the file holds now.
  std::string sha256;
  /// The file's identity when it was opened (for an unpinned library, whose bytes were not hashed): a later pin is
  /// checked against the file only while it is provably the file that was opened.
  std::string stamp;
};

Loader::Loader() = default;
Loader::~Loader() = default;  // Cached libraries with live objects stay loaded through those objects' references.

void Loader::set_destroy_error_handler(std::function<void(const Error&)> handler) {
  std::lock_guard<std::mutex> lock(g_handler_mutex);
  g_destroy_error_handler = std::move(handler);
}

std::size_t Loader::library_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_.size();
}

namespace {
// The descriptor checks, in the order of plugin-host rule 2: the ABI first, since nothing else in the struct can be
// trusted when it differs.
void check_descriptor(const PluginDescriptor* d, const Manifest& m, const std::string& lib) {
  const SourceLocation where{m.path};
  if (!d)
    throw LoadError(LoadFault::bad_descriptor, ErrorCode::symbol,
                    fmt::format("library {}: compaudit_plugin_entry returned no descriptor", lib), where);
  if (d->abi_version != COMPAUDIT_SDK_ABI_VERSION)
    throw LoadError(LoadFault::abi_major, ErrorCode::version,
                    fmt::format("library {} was built for SDK ABI {}, this host has SDK ABI {}; rebuild the plugin "
                                "against this SDK",
                                lib, d->abi_version, COMPAUDIT_SDK_ABI_VERSION),
                    where);
  if (d->abi_minor > COMPAUDIT_SDK_ABI_MINOR)
    throw LoadError(LoadFault::abi_minor, ErrorCode::version,
                    fmt::format("library {} was built for SDK ABI {}.{}, newer than this host's {}.{}; upgrade "
                                "compaudit or rebuild the plugin against this SDK",
                                lib, d->abi_version, d->abi_minor, COMPAUDIT_SDK_ABI_VERSION,
                                COMPAUDIT_SDK_ABI_MINOR),
                    where);
  if (d->struct_size < sizeof(PluginDescriptor))
    throw LoadError(LoadFault::bad_descriptor, ErrorCode::symbol,
                    fmt::format("library {}: descriptor of {} bytes, expected at least {}", lib, d->struct_size,
                                sizeof(PluginDescriptor)),
                    where);
  // "" means the plugin was compiled without LibTorch headers: it cannot disagree with the host's LibTorch.
  const std::string torch = d->torch_version ? d->torch_version : "";
  if (!torch.empty() && torch != COMPAUDIT_TORCH_VERSION)
    throw LoadError(LoadFault::torch_version, ErrorCode::version,
                    fmt::format("library {} was built against LibTorch {}, this host uses LibTorch {}", lib, torch,
                                COMPAUDIT_TORCH_VERSION),
                    where);
  if (d->cxx11_abi != host_cxx11_abi())
    throw LoadError(LoadFault::cxx_abi, ErrorCode::version,
                    fmt::format("library {} was built with _GLIBCXX_USE_CXX11_ABI={}, this host with "
                                "_GLIBCXX_USE_CXX11_ABI={} (compiler: {})",
                                lib, d->cxx11_abi, host_cxx11_abi(), d->compiler ? d->compiler : "?"),
                    where);
  const std::string id = d->id ? d->id : "", kind = d->kind ? d->kind : "";
  if (id != m.id)
    throw LoadError(LoadFault::id_mismatch, ErrorCode::identity,
                    fmt::format("library {} is plugin '{}' but its manifest {} says id '{}'", lib, id, m.path, m.id),
                    where);
  if (kind != to_string(m.kind))
    throw LoadError(LoadFault::kind_mismatch, ErrorCode::identity,
                    fmt::format("library {} is a {} but its manifest {} says kind '{}'", lib, kind, m.path,
                                to_string(m.kind)),
                    where);
}
}  // namespace

std::shared_ptr<Loader::Library> Loader::load(const Manifest& m) {
  const SourceLocation where{m.path};
  std::error_code ec;
  const fs::path canonical = fs::canonical(m.library, ec);
  if (ec)
    throw LoadError(LoadFault::not_loadable, ErrorCode::library,
                    fmt::format("cannot load library {}: {}", m.library, ec.message()), where);
  const std::string lib = canonical.string();

  // Every manifest's pin is checked before its library is used, also when another manifest already opened the
  // library (a second manifest pointing at the same file with a wrong sha256 is refused, not waved through).
  const auto check_pin = [&](const std::string& actual) {
    if (!m.sha256.empty() && actual != m.sha256)
      throw LoadError(LoadFault::sha256_mismatch, ErrorCode::library,
                      fmt::format("library {} has sha256 {}, but its manifest {} pins {}; refusing to load it", lib,
                                  actual, m.path, m.sha256),
                      where);
  };
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = cache_.find(lib); it != cache_.end()) {
    Library& cached = *it->second;
    if (!m.sha256.empty() && cached.sha256.empty()) {
      // Opened unpinned, so not hashed then. The file's bytes stand for the code in memory only if it is unchanged.
      if (file_stamp(lib) != cached.stamp)
        throw LoadError(LoadFault::sha256_mismatch, ErrorCode::library,
                        fmt::format("library {} changed on disk since it was opened without a pin, so the pin of "
                                    "manifest {} cannot be checked against the loaded code; refusing it",
                                    lib, m.path),
                        where);
      cached.sha256 = sha256_file(lib);
    }
    check_pin(cached.sha256);
    check_descriptor(it->second->descriptor, m, lib);  // another manifest may claim another id for the same file
    return it->second;
  }
  auto library = std::make_shared<Library>();
  library->path = lib;
  // Hashed only when pinned: a RelWithDebInfo plugin is ~10 MB, and hashing every library made loading a plugin
  // after the first cost ~120 ms (docs/performance.md). An unpinned library records its file identity instead, so
  // a later pinning manifest is checked against the file only while it is the one that was opened.
  if (!m.sha256.empty()) {
    try {
      library->sha256 = sha256_file(lib);
    } catch (const Error& e) {
      throw LoadError(LoadFault::not_loadable, ErrorCode::library,
                      fmt::format("cannot check the sha256 pin of library {}: {}", lib, e.what()), where);
    }
    check_pin(library->sha256);
  } else {
    library->stamp = file_stamp(lib);
  }
  boost::dll::fs::error_code load_ec;
  // RTLD_NOW: an unresolved symbol fails here, with the linker's text, instead of crashing mid-run.
  // RTLD_LOCAL: two plugins may define identically named symbols; each resolves its own.
  ::dlerror();  // clear stale text
  library->handle.load(boost::dll::fs::path(lib),
                       boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, load_ec);
  if (load_ec || !library->handle.is_loaded()) {
    const std::string linker = dl_error_text();
    const std::string why = explain_unloadable(lib);
    throw LoadError(LoadFault::not_loadable, ErrorCode::library,
                    fmt::format("cannot load library {}: {}{}", lib, linker, why.empty() ? "" : " (" + why + ")"),
                    where);
  }
  if (!library->handle.has(COMPAUDIT_PLUGIN_ENTRY_NAME))
    throw LoadError(LoadFault::no_entry_point, ErrorCode::symbol,
                    fmt::format("library {} has no entry point {}: it is not a compaudit plugin (a plugin defines "
                                "it with COMPAUDIT_PLUGIN)",
                                lib, COMPAUDIT_PLUGIN_ENTRY_NAME),
                    where);
  auto& entry = library->handle.get<compaudit_plugin_entry_fn>(COMPAUDIT_PLUGIN_ENTRY_NAME);
  library->descriptor = guarded(m.id, COMPAUDIT_PLUGIN_ENTRY_NAME, [&] { return entry(); });
  check_descriptor(library->descriptor, m, lib);
  cache_.emplace(lib, library);
  return library;
}

LibraryInfo Loader::open(const Manifest& manifest) {
  auto library = load(manifest);
  const PluginDescriptor* d = library->descriptor;
  LibraryInfo info;
  info.path = library->path;
  info.abi_version = d->abi_version;
  info.abi_minor = d->abi_minor;
  info.id = d->id ? d->id : "";
  info.kind = d->kind ? d->kind : "";
  info.plugin_version = d->plugin_version ? d->plugin_version : "";
  info.torch_version = d->torch_version ? d->torch_version : "";
  info.compiler = d->compiler ? d->compiler : "";
  info.cxx11_abi = d->cxx11_abi;
  return info;
}

std::shared_ptr<Plugin> Loader::instantiate(const Manifest& manifest, const Params& params) {
  std::shared_ptr<Library> library = load(manifest);
  const PluginDescriptor* d = library->descriptor;
  Plugin* raw = guarded(manifest.id, "create", [&] { return d->create(params); });
  if (!raw) throw detail::plugin_failure(manifest.id, "create", "create() returned null");
  // The deleter owns a reference to the library: the code that destroys the object (and its vtable) stays mapped.
  auto destroy = d->destroy;
  std::string id = manifest.id;
  return std::shared_ptr<Plugin>(raw, [library, destroy, id](Plugin* p) noexcept {
    try {
      guarded(id, "destroy", [&] { destroy(p); });
    } catch (const Error& e) {
      report_destroy_error(e);
    } catch (...) {
    }
  });
}

void Loader::throw_wrong_interface(const Manifest& manifest) {
  throw LoadError(LoadFault::wrong_interface, ErrorCode::identity,
                  fmt::format("plugin {} ({}) created an object that does not implement the {} interface",
                              manifest.id, manifest.library, to_string(manifest.kind)),
                  {manifest.path});
}

}  // namespace compaudit::host
