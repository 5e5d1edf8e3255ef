#include <compaudit/error.h>

#include <catch2/catch.hpp>

#include <set>

using namespace compaudit;

TEST_CASE("errors render as file:line:column: category error: message", "[sdk][error]") {
  const Error located(ErrorCode::pipeline, "unknown key 'sparsty'", {"audit.toml", 12, 3});
  CHECK(std::string(located.what()) == "audit.toml:12:3: pipeline error: unknown key 'sparsty'");
  CHECK(located.message() == "unknown key 'sparsty'");
  CHECK(located.where().line == 12);

  const Error bare(ErrorCode::runtime, "plugin threw");
  CHECK(std::string(bare.what()) == "runtime error: plugin threw");

  const Error file_only(ErrorCode::data, "truncated", {"train.idx"});
  CHECK(std::string(file_only.what()) == "train.idx: data error: truncated");
}

TEST_CASE("every error code has its own name", "[sdk][error]") {
  std::set<std::string> names;
  for (int c = 1; c <= 10; ++c) names.insert(to_string(static_cast<ErrorCode>(c)));
  CHECK(names.size() == 10);
  CHECK(names.count("unknown") == 0);
}
