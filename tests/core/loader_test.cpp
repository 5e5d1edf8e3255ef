// Loader faults (plugin-host-rules.md, "Faults a loader's tests must cover": 5–9, 11–13, 16, 17). Every case
// asserts the category, the exact check (LoadFault) and the message, then shows the host still works by loading a
// good plugin with the same Loader.
#include <compaudit/host/loader.h>
#include <compaudit/host/sha256.h>

#include "test_api.h"
#include "test_support.h"

#include <fstream>

using compaudit::Error;
using compaudit::ErrorCode;
using compaudit::Params;
using compaudit::host::LoadError;
using compaudit::host::LoadFault;
using compaudit::host::Loader;
using compaudit::host::Manifest;
using compaudit::host::parse_manifest;
using compaudit::test::Worker;
using test::contains;

namespace {
// The host keeps working: a good plugin still loads and works through the same Loader.
void host_still_works(Loader& loader, const test::TempDir& tmp) {
  const Manifest good = parse_manifest(test::plugin_dir_with(tmp, "good", "org.test.compressor.good", "tp_good"));
  auto worker = loader.instantiate_as<Worker>(good, Params{});
  CHECK(worker->work(10) > 10);
}

Manifest manifest_for(const test::TempDir& tmp, const std::string& lib, const std::string& id = "",
                      const std::string& kind = "compressor", const std::string& extra = "") {
  return parse_manifest(test::plugin_dir_with(tmp, lib, id.empty() ? "org.test.compressor.crafted" : id, lib,
                                              "1.0.0", kind, extra));
}
}  // namespace

TEST_CASE("a good plugin loads, works and is destroyed", "[loader]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest m = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  const auto info = loader.open(m);
  CHECK(info.id == "org.test.compressor.good");
  CHECK(info.kind == "compressor");
  CHECK(info.torch_version == compaudit::host::host_torch_version());
  CHECK(info.abi_version == COMPAUDIT_SDK_ABI_VERSION);
  auto worker = loader.instantiate_as<Worker>(m, Params{});
  CHECK(worker->whoami() == "good");
  CHECK(loader.library_count() == 1);
}

TEST_CASE("a shared library that is not a plugin is refused: no entry point", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest m = manifest_for(tmp, "tp_not_a_plugin");
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(m, Params{}));
  CHECK(error->code() == ErrorCode::symbol);
  CHECK(error->fault() == LoadFault::no_entry_point);
  CHECK(contains(error->message(), "libtp_not_a_plugin.so has no entry point compaudit_plugin_entry"));
  host_still_works(loader, tmp);
}

TEST_CASE("a library whose entry point returns no descriptor is refused", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  REQUIRE_THROWS_ERROR(LoadError, error, loader.open(manifest_for(tmp, "tp_null")));
  CHECK(error->code() == ErrorCode::symbol);
  CHECK(error->fault() == LoadFault::bad_descriptor);
  CHECK(contains(error->message(), "returned no descriptor"));
  host_still_works(loader, tmp);
}

TEST_CASE("version checks refuse a library before any other call, naming both sides", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  // The crafted plugins abort() if create() is ever called: reaching the assertions proves it was not.
  SECTION("SDK ABI major") {
    REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(manifest_for(tmp, "tp_abi_major"), Params{}));
    CHECK(error->code() == ErrorCode::version);
    CHECK(error->fault() == LoadFault::abi_major);
    CHECK(contains(error->message(), "libtp_abi_major.so was built for SDK ABI 2, this host has SDK ABI 1"));
  }
  SECTION("newer SDK ABI minor") {
    REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(manifest_for(tmp, "tp_abi_minor"), Params{}));
    CHECK(error->code() == ErrorCode::version);
    CHECK(error->fault() == LoadFault::abi_minor);
    CHECK(contains(error->message(), "built for SDK ABI 1.99, newer than this host's 1." +
                                          std::to_string(COMPAUDIT_SDK_ABI_MINOR)));
  }
  SECTION("LibTorch version") {
    REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(manifest_for(tmp, "tp_torch"), Params{}));
    CHECK(error->code() == ErrorCode::version);
    CHECK(error->fault() == LoadFault::torch_version);
    CHECK(contains(error->message(), fmt::format("built against LibTorch 1.12.0, this host uses LibTorch {}",
                                                 compaudit::host::host_torch_version())));
  }
  SECTION("C++ ABI flag") {
    REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(manifest_for(tmp, "tp_cxx_abi"), Params{}));
    CHECK(error->code() == ErrorCode::version);
    CHECK(error->fault() == LoadFault::cxx_abi);
    CHECK(contains(error->message(), fmt::format("_GLIBCXX_USE_CXX11_ABI={}, this host with _GLIBCXX_USE_CXX11_ABI={}",
                                                 1 - _GLIBCXX_USE_CXX11_ABI, _GLIBCXX_USE_CXX11_ABI)));
  }
  CHECK(loader.library_count() == 0);  // a refused library is not cached
  host_still_works(loader, tmp);
}

TEST_CASE("a descriptor whose id or kind differs from the manifest is refused", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  SECTION("id") {
    const Manifest m = manifest_for(tmp, "tp_good", "org.test.compressor.impostor");
    REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(m, Params{}));
    CHECK(error->code() == ErrorCode::identity);
    CHECK(error->fault() == LoadFault::id_mismatch);
    CHECK(contains(error->message(), "is plugin 'org.test.compressor.good' but its manifest"));
    CHECK(contains(error->message(), "says id 'org.test.compressor.impostor'"));
  }
  SECTION("kind") {
    const Manifest m = manifest_for(tmp, "tp_good", "org.test.compressor.good", "metric");
    REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(m, Params{}));
    CHECK(error->code() == ErrorCode::identity);
    CHECK(error->fault() == LoadFault::kind_mismatch);
    CHECK(contains(error->message(), "is a compressor but its manifest"));
    CHECK(contains(error->message(), "says kind 'metric'"));
  }
  host_still_works(loader, tmp);
}

TEST_CASE("an unresolved symbol fails at load with the dynamic linker's text", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest m = manifest_for(tmp, "tp_unresolved", "org.test.compressor.unresolved");
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(m, Params{}));
  CHECK(error->code() == ErrorCode::library);
  CHECK(error->fault() == LoadFault::not_loadable);
  CHECK(contains(error->message(), "undefined symbol: compaudit_test_missing_function"));
  host_still_works(loader, tmp);
}

TEST_CASE("files that are not loadable libraries are refused with dlerror's text", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  const fs::path dir = tmp / "bad";
  std::string expected;
  SECTION("a text file named .so") {
    test::write_file(dir / "libtext.so", std::string(3, '\n') + "# this is a text file, not a library; it is longer than "
                                         "an ELF header so the linker reads it as one\n");
    expected = "invalid ELF header (not an ELF file)";
  }
  SECTION("a truncated ELF") {
    const std::string elf = test::read_file(test::plugin_lib("tp_good"));
    test::write_file(dir / "libtext.so", elf.substr(0, 200));
    expected = "the file is truncated (200 bytes";
  }
  SECTION("an ELF for another architecture") {
    std::string elf = test::read_file(test::plugin_lib("tp_good"));
    elf[18] = static_cast<char>(183);  // e_machine = EM_AARCH64 (little-endian, low byte)
    elf[19] = 0;
    test::write_file(dir / "libtext.so", elf);
    expected = "an ELF file for machine 183, this host is machine 62";
  }
  SECTION("an empty file") {
    test::write_file(dir / "libtext.so", "");
    expected = "the file is empty";
  }
  const Manifest m = parse_manifest(test::write_manifest(dir, "text", "org.test.compressor.text", "text"));
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(m, Params{}));
  CHECK(error->code() == ErrorCode::library);
  CHECK(error->fault() == LoadFault::not_loadable);
  CHECK(contains(error->message(), "cannot load library"));
  CHECK(contains(error->message(), "libtext.so"));
  CHECK(contains(error->message(), expected));
  host_still_works(loader, tmp);
}

TEST_CASE("a sha256 pin that does not match refuses the library before it is opened", "[loader][fault][sha256]") {
  test::TempDir tmp;
  Loader loader;
  // The pinned library has an unresolved symbol: had it been opened, the fault would be not_loadable.
  const std::string wrong(64, 'a');
  const Manifest m = manifest_for(tmp, "tp_unresolved", "org.test.compressor.unresolved", "compressor",
                                  "sha256 = \"" + wrong + "\"\n");
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(m, Params{}));
  CHECK(error->code() == ErrorCode::library);
  CHECK(error->fault() == LoadFault::sha256_mismatch);
  CHECK(contains(error->message(), "has sha256 " + compaudit::host::sha256_file(m.library)));
  CHECK(contains(error->message(), "pins " + wrong));
  host_still_works(loader, tmp);
}

TEST_CASE("a matching sha256 pin loads", "[loader][sha256]") {
  test::TempDir tmp;
  Loader loader;
  const std::string sum = compaudit::host::sha256_file(test::plugin_lib("tp_good").string());
  const Manifest m = manifest_for(tmp, "tp_good", "org.test.compressor.good", "compressor",
                                  "sha256 = \"" + sum + "\"\n");
  CHECK(loader.instantiate_as<Worker>(m, Params{})->whoami() == "good");
}

TEST_CASE("a second manifest with a wrong sha256 pin is refused although its library is already loaded",
          "[loader][fault][sha256]") {
  test::TempDir tmp;
  Loader loader;
  // The first manifest (no pin) opens the library; the second points at the same file through its own manifest and
  // pins a wrong digest. The cache must not skip the second manifest's check.
  const Manifest first = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  CHECK(loader.instantiate_as<Worker>(first, Params{})->whoami() == "good");
  const std::string wrong(64, 'b');
  const Manifest second = parse_manifest(test::write_manifest(tmp / "tp_good", "pinned", "org.test.compressor.good",
                                                              "tp_good", "1.0.0", "compressor",
                                                              "sha256 = \"" + wrong + "\"\n"));
  REQUIRE(second.library == first.library);
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(second, Params{}));
  CHECK(error->fault() == LoadFault::sha256_mismatch);
  CHECK(contains(error->message(), "pins " + wrong));
  CHECK(contains(error->message(), second.path));
  // A second manifest with the right pin is accepted, and the library was opened only once.
  const std::string sum = compaudit::host::sha256_file(first.library);
  const Manifest third = parse_manifest(test::write_manifest(tmp / "tp_good", "right", "org.test.compressor.good",
                                                             "tp_good", "1.0.0", "compressor",
                                                             "sha256 = \"" + sum + "\"\n"));
  CHECK(loader.instantiate_as<Worker>(third, Params{})->whoami() == "good");
  CHECK(loader.library_count() == 1);
}

TEST_CASE("a sha256 pin is checked against the library bytes that were opened, not the file as it is now",
          "[loader][fault][sha256]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest first = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  const std::string opened = compaudit::host::sha256_file(first.library);
  CHECK(loader.instantiate_as<Worker>(first, Params{})->whoami() == "good");
  // Overwrite the file in place after it was opened, then pin the new file's digest: the loaded code is the old one.
  { std::ofstream(first.library, std::ios::binary | std::ios::app) << "appended"; }
  const std::string now = compaudit::host::sha256_file(first.library);
  REQUIRE(now != opened);
  const Manifest second = parse_manifest(test::write_manifest(tmp / "tp_good", "pinned", "org.test.compressor.good",
                                                              "tp_good", "1.0.0", "compressor",
                                                              "sha256 = \"" + now + "\"\n"));
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(second, Params{}));
  CHECK(error->fault() == LoadFault::sha256_mismatch);
  // The first manifest did not pin, so the opened bytes were not hashed: the loader sees the file was rewritten.
  CHECK(contains(error->message(), "changed on disk since it was opened"));
}

TEST_CASE("a library opened under a pin is checked against the digest of the opened bytes", "[loader][fault][sha256]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest plain = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  const std::string opened = compaudit::host::sha256_file(plain.library);
  const Manifest first = parse_manifest(test::write_manifest(tmp / "tp_good", "first", "org.test.compressor.good",
                                                             "tp_good", "1.0.0", "compressor",
                                                             "sha256 = \"" + opened + "\"\n"));
  CHECK(loader.instantiate_as<Worker>(first, Params{})->whoami() == "good");
  { std::ofstream(first.library, std::ios::binary | std::ios::app) << "appended"; }
  const std::string now = compaudit::host::sha256_file(first.library);
  const Manifest second = parse_manifest(test::write_manifest(tmp / "tp_good", "second", "org.test.compressor.good",
                                                              "tp_good", "1.0.0", "compressor",
                                                              "sha256 = \"" + now + "\"\n"));
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate(second, Params{}));
  CHECK(error->fault() == LoadFault::sha256_mismatch);
  CHECK(contains(error->message(), "has sha256 " + opened));
}

TEST_CASE("a plugin that throws from construction, work or destruction leaves the host running",
          "[loader][fault][guarded]") {
  test::TempDir tmp;
  Loader loader;
  SECTION("construction") {
    const Manifest m = manifest_for(tmp, "tp_throw_create", "org.test.compressor.throw_create");
    REQUIRE_THROWS_ERROR(Error, error, loader.instantiate(m, Params{}));
    CHECK(error->code() == ErrorCode::runtime);
    CHECK(error->message() == "plugin org.test.compressor.throw_create failed in create: boom in constructor");
  }
  SECTION("work") {
    const Manifest m = manifest_for(tmp, "tp_throw_work", "org.test.compressor.throw_work");
    auto worker = loader.instantiate_as<Worker>(m, Params{});
    REQUIRE_THROWS_ERROR(Error, error,
                         compaudit::host::guarded(m.id, "work", [&] { return worker->work(1); }));
    CHECK(error->code() == ErrorCode::runtime);
    CHECK(error->message() == "plugin org.test.compressor.throw_work failed in work: boom in work");
  }
  SECTION("destruction") {
    std::vector<std::string> reported;
    Loader::set_destroy_error_handler([&](const Error& e) { reported.push_back(e.message()); });
    {
      const Manifest m = manifest_for(tmp, "tp_throw_destroy", "org.test.compressor.throw_destroy");
      auto worker = loader.instantiate_as<Worker>(m, Params{});
      CHECK(worker->work(1) >= 2);
    }  // destroyed here: the exception is reported, not propagated, and nothing terminates
    Loader::set_destroy_error_handler({});
    REQUIRE(reported.size() == 1);
    CHECK(reported[0] == "plugin org.test.compressor.throw_destroy failed in destroy: boom in destructor");
  }
  host_still_works(loader, tmp);
}

TEST_CASE("guarded passes results through and wraps non-std exceptions", "[guarded]") {
  CHECK(compaudit::host::guarded("p", "work", [] { return 7; }) == 7);
  REQUIRE_THROWS_ERROR(Error, error, compaudit::host::guarded("p", "work", []() -> int { throw 42; }));
  CHECK(error->message() == "plugin p failed in work: an exception that is not a std::exception");
}

TEST_CASE("instantiate_as refuses an object of another interface", "[loader]") {
  struct Other : compaudit::Plugin {};
  test::TempDir tmp;
  Loader loader;
  const Manifest m = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  REQUIRE_THROWS_ERROR(LoadError, error, loader.instantiate_as<Other>(m, Params{}));
  CHECK(error->fault() == LoadFault::wrong_interface);
  CHECK(error->code() == ErrorCode::identity);
}

TEST_CASE("the same library reached through a symlink or a relative path is loaded once", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest direct = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  // A second manifest in a subdirectory whose library is a symlink to the first, written with a "./x/../" detour.
  const fs::path sub = tmp / "tp_good" / "linked";
  fs::create_directories(sub / "x");
  fs::create_symlink(direct.library, sub / "libalias.so");
  test::write_file(sub / "alias.toml",
                   "id = \"org.test.compressor.good\"\nversion = \"1.0.0\"\nkind = \"compressor\"\n"
                   "library = \"./x/../libalias.so\"\nabi = 1\n");
  const Manifest via_link = parse_manifest((sub / "alias.toml").string());
  REQUIRE(via_link.library != direct.library);
  auto a = loader.instantiate_as<Worker>(direct, Params{});
  auto b = loader.instantiate_as<Worker>(via_link, Params{});
  CHECK(loader.library_count() == 1);
  // One library image: its call counter is shared.
  const int first = a->work(0);
  CHECK(b->work(0) == first + 1);
}

TEST_CASE("two plugins exporting identically named symbols each resolve their own", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  auto good = loader.instantiate_as<Worker>(manifest_for(tmp, "tp_good", "org.test.compressor.good"), Params{});
  auto other = loader.instantiate_as<Worker>(manifest_for(tmp, "tp_good_b", "org.test.compressor.other"), Params{});
  CHECK(good->whoami() == "good");
  CHECK(other->whoami() == "other");
  CHECK(loader.library_count() == 2);
}

TEST_CASE("instances outliving the loader keep their library loaded", "[loader][fault][lifetime]") {
  test::TempDir tmp;
  std::shared_ptr<Worker> survivor;
  std::shared_ptr<Worker> throws_on_destroy;
  std::vector<std::string> reported;
  Loader::set_destroy_error_handler([&](const Error& e) { reported.push_back(e.message()); });
  {
    Loader loader;
    survivor = loader.instantiate_as<Worker>(manifest_for(tmp, "tp_good", "org.test.compressor.good"), Params{});
    throws_on_destroy = loader.instantiate_as<Worker>(
        manifest_for(tmp, "tp_throw_destroy", "org.test.compressor.throw_destroy"), Params{});
  }  // the Loader (and its cache) is gone; the libraries stay mapped through the instances
  CHECK(survivor->whoami() == "good");  // its vtable still lives in the library
  CHECK(survivor->work(5) > 5);
  survivor.reset();
  throws_on_destroy.reset();  // the last reference: destroy() runs, then the library may unload
  Loader::set_destroy_error_handler({});
  CHECK(reported.size() == 1);
}

TEST_CASE("a library the manifest names but that vanished before loading is refused", "[loader][fault]") {
  test::TempDir tmp;
  Loader loader;
  const Manifest m = manifest_for(tmp, "tp_good", "org.test.compressor.good");
  fs::remove(m.library);
  REQUIRE_THROWS_ERROR(LoadError, error, loader.open(m));
  CHECK(error->code() == ErrorCode::library);
  CHECK(error->fault() == LoadFault::not_loadable);
  CHECK(contains(error->message(), "No such file or directory"));
}
