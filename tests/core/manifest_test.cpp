// Manifest parsing (plugin-host-rules.md faults 1–4): one small file per fault in data/manifests/bad/, each with
// the line and column the error must point at.
#include <compaudit/host/manifest.h>

#include "test_support.h"

using compaudit::ErrorCode;
using compaudit::ParamType;
using compaudit::host::compare_versions;
using compaudit::host::parse_manifest;
using test::contains;

namespace {
const fs::path kData = fs::path(TEST_DATA_DIR) / "manifests";

struct BadManifest {
  const char* file;
  int line, column;
  const char* text;
};

// Expected location and message text of every file in data/manifests/bad/.
const BadManifest kBad[] = {
    {"syntax.toml", 2, 17, "TOML syntax error"},
    {"missing_id.toml", 1, 1, "required key 'id' is missing"},
    {"version_wrong_type.toml", 2, 11, "'version' must be a string, not integer"},
    {"unknown_field.toml", 6, 1, "unknown key 'author'"},
    {"unknown_kind.toml", 3, 1, "unknown kind 'optimizer' (expected compressor, metric or augmentation)"},
    {"library_missing.toml", 4, 1, "library 'libmissing.so' does not exist"},
    {"library_empty.toml", 4, 1, "library is empty"},
    {"library_directory.toml", 4, 1, "library 'adir' is a directory"},
    {"library_escapes.toml", 4, 1, "escapes the manifest's directory"},
    {"library_absolute.toml", 4, 1, "must be relative to the manifest's directory"},
    {"id_not_reverse_dns.toml", 1, 1, "is not a reverse-DNS name"},
    {"abi_two.toml", 5, 1, "abi = 2 but this host loads SDK ABI 1 plugins"},
    {"param_unknown_type.toml", 9, 1, "parameter 'sparsity': unknown type 'double'"},
    {"param_default_out_of_range.toml", 12, 11, "default sparsity = 1.5 is above its maximum 1"},
    {"param_unknown_key.toml", 10, 1, "[[param]] #1: unknown key 'range'"},
    {"param_twice.toml", 11, 1, "parameter 'a' is declared twice"},
    {"param_min_above_max.toml", 10, 1, "min 5 is above max 1"},
    {"param_without_name.toml", 7, 1, "required key 'name' is missing"},
    {"needs_on_compressor.toml", 6, 1, "'needs' is only allowed for metrics"},
    {"needs_unknown.toml", 6, 1, "unknown need 'gradients'"},
    {"sha256_malformed.toml", 6, 1, "sha256 must be 64 hexadecimal digits"},
    {"param_not_array.toml", 6, 1, "'param' must be an array of tables"},
    {"param_refers_to_unknown.toml", 11, 1,
     "parameter 'layers': unknown refers_to 'tensor' (expected \"layer_pattern\", \"layer_exclude\", \"layer_type\", \"cut\")"},
    {"param_refers_to_float.toml", 11, 1, "parameter 'sparsity': refers_to needs a string or string_list parameter, not float"},
};
}  // namespace

TEST_CASE("every invalid manifest of the corpus fails at its line and column", "[manifest][fault]") {
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kData / "bad"))
    files += entry.path().extension() == ".toml";
  CHECK(files == std::size(kBad));  // a new corpus file needs an expectation here
  for (const auto& bad : kBad) {
    const std::string path = (kData / "bad" / bad.file).string();
    DYNAMIC_SECTION(bad.file) {
      REQUIRE_THROWS_ERROR(compaudit::Error, error, parse_manifest(path));
      CHECK(error->code() == ErrorCode::manifest);
      CHECK(error->where().file == path);
      CHECK(error->where().line == bad.line);
      CHECK(error->where().column == bad.column);
      CHECK(contains(error->message(), bad.text));
      CHECK(contains(error->what(), fmt::format("{}:{}:{}: manifest error: ", path, bad.line, bad.column)));
    }
  }
}

TEST_CASE("a manifest with every field parses into the schema", "[manifest]") {
  const auto m = parse_manifest((kData / "good" / "full.toml").string());
  CHECK(m.id == "org.test.metric.full");
  CHECK(m.version == "2.1.0");
  CHECK(m.kind == compaudit::PluginKind::metric);
  CHECK(m.abi == 1);
  CHECK(m.library == (kData / "good" / "libdummy.so").string());
  CHECK(m.path == (kData / "good" / "full.toml").string());
  CHECK(m.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(m.needs == std::vector<std::string>{"probabilities", "memorization"});
  REQUIRE(m.params.size() == 4);
  CHECK(m.params[0].name == "alpha");
  CHECK(m.params[0].type == ParamType::real);
  CHECK(std::get<double>(*m.params[0].default_value) == 1.0);  // the integer default is coerced to float
  CHECK(*m.params[0].min == 0.0);
  CHECK(*m.params[0].max == 1.0);
  CHECK(m.params[0].doc == "Significance level. Default: 1");
  CHECK(m.params[1].choices == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(m.params[2].default_value.has_value());  // required
  CHECK(m.params[2].type == ParamType::integer_list);
  CHECK(std::get<std::vector<std::string>>(*m.params[3].default_value).empty());
  CHECK(m.refers_to == std::map<std::string, std::string>{{"names", "layer_exclude"}});
}

TEST_CASE("versions compare numerically, component by component", "[manifest]") {
  CHECK(compare_versions("1.10.0", "1.9.0") > 0);
  CHECK(compare_versions("1.0", "1.0.0") == 0);
  CHECK(compare_versions("0.9", "1.0") < 0);
  CHECK(compare_versions("2.0.0", "10.0.0") < 0);
}
