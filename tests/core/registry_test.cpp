// Discovery (plugin-host-rules.md faults 10 and 16, rule 7): search order, duplicates, bad manifests that do not
// stop discovery, recursion, world-writable directories. No library is opened by any of this.
#include <compaudit/host/registry.h>

#include "test_support.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

using compaudit::ErrorCode;
using compaudit::host::Registry;
using compaudit::host::SearchPaths;
using test::contains;

namespace {
SearchPaths paths(std::initializer_list<std::pair<std::string, std::string>> dirs) {
  SearchPaths p;
  for (const auto& d : dirs) p.dirs.push_back(d);
  return p;
}

std::string all_warnings(const Registry& r) {
  std::string s;
  for (const auto& w : r.warnings()) s += w + "\n";
  return s;
}
}  // namespace

TEST_CASE("duplicate ids across directories: highest version wins, then search order, with a warning",
          "[registry][fault]") {
  test::TempDir tmp;
  const std::string id = "org.test.compressor.good";
  std::string first_version, second_version, winner_dir, loser_dir;
  SECTION("the later directory has a newer version") {
    first_version = "1.2.0", second_version = "1.10.0", winner_dir = "second", loser_dir = "first";
  }
  SECTION("the later directory has an older version") {
    first_version = "2.0.0", second_version = "1.9.9", winner_dir = "first", loser_dir = "second";
  }
  SECTION("equal versions: the earlier directory wins") {
    first_version = "1.0.0", second_version = "1.0", winner_dir = "first", loser_dir = "second";
  }
  test::plugin_dir_with(tmp, "first", id, "tp_good", first_version);
  test::plugin_dir_with(tmp, "second", id, "tp_good", second_version);
  const Registry r = Registry::discover(paths({{(tmp / "first").string(), "--plugin-path"},
                                               {(tmp / "second").string(), "COMPAUDIT_PLUGIN_PATH"}}));
  REQUIRE(r.plugins().size() == 1);
  const auto* m = r.find(id);
  REQUIRE(m != nullptr);
  CHECK(fs::path(m->path).parent_path().filename() == winner_dir);
  CHECK(m->origin == (winner_dir == "first" ? "--plugin-path" : "COMPAUDIT_PLUGIN_PATH"));
  REQUIRE(r.warnings().size() == 1);
  const std::string& w = r.warnings()[0];
  CHECK(contains(w, "plugin " + id + " is provided twice"));
  CHECK(contains(w, (tmp / winner_dir / "tp_good.toml").string()));
  CHECK(contains(w, (tmp / loser_dir / "tp_good.toml").string()));
  CHECK(r.errors().empty());
}

TEST_CASE("a bad manifest becomes an error and discovery goes on", "[registry][fault]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good");
  test::write_file(tmp / "dir" / "broken.toml", "id = \"org.test.compressor.broken\"\nversion = \n");
  const Registry r = Registry::discover(paths({{(tmp / "dir").string(), "--plugin-path"}}));
  REQUIRE(r.plugins().size() == 1);
  CHECK(r.plugins()[0].id == "org.test.compressor.good");
  REQUIRE(r.errors().size() == 1);
  CHECK(r.errors()[0].code() == ErrorCode::manifest);
  CHECK(r.errors()[0].where().file == (tmp / "dir" / "broken.toml").string());
  CHECK(r.errors()[0].where().line == 2);
}

TEST_CASE("directories are searched recursively and missing ones are skipped", "[registry]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "a/b/c", "org.test.compressor.deep", "tp_good");
  const Registry r = Registry::discover(
      paths({{(tmp / "missing").string(), "--plugin-path"}, {(tmp / "a").string(), "COMPAUDIT_PLUGIN_PATH"}}));
  REQUIRE(r.find("org.test.compressor.deep") != nullptr);
  CHECK(r.find("org.test.compressor.deep")->origin == "COMPAUDIT_PLUGIN_PATH");
  CHECK(r.find("org.test.compressor.nothing") == nullptr);
  CHECK(r.errors().empty());
}

TEST_CASE("a directory listed twice, or reached through a symlink, is read once", "[registry][fault]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good");
  fs::create_directory_symlink(tmp / "dir", tmp / "link");
  const Registry r = Registry::discover(paths({{(tmp / "dir").string(), "--plugin-path"},
                                               {(tmp / "link").string(), "COMPAUDIT_PLUGIN_PATH"},
                                               {(tmp / "dir").string(), "user"}}));
  CHECK(r.plugins().size() == 1);
  CHECK(r.warnings().empty());
}

TEST_CASE("a world-writable plugin directory draws a warning", "[registry][fault]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "open", "org.test.compressor.good", "tp_good");
  fs::permissions(tmp / "open", fs::perms::all);
  const Registry r = Registry::discover(paths({{(tmp / "open").string(), "--plugin-path"}}));
  CHECK(r.plugins().size() == 1);
  REQUIRE(r.warnings().size() == 1);
  CHECK(contains(r.warnings()[0], (tmp / "open").string() + " is world-writable"));
}

TEST_CASE("a world-writable subdirectory of a plugin directory draws a warning too", "[registry][fault]") {
  test::TempDir tmp;
  // The search directory is private; the subdirectory holding the plugin is open to everyone.
  test::plugin_dir_with(tmp, "root/vendor", "org.test.compressor.good", "tp_good");
  fs::permissions(tmp / "root", fs::perms::owner_all);
  fs::permissions(tmp / "root" / "vendor", fs::perms::all);
  const Registry r = Registry::discover(paths({{(tmp / "root").string(), "--plugin-path"}}));
  CHECK(r.plugins().size() == 1);
  REQUIRE(r.warnings().size() == 1);
  CHECK(contains(r.warnings()[0], (tmp / "root" / "vendor").string() + " is world-writable"));
}

TEST_CASE("the standard search order: --plugin-path, COMPAUDIT_PLUGIN_PATH, user, built-in", "[registry]") {
  ::setenv("COMPAUDIT_PLUGIN_PATH", "/env/one::/env/two", 1);
  ::setenv("XDG_DATA_HOME", "/xdg", 1);
  const SearchPaths p = SearchPaths::standard({"/cli/a:/cli/b", "/cli/c"});
  ::unsetenv("COMPAUDIT_PLUGIN_PATH");
  ::unsetenv("XDG_DATA_HOME");
  REQUIRE(p.dirs.size() >= 7);
  using D = std::pair<std::string, std::string>;
  CHECK(p.dirs[0] == D{"/cli/a", "--plugin-path"});
  CHECK(p.dirs[1] == D{"/cli/b", "--plugin-path"});
  CHECK(p.dirs[2] == D{"/cli/c", "--plugin-path"});
  CHECK(p.dirs[3] == D{"/env/one", "COMPAUDIT_PLUGIN_PATH"});
  CHECK(p.dirs[4] == D{"/env/two", "COMPAUDIT_PLUGIN_PATH"});
  CHECK(p.dirs[5] == D{"/xdg/compaudit/plugins", "user"});
  CHECK(p.dirs.back() == D{compaudit::host::builtin_plugin_dir(), "built-in"});
  CHECK(contains(compaudit::host::builtin_plugin_dir(), compaudit::host::host_library_dir()));
}

TEST_CASE("a large search path (parsed on several threads) gives the same result as a small one", "[registry]") {
  test::TempDir tmp;
  // 300 manifests over two directories: every id twice (versions 1.0.i in "a", 1.1.0 for even i in "b"), and one
  // broken manifest per directory. The winners, warnings and errors must follow the sequential rules exactly.
  for (const char* sub : {"a", "b"}) test::write_file(tmp / sub / "libdummy.so", "x");
  for (int i = 0; i < 150; ++i) {
    const std::string id = fmt::format("org.test.compressor.p{:03}", i);
    const std::string body = "kind = \"compressor\"\nlibrary = \"libdummy.so\"\nabi = 1\n";
    test::write_file(tmp / "a" / fmt::format("p{:03}.toml", i),
                     fmt::format("id = \"{}\"\nversion = \"1.0.{}\"\n{}", id, i, body));
    test::write_file(tmp / "b" / fmt::format("p{:03}.toml", i),
                     fmt::format("id = \"{}\"\nversion = \"{}\"\n{}", id, i % 2 ? "1.0.0" : "1.1.0", body));
  }
  test::write_file(tmp / "a" / "zz_broken.toml", "id = 1\n");
  test::write_file(tmp / "b" / "zz_broken.toml", "id = 2\n");
  const Registry r = Registry::discover(paths({{(tmp / "a").string(), "--plugin-path"}, {(tmp / "b").string(), "user"}}));
  REQUIRE(r.plugins().size() == 150);
  for (int i = 0; i < 150; ++i) {
    const auto& m = r.plugins()[i];
    CHECK(m.id == fmt::format("org.test.compressor.p{:03}", i));
    // Odd i: "b" has 1.0.0 <= 1.0.i, so "a" wins (earlier on equal version, i = 0 aside); even i: "b" has 1.1.0.
    CHECK(m.origin == (i % 2 == 0 ? "user" : "--plugin-path"));
  }
  CHECK(r.warnings().size() == 150);
  REQUIRE(r.errors().size() == 2);
  CHECK(r.errors()[0].where().file == (tmp / "a" / "zz_broken.toml").string());
  CHECK(r.errors()[1].where().file == (tmp / "b" / "zz_broken.toml").string());
}

TEST_CASE("the registry cache returns the same manifests, and notices changed and broken files", "[registry][cache]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good", "1.0.0", "compressor",
                        "trains = true\n[[param]]\nname = \"sparsity\"\ntype = \"float\"\ndefault = 0.5\nmin = 0.0\nmax = 1.0\n"
                        "\n[[param]]\nname = \"layers\"\ntype = \"string_list\"\ndefault = [\"fc1\", \"fc2\"]\n"
                        "refers_to = \"layer_pattern\"\n");
  SearchPaths p = paths({{(tmp / "dir").string(), "--plugin-path"}});
  p.cache_file = (tmp / "cache" / "registry.bin").string();
  const Registry cold = Registry::discover(p);
  REQUIRE(fs::exists(p.cache_file));
  const Registry warm = Registry::discover(p);
  REQUIRE(warm.plugins().size() == 1);
  const auto& a = cold.plugins()[0];
  const auto& b = warm.plugins()[0];
  CHECK(b.id == a.id);
  CHECK(b.library == a.library);
  CHECK(b.path == a.path);
  CHECK(b.origin == "--plugin-path");
  REQUIRE(b.params.size() == 2);
  CHECK(std::get<double>(*b.params[0].default_value) == 0.5);
  CHECK(*b.params[0].max == 1.0);
  CHECK(std::get<std::vector<std::string>>(*b.params[1].default_value) == std::vector<std::string>{"fc1", "fc2"});
  CHECK(b.refers_to == std::map<std::string, std::string>{{"layers", "layer_pattern"}});  // cached too
  CHECK(a.trains);
  CHECK(b.trains);  // cached too

  SECTION("a changed manifest is parsed again") {
    test::write_manifest(tmp / "dir", "tp_good", "org.test.compressor.good", "tp_good", "2.0.0");
    const Registry changed = Registry::discover(p);
    REQUIRE(changed.plugins().size() == 1);
    CHECK(changed.plugins()[0].version == "2.0.0");
    CHECK(changed.plugins()[0].params.empty());
  }
  SECTION("a manifest whose library vanished is reported, not served from the cache") {
    fs::remove(tmp / "dir" / "libtp_good.so");
    const Registry gone = Registry::discover(p);
    CHECK(gone.plugins().empty());
    REQUIRE(gone.errors().size() == 1);
    CHECK(contains(gone.errors()[0].message(), "does not exist"));
  }
  SECTION("a corrupt cache file is ignored") {
    test::write_file(p.cache_file, "CAUDREG1 but then garbage");
    const Registry again = Registry::discover(p);
    CHECK(again.plugins().size() == 1);
    CHECK(again.errors().empty());
  }
}

// Issue 14, item 1: `mknod ./n c 1 3; COMPAUDIT_REGISTRY_CACHE=$PWD/n compaudit plugins list` replaced the device
// with an ordinary file, and a directory at the cache path broke every command (basic_string::_M_create).
TEST_CASE("the registry cache never replaces what is not a regular file, and runs without it", "[registry][cache]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good");
  SearchPaths p = paths({{(tmp / "dir").string(), "--plugin-path"}});
  p.cache_file = (tmp / "cache").string();
  const auto kind_of = [](const fs::path& f) { return fs::symlink_status(f).type(); };
  const auto discovers_without_cache = [&](const std::string& what) {
    const Registry r = Registry::discover(p);
    REQUIRE(r.plugins().size() == 1);
    CHECK(r.plugins()[0].id == "org.test.compressor.good");
    CHECK(r.errors().empty());
    REQUIRE(r.warnings().size() == 1);  // one warning, naming the path and what is there
    CHECK(contains(r.warnings()[0], "registry cache " + p.cache_file + " is " + what));
    CHECK(contains(r.warnings()[0], "running without the cache"));
  };
  SECTION("a directory") {
    fs::create_directories(p.cache_file);
    discovers_without_cache("a directory");
    CHECK(kind_of(p.cache_file) == fs::file_type::directory);
    CHECK(fs::is_empty(p.cache_file));
  }
  SECTION("a fifo") {
    REQUIRE(::mkfifo(p.cache_file.c_str(), 0644) == 0);
    discovers_without_cache("a fifo");  // and did not block opening it
    CHECK(kind_of(p.cache_file) == fs::file_type::fifo);
  }
  SECTION("a character device (the issue's mknod c 1 3; needs root)") {
    if (::mknod(p.cache_file.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
      WARN("mknod needs root: checked /dev/null's kind through a symlink instead");
      fs::create_symlink("/dev/null", p.cache_file);
      discovers_without_cache("a symbolic link to a character device");
      CHECK(kind_of(p.cache_file) == fs::file_type::symlink);
      CHECK(kind_of("/dev/null") == fs::file_type::character);
    } else {
      discovers_without_cache("a character device");
      CHECK(kind_of(p.cache_file) == fs::file_type::character);
    }
  }
  SECTION("a symlink to a directory") {
    fs::create_directories(tmp / "elsewhere");
    fs::create_symlink(tmp / "elsewhere", p.cache_file);
    discovers_without_cache("a symbolic link to a directory");
    CHECK(kind_of(p.cache_file) == fs::file_type::symlink);
    CHECK(fs::is_empty(tmp / "elsewhere"));
  }
  SECTION("a symlink to a regular file is followed: the link stays, its target holds the cache") {
    test::write_file(tmp / "real.bin", "");
    fs::create_symlink(tmp / "real.bin", p.cache_file);
    const Registry r = Registry::discover(p);
    CHECK(r.warnings().empty());
    CHECK(kind_of(p.cache_file) == fs::file_type::symlink);
    CHECK(fs::file_size(tmp / "real.bin") > 0);
  }
  for (const auto& e : fs::directory_iterator(tmp.path()))  // no temporary file is left behind
    CHECK(e.path().filename().string().find("cache.") == std::string::npos);
}

// Issue 14, item 9: one flipped byte in the cache renamed a plugin, and the bad entry stayed.
TEST_CASE("a flipped byte anywhere in the registry cache never changes a plugin: the cache is dropped",
          "[registry][cache]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good", "1.0.0", "compressor",
                        "\n[[param]]\nname = \"sparsity\"\ntype = \"float\"\ndefault = 0.5\nmin = 0.0\nmax = 1.0\n");
  SearchPaths p = paths({{(tmp / "dir").string(), "--plugin-path"}});
  p.cache_file = (tmp / "registry.bin").string();
  Registry::discover(p);
  const std::string good = test::read_file(p.cache_file);
  REQUIRE(good.find("org.test.compressor.good") != std::string::npos);
  int checked = 0;
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (unsigned char flip : {0x01, 0x80}) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ flip);
      test::write_file(p.cache_file, bad);
      const Registry r = Registry::discover(p);
      REQUIRE(r.plugins().size() == 1);
      const auto& m = r.plugins()[0];
      CHECK(m.id == "org.test.compressor.good");
      CHECK(m.version == "1.0.0");
      REQUIRE(m.params.size() == 1);
      CHECK(m.params[0].name == "sparsity");
      CHECK(*m.params[0].max == 1.0);
      CHECK(test::read_file(p.cache_file) == good);  // the bad cache was replaced, not kept
      ++checked;
    }
  }
  CHECK(checked == static_cast<int>(2 * good.size()));
}

// Issue 14, item 10: the cache kept every manifest it had ever seen (3.2 MB after the test suite).
TEST_CASE("the registry cache keeps only the manifests of the current search path", "[registry][cache]") {
  test::TempDir tmp;
  SearchPaths p;
  p.cache_file = (tmp / "registry.bin").string();
  std::uintmax_t first_size = 0;
  for (int i = 0; i < 5; ++i) {  // five temporary plugin folders, listed one after the other
    const std::string sub = "tmp" + std::to_string(i);
    test::plugin_dir_with(tmp, sub, "org.test.compressor.good", "tp_good");
    p.dirs = {{(tmp / sub).string(), "--plugin-path"}};
    REQUIRE(Registry::discover(p).plugins().size() == 1);
    const std::string cache = test::read_file(p.cache_file);
    CHECK(contains(cache, (tmp / sub).string()));
    for (int j = 0; j < i; ++j) CHECK_FALSE(contains(cache, (tmp / ("tmp" + std::to_string(j))).string() + "/"));
    if (i == 0) first_size = fs::file_size(p.cache_file);
    CHECK(fs::file_size(p.cache_file) == first_size);  // same-length paths: one entry each time
  }
  fs::remove_all(tmp / "tmp4");
  p.dirs = {{(tmp / "tmp4").string(), "--plugin-path"}};
  CHECK(Registry::discover(p).plugins().empty());
  CHECK_FALSE(contains(test::read_file(p.cache_file), "tmp4"));
}

// Issue 14, item 11: an unreadable plugin directory was skipped without a word. Permissions do not stop root, so
// as root the discovery runs in a child process that drops to user nobody first.
TEST_CASE("an unreadable plugin directory draws a warning, and the readable ones are still searched", "[registry]") {
  test::TempDir tmp;
  test::plugin_dir_with(tmp, "dir", "org.test.compressor.good", "tp_good");
  test::plugin_dir_with(tmp, "dir/locked", "org.test.compressor.other", "tp_good_b");
  test::plugin_dir_with(tmp, "top", "org.test.compressor.top", "tp_good");
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  for (const auto& e : fs::recursive_directory_iterator(tmp.path()))
    fs::permissions(e.path(), fs::perms::others_read | (e.is_directory() ? fs::perms::others_exec : fs::perms::none),
                    fs::perm_options::add);
  fs::permissions(tmp / "dir" / "locked", fs::perms::owner_all);  // no one else may read it
  fs::permissions(tmp / "top", fs::perms::owner_all);
  const bool root = ::geteuid() == 0;
  if (!root) {
    fs::permissions(tmp / "dir" / "locked", fs::perms::none);
    fs::permissions(tmp / "top", fs::perms::none);
  }
  const SearchPaths p = paths({{(tmp / "dir").string(), "--plugin-path"}, {(tmp / "top").string(), "--plugin-path"}});
  // Returns 0 when discovery found the readable plugin and warned about both unreadable directories.
  const auto check = [&]() -> int {
    const Registry r = Registry::discover(p);
    const std::string w = all_warnings(r);
    const bool ok = r.plugins().size() == 1 && r.plugins()[0].id == "org.test.compressor.good" &&
                    contains(w, "cannot read plugin directory " + (tmp / "dir" / "locked").string() +
                                    ": Permission denied") &&
                    contains(w, "cannot read plugin directory " + (tmp / "top").string() + ": Permission denied");
    if (!ok) std::fprintf(stderr, "plugins: %zu, warnings:\n%s", r.plugins().size(), w.c_str());
    return ok ? 0 : 1;
  };
  int rc = -1;
  if (root) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(::setgid(65534) == 0 && ::setuid(65534) == 0 ? check() : 2);
    int status = 0;
    ::waitpid(pid, &status, 0);
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  } else {
    rc = check();
  }
  fs::permissions(tmp / "dir" / "locked", fs::perms::owner_all);
  fs::permissions(tmp / "top", fs::perms::owner_all);
  CHECK(rc == 0);
}
