// Manifest parsing. Strict by design: unknown keys, wrong types and a library outside the manifest's directory are
// errors with file:line:column, because a manifest is the only thing `validate` trusts before any code runs.
#include <compaudit/host/manifest.h>

#include "manifest_internal.h"
#include "toml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iterator>
#include <set>

namespace fs = std::filesystem;

namespace compaudit::host {
namespace {
using detail::TableReader;

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// Reverse-DNS: at least two dot-separated labels of [a-z0-9_-].
bool is_reverse_dns(const std::string& s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string::npos) return false;
  if (s.find('.') == std::string::npos) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

bool is_version(const std::string& s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+')) return false;
  return true;
}

bool is_sha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// `refers_to`: what a parameter's values name in the pipeline's model (see Manifest::refers_to), so `validate`
// can check them against the model. Only string parameters can name things.
std::string parse_refers_to(TableReader& r, const ParamSpec& spec) {
  const auto value = r.string("refers_to");
  if (!value) return {};
  const auto& known = kParamReferences;
  if (std::find(std::begin(known), std::end(known), *value) == std::end(known))
    r.fail("refers_to", fmt::format("parameter '{}': unknown refers_to '{}' (expected \"{}\")", spec.name, *value,
                                    fmt::join(std::begin(known), std::end(known), "\", \"")));
  if (spec.type != ParamType::string && spec.type != ParamType::string_list)
    r.fail("refers_to", fmt::format("parameter '{}': refers_to needs a string or string_list parameter, not {}",
                                    spec.name, to_string(spec.type)));
  return *value;
}

ParamSpec parse_param(const toml::table& table, const std::string& file, std::size_t index,
                      std::string& refers_to) {
  TableReader r(table, file, fmt::format("[[param]] #{}", index + 1), ErrorCode::manifest);
  ParamSpec spec;
  spec.name = r.required_string("name");
  if (!is_identifier(spec.name)) r.fail("name", fmt::format("parameter name '{}' is not an identifier", spec.name));
  const std::string type = r.required_string("type");
  auto parsed = param_type_from_string(type);
  if (!parsed)
    r.fail("type", fmt::format("parameter '{}': unknown type '{}' (expected bool, int, float, string, int_list, "
                               "float_list or string_list)", spec.name, type));
  spec.type = *parsed;
  spec.min = r.number("min");
  spec.max = r.number("max");
  if (spec.min && spec.max && *spec.min > *spec.max)
    r.fail("min", fmt::format("parameter '{}': min {} is above max {}", spec.name, *spec.min, *spec.max));
  if (auto choices = r.strings("choices")) spec.choices = *choices;
  spec.doc = r.string("doc").value_or("");
  if (const toml::node* d = r.node("default")) {
    auto value = detail::to_param_value(*d);
    if (!value) r.fail_value(*d, fmt::format("parameter '{}': default is not a {}", spec.name, type));
    std::string problem = check_value(spec, *value);
    if (!problem.empty()) r.fail_value(*d, fmt::format("parameter '{}': default {}", spec.name, problem));
    spec.default_value = coerce(spec, *value);
  }
  refers_to = parse_refers_to(r, spec);
  r.finish();
  return spec;
}

// The library path: relative, lexically inside the manifest's directory, an existing regular file (symlinks are
// followed, so a packager may link to a library kept elsewhere).
std::string resolve_library(const TableReader& r, const std::string& text, const fs::path& manifest_dir,
                            const std::unordered_set<std::string>* regular_files, bool must_exist) {
  if (text.empty()) r.fail("library", "library is empty");
  const fs::path rel(text);
  if (rel.is_absolute())
    r.fail("library", fmt::format("library '{}' must be relative to the manifest's directory", text));
  const fs::path normal = rel.lexically_normal();
  if (!normal.empty() && *normal.begin() == "..")
    r.fail("library", fmt::format("library '{}' escapes the manifest's directory", text));
  const fs::path full = (manifest_dir / normal).lexically_normal();
  if (!must_exist || (regular_files && regular_files->count(full.string()))) return full.string();
  std::error_code ec;
  const auto status = fs::status(full, ec);
  if (!fs::exists(status)) r.fail("library", fmt::format("library '{}' does not exist ({})", text, full.string()));
  if (fs::is_directory(status)) r.fail("library", fmt::format("library '{}' is a directory", text));
  if (!fs::is_regular_file(status)) r.fail("library", fmt::format("library '{}' is not a regular file", text));
  return full.string();
}
}  // namespace

Manifest parse_manifest(const std::string& path) { return detail::parse_manifest(path, nullptr); }

Manifest parse_manifest_before_build(const std::string& path) { return detail::parse_manifest(path, nullptr, false); }

bool is_plugin_id(const std::string& id) { return is_reverse_dns(id); }

Manifest detail::parse_manifest(const std::string& path, const std::unordered_set<std::string>* regular_files,
                                bool library_must_exist) {
  const std::string file = fs::absolute(path).lexically_normal().string();
  const toml::table root = detail::parse_toml_file(file, ErrorCode::manifest);
  TableReader r(root, file, "manifest", ErrorCode::manifest);
  Manifest m;
  m.path = file;
  m.id = r.required_string("id");
  if (!is_reverse_dns(m.id))
    r.fail("id", fmt::format("id '{}' is not a reverse-DNS name such as \"org.example.compressor.halve\"", m.id));
  m.version = r.required_string("version");
  if (!is_version(m.version)) r.fail("version", fmt::format("version '{}' is not like \"1.2.0\"", m.version));
  const std::string kind = r.required_string("kind");
  auto parsed_kind = plugin_kind_from_string(kind);
  if (!parsed_kind)
    r.fail("kind", fmt::format("unknown kind '{}' (expected compressor, metric or augmentation)", kind));
  m.kind = *parsed_kind;
  // Checked before narrowing to int: abi = 4294967297 must not pass as ABI 1 (found with fuzz_manifest).
  const std::int64_t abi = r.required_integer("abi");
  if (abi != COMPAUDIT_SDK_ABI_VERSION)
    r.fail("abi", fmt::format("abi = {} but this host loads SDK ABI {} plugins", abi, COMPAUDIT_SDK_ABI_VERSION));
  m.abi = static_cast<int>(abi);
  m.description = r.string("description").value_or("");
  m.license = r.string("license").value_or("");
  m.sha256 = r.string("sha256").value_or("");
  if (!m.sha256.empty()) {
    if (!is_sha256(m.sha256)) r.fail("sha256", "sha256 must be 64 hexadecimal digits");
    for (auto& c : m.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (auto needs = r.strings("needs")) {
    if (m.kind != PluginKind::metric) r.fail("needs", "'needs' is only allowed for metrics");
    for (const auto& n : *needs)
      if (n != "probabilities" && n != "memorization" && n != "population")
        r.fail("needs", fmt::format("unknown need '{}' (expected \"probabilities\", \"memorization\" or "
                                    "\"population\")", n));
    m.needs = *needs;
  }
  if (auto trains = r.boolean("trains")) {
    if (m.kind != PluginKind::compressor) r.fail("trains", "'trains' is only allowed for compressors");
    m.trains = *trains;
  }
  if (const toml::node* params = r.node("param")) {
    const toml::array* array = params->as_array();
    if (!array || !array->is_array_of_tables()) r.fail_value(*params, "'param' must be an array of tables ([[param]])");
    std::set<std::string> names;
    for (std::size_t i = 0; i < array->size(); ++i) {
      std::string refers_to;
      ParamSpec spec = parse_param(*array->get(i)->as_table(), file, i, refers_to);
      if (!names.insert(spec.name).second)
        r.fail_value(*array->get(i), fmt::format("parameter '{}' is declared twice", spec.name));
      if (!refers_to.empty()) m.refers_to[spec.name] = refers_to;
      m.params.push_back(std::move(spec));
    }
  }
  const std::string library = r.required_string("library");
  r.finish();  // unknown keys first: a typo is the likelier mistake
  m.library = resolve_library(r, library, fs::path(file).parent_path(), regular_files, library_must_exist);
  return m;
}

int compare_versions(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : s) {
      if (c == '.' || c == '-' || c == '+') {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    parts.push_back(cur);
    return parts;
  };
  auto pa = split(a), pb = split(b);
  const std::size_t n = std::max(pa.size(), pb.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string x = i < pa.size() ? pa[i] : "0", y = i < pb.size() ? pb[i] : "0";
    const bool nx = !x.empty() && x.find_first_not_of("0123456789") == std::string::npos;
    const bool ny = !y.empty() && y.find_first_not_of("0123456789") == std::string::npos;
    if (nx && ny) {
      // Compared as digit strings, not with stoull: a component past 2^64 ("99999999999999999999") is a valid
      // version and must not throw out of Registry::discover (found by fuzz/targets/fuzz_manifest.cpp).
      const std::string dx = x.substr(std::min(x.find_first_not_of('0'), x.size()));
      const std::string dy = y.substr(std::min(y.find_first_not_of('0'), y.size()));
      if (dx.size() != dy.size()) return dx.size() < dy.size() ? -1 : 1;
      if (dx != dy) return dx < dy ? -1 : 1;
    } else if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

}  // namespace compaudit::host
