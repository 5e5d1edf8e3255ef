// A compressor library that cannot be loaded stops `compaudit run` with exit 3 (docs/cli.md) — in process before any
// cell, isolated before any cell of its arm — instead of failing every cell of its arm with exit 1.
#include "cli_process.h"

#include <compaudit/host/exit_codes.h>

#include <catch2/catch.hpp>

using namespace isolation_test;

TEST_CASE("A compressor whose library cannot load stops the run with exit 3", "[isolation][load]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();  // the data is checked before the plugins load
  const fs::path dir = scratch_dir("load-failure");
  const fs::path plugins = dir / "plugins";
  fs::create_directories(plugins);
  // A real library built for SDK ABI 2 (tests/core/plugins/crafted_plugin.cpp), behind a valid manifest.
  fs::copy_file(TP_ABI_MAJOR, plugins / "libabi2.so");
  write_text(plugins / "abi2.toml", R"(id = "org.test.compressor.crafted"
version = "1.0.0"
kind = "compressor"
library = "libabi2.so"
abi = 1
description = "Test plugin: a library built for another SDK ABI"
license = "MIT"
)");
  compaudit::test_support::DigitsAudit audit;
  audit.name = "load-failure";
  audit.seeds = 2;
  audit.hidden = "[16]";
  audit.arms = "\n[[arm]]\nname = \"abi2\"\n  [[arm.step]]\n  plugin = \"org.test.compressor.crafted\"\n";
  write_text(dir / "p.toml", audit.toml());
  for (const char* isolate : {"none", "process"}) {
    DYNAMIC_SECTION("--isolate " << isolate) {
      const fs::path run = dir / (std::string("run-") + isolate);
      const fs::path log = dir / (std::string(isolate) + ".log");
      const int rc = isolation_test::run({"run", (dir / "p.toml").string(), "-o", run.string(), "-q", "--isolate",
                                          isolate, "--plugin-path", plugins.string()},
                                         log);
      const std::string text = read_text(log);
      INFO(text);
      CHECK(rc == compaudit::host::exit_plugin);
      CHECK(text.find("SDK ABI 2") != std::string::npos);
      // In process every compressor library is opened before the first cell, so nothing is computed; isolated, each
      // worker opens its own cell's libraries, so dense cells may be done (kept: a resume after the fix reuses them)
      // but no cell of the arm whose library cannot load.
      if (auto store = try_open(run))
        for (const auto& c : store->cells(compaudit::store::CellStatus::done)) {
          CHECK(c.arm != "abi2");
          if (std::string(isolate) == "none") CHECK(c.arm.empty());  // none at all
        }
    }
  }
}
