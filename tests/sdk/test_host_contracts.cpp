// The host's side of the SDK 1.1 contracts, seen from a plugin inside a real `compaudit run`:
// tests/sdk/probe/contract_probe.cpp edits its rewind point in place, edits the masks it installed and got back,
// and draws from context.generator(salt); this test reads what it recorded from the results store.
#include "support/digits_audit.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>
#include <compaudit/testing.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace compaudit;
namespace fs = std::filesystem;

TEST_CASE("rewind_point returns fresh tensors, set_mask and mask() copy, generator(salt) is the SDK's stream",
          "[sdk][host]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const fs::path dir = fs::temp_directory_path() / fmt::format("compaudit-contracts-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  test_support::DigitsAudit audit;
  audit.name = "contracts";
  audit.seeds = 2;
  audit.epochs = 1;
  // Two arms (salt 3 and 4) share the host's rewind cache for each seed; in-process, so they share one executor.
  audit.arms = "\n[[arm]]\nname = \"probe\"\n  [[arm.step]]\n  plugin = \"org.test.compressor.contract_probe\"\n"
               "  salt = [3, 4]\n";
  audit.tables = "\n[run]\nisolation = \"none\"\n";
  std::ofstream(dir / "pipeline.toml") << audit.toml();
  const std::string command = fmt::format("'{}' run '{}' -o '{}' -q --plugin-path '{}' > '{}' 2>&1", COMPAUDIT_EXE,
                                          (dir / "pipeline.toml").string(), (dir / "run").string(), SDK_PROBE_DIR,
                                          (dir / "run.log").string());
  const int status = std::system(command.c_str());
  std::ifstream log(dir / "run.log");
  INFO(std::string(std::istreambuf_iterator<char>(log), {}));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == host::exit_ok);

  const store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  for (std::int64_t seed : {0, 1}) {
    std::map<std::uint64_t, nlohmann::json> by_salt;
    for (std::uint64_t salt : {3u, 4u}) {
      const auto cell = s.cell(fmt::format("probe@salt={}", salt), seed);
      REQUIRE(cell);
      by_salt[salt] = cell->records.at(0).at("details");
      const nlohmann::json& d = by_salt[salt];
      INFO("seed " << seed << " salt " << salt << ": " << d.dump());
      CHECK(d.at("rewind_second_call_unchanged").get<bool>());
      CHECK(d.at("set_mask_copied").get<bool>());
      CHECK(d.at("mask_returned_copy").get<bool>());
      // The host's generator is the SDK's: the testing fake with the same seed draws the same numbers.
      testing::FakeModel model(testing::mlp_weights({2, 2}));
      testing::FakeContext fake(model, seed);
      const at::Tensor want = at::rand({4}, fake.generator(salt), at::kDouble);
      CHECK(d.at("generator_draws").get<std::vector<double>>() ==
            std::vector<double>(want.data_ptr<double>(), want.data_ptr<double>() + 4));
    }
    // The arm that ran second saw the rewind point the first one had edited in place: unchanged.
    CHECK(by_salt[3].at("rewind_sum_before_edit").get<double>() == by_salt[4].at("rewind_sum_before_edit").get<double>());
    CHECK(by_salt[3].at("generator_draws") != by_salt[4].at("generator_draws"));
  }
  fs::remove_all(dir);
}
