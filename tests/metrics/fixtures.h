// fixtures.h — reads scripts/fixtures/metrics/metrics_fixtures.json (written by make_fixtures.py with scipy and
// sklearn) for the metric tests.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>
#include <string>

namespace compaudit::test {

/// A JSON fixture file, parsed; throws naming the file when it cannot be opened.
inline nlohmann::json read_fixture(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

/// The whole fixture file, parsed once.
inline const nlohmann::json& metric_fixtures() {
  static const nlohmann::json fixtures = [] {
    std::ifstream in(COMPAUDIT_METRIC_FIXTURES);
    if (!in) throw std::runtime_error("cannot open " COMPAUDIT_METRIC_FIXTURES);
    return nlohmann::json::parse(in);
  }();
  return fixtures;
}

}  // namespace compaudit::test
