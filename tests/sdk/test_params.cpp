#include <compaudit/params.h>

#include <catch2/catch.hpp>

using namespace compaudit;

namespace {
ParamSpec sparsity_spec() {
  ParamSpec s;
  s.name = "sparsity";
  s.type = ParamType::real;
  s.default_value = 0.5;
  s.min = 0.0;
  s.max = 1.0;
  return s;
}
ParamSpec scope_spec() {
  ParamSpec s;
  s.name = "scope";
  s.type = ParamType::string;
  s.default_value = std::string("global");
  s.choices = {"global", "layerwise"};
  return s;
}
}  // namespace

TEST_CASE("parameter types round-trip through their manifest spelling", "[sdk][params]") {
  for (int i = 0; i < 7; ++i) {
    auto t = static_cast<ParamType>(i);
    REQUIRE(param_type_from_string(to_string(t)) == t);
  }
  REQUIRE_FALSE(param_type_from_string("double").has_value());
}

TEST_CASE("check_value accepts values in range and names the problem otherwise", "[sdk][params]") {
  const auto spec = sparsity_spec();
  CHECK(check_value(spec, 0.9).empty());
  CHECK(check_value(spec, std::int64_t{1}).empty());  // an integer where a float is declared
  CHECK(check_value(spec, 1.5) == "sparsity = 1.5 is above its maximum 1");
  CHECK(check_value(spec, -0.1) == "sparsity = -0.1 is below its minimum 0");
  CHECK(check_value(spec, std::string("half")) == "sparsity = \"half\" has type string, expected float");
  CHECK(check_value(scope_spec(), std::string("local")) == "scope = \"local\" is not one of [\"global\", \"layerwise\"]");
  CHECK_THAT(check_value(spec, std::nan("")), Catch::Contains("not a finite number"));
}

TEST_CASE("list parameters are checked element by element", "[sdk][params]") {
  ParamSpec s;
  s.name = "levels";
  s.type = ParamType::real_list;
  s.min = 0.0;
  s.max = 1.0;
  CHECK(check_value(s, std::vector<double>{0.1, 0.5}).empty());
  CHECK_FALSE(check_value(s, std::vector<double>{0.1, 2.0}).empty());
  const ParamValue coerced = coerce(s, std::vector<std::int64_t>{0, 1});
  REQUIRE(std::get<std::vector<double>>(coerced) == std::vector<double>{0.0, 1.0});
}

TEST_CASE("Params::resolve fills defaults, coerces and reports every problem at once", "[sdk][params]") {
  const std::vector<ParamSpec> schema{sparsity_spec(), scope_spec()};

  SECTION("defaults fill what is not given") {
    const Params p = Params::resolve(schema, {});
    CHECK(p.get<double>("sparsity") == 0.5);
    CHECK(p.get<std::string>("scope") == "global");
  }
  SECTION("an integer given for a float is converted") {
    const Params p = Params::resolve(schema, {{"sparsity", std::int64_t{1}}});
    CHECK(p.get<double>("sparsity") == 1.0);
  }
  SECTION("unknown names, bad values and missing required parameters are all reported") {
    ParamSpec required;
    required.name = "bits";
    required.type = ParamType::integer;
    std::vector<ParamSpec> with_required = schema;
    with_required.push_back(required);
    try {
      Params::resolve(with_required, {{"sparsity", 1.5}, {"sparsty", 0.5}}, "arm 'prune' step 1");
      FAIL("resolve accepted bad parameters");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::parameters);
      CHECK_THAT(e.message(), Catch::Contains("arm 'prune' step 1: sparsity = 1.5 is above its maximum 1"));
      CHECK_THAT(e.message(), Catch::Contains("required parameter 'bits' (int) is missing"));
      CHECK_THAT(e.message(), Catch::Contains("unknown parameter 'sparsty'"));
    }
  }
  SECTION("asking for the wrong type is an error, not undefined behaviour") {
    const Params p = Params::resolve(schema, {});
    CHECK_THROWS_AS(p.get<std::int64_t>("sparsity"), Error);
    CHECK_THROWS_AS(p.get<double>("absent"), Error);
    CHECK(p.get_or<double>("absent", 2.0) == 2.0);
  }
}
