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

TEST_CASE("a ParamReadLog records every name and C++ type asked for, once, while it lives", "[sdk][params]") {
  Params p = Params::resolve({sparsity_spec(), scope_spec()}, {});
  (void)p.get<double>("sparsity");  // before any log: not recorded anywhere
  ParamReadLog log;
  (void)p.get<double>("sparsity");
  (void)p.get<double>("sparsity");
  (void)p.get_or<std::int64_t>("amount", 3);  // undeclared: recorded although a fallback exists
  CHECK_THROWS_AS(p.get<std::int64_t>("scope"), Error);  // wrong type: recorded, then refused
  {
    ParamReadLog inner;  // nested logs all record
    (void)p.get<std::string>("scope");
    REQUIRE(inner.reads().size() == 1);
  }
  const auto& reads = log.reads();
  REQUIRE(reads.size() == 4);
  CHECK(reads[0].name == "sparsity");
  CHECK(reads[0].type == ParamType::real);
  CHECK(reads[1].name == "amount");
  CHECK(reads[1].type == ParamType::integer);
  CHECK(reads[2].name == "scope");
  CHECK(reads[2].type == ParamType::integer);
  CHECK(reads[3].name == "scope");
  CHECK(reads[3].type == ParamType::string);
}

TEST_CASE("reading a parameter by another name or type names both types", "[sdk][params]") {
  Params p = Params::resolve({sparsity_spec(), scope_spec()}, {});
  try {
    (void)p.get<std::int64_t>("sparsity");
    FAIL("get<std::int64_t> of a float parameter must throw");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::parameters);
    CHECK(e.message() == "parameter 'sparsity' is declared float (double) but the plugin reads it as std::int64_t");
  }
  try {
    (void)p.get<double>("amount");
    FAIL("get of an undeclared parameter must throw");
  } catch (const Error& e) {
    CHECK(e.message() ==
          "the plugin asks for parameter 'amount' (double), which its manifest does not declare (declared: scope, "
          "sparsity)");
  }
  CHECK(std::string(cpp_type_name(ParamType::string_list)) == "std::vector<std::string>");
  STATIC_REQUIRE(param_type_of<std::vector<double>>() == ParamType::real_list);
}
