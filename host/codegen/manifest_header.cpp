// compaudit-manifest-header MANIFEST OUTPUT NAMESPACE [LIBRARY_FILE] — a plugin's C++ header from its manifest.
//
// The manifest is the one place a plugin declares its id, kind, version, needs and parameters (the host reads it
// without loading code). compaudit_add_plugin runs this tool at build time so the code gets all of them from it:
// constants for COMPAUDIT_PLUGIN_MANIFEST, and an Options struct with one member per [[param]] of the manifest's
// type, default and doc, read by name from the host's checked Params. A renamed parameter is then a compile error
// where the code uses the old member, and the read can never disagree with the manifest. The manifest is parsed by
// the host's own parser, so a manifest the host would refuse fails the build with the host's message.
// The output is rewritten only when its text changes, so an edited comment elsewhere rebuilds nothing.
#include <compaudit/host/manifest.h>

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>

namespace {
using namespace compaudit;

// A C++ string literal with the same bytes (octal escapes: a hex escape would swallow following hex digits).
std::string literal(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\{:03o}", c);
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string number(double x) {
  std::string s = fmt::format("{}", x);
  return s.find_first_of(".e") == std::string::npos ? s + ".0" : s;
}

std::string number(std::int64_t x) {
  if (x == std::numeric_limits<std::int64_t>::min()) return "(-9223372036854775807 - 1)";
  return std::to_string(x);
}

template <class T, class F>
std::string braced(const std::vector<T>& values, F one) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + one(values[i]);
  return out + "}";
}

std::string initializer(const ParamValue& v) {
  switch (type_of(v)) {
    case ParamType::boolean: return std::get<bool>(v) ? "true" : "false";
    case ParamType::integer: return number(std::get<std::int64_t>(v));
    case ParamType::real: return number(std::get<double>(v));
    case ParamType::string: return literal(std::get<std::string>(v));
    case ParamType::integer_list:
      return braced(std::get<std::vector<std::int64_t>>(v), [](std::int64_t x) { return number(x); });
    case ParamType::real_list: return braced(std::get<std::vector<double>>(v), [](double x) { return number(x); });
    case ParamType::string_list: return braced(std::get<std::vector<std::string>>(v), literal);
  }
  return "{}";
}

// cpp_type_name(), with std qualified from the global namespace: a parameter may be called `std`.
std::string member_type(ParamType t) {
  switch (t) {
    case ParamType::boolean: return "bool";
    case ParamType::integer: return "::std::int64_t";
    case ParamType::real: return "double";
    case ParamType::string: return "::std::string";
    case ParamType::integer_list: return "::std::vector<::std::int64_t>";
    case ParamType::real_list: return "::std::vector<double>";
    case ParamType::string_list: return "::std::vector<::std::string>";
  }
  return "";
}

// Members are named as the parameters; a parameter named like a C++ keyword gets a trailing underscore.
std::string member_name(const std::string& name) {
  static const std::set<std::string> keywords = {
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
      "char", "char16_t", "char32_t", "char8_t", "class", "compl", "concept", "const", "const_cast", "consteval",
      "constexpr", "constinit", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
      "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
      "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
      "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
      "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
      "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"};
  return keywords.count(name) ? name + "_" : name;
}

// `///` lines of a doc; a line ending in a backslash would splice the next source line into the comment.
std::string doc_comment(const std::string& doc, const std::string& indent) {
  std::string out;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty() && line.back() == '\\') line += '.';
    out += indent + "///" + (line.empty() ? "" : " " + line) + "\n";
  }
  return out;
}

std::string schema_note(const ParamSpec& p) {
  std::string note = fmt::format("manifest: {} {}", to_string(p.type), p.name);
  if (!p.default_value) note += ", required";
  if (p.min || p.max)
    note += fmt::format(", in [{}, {}]", p.min ? fmt::format("{}", *p.min) : "-inf",
                        p.max ? fmt::format("{}", *p.max) : "inf");
  if (!p.choices.empty()) note += ", one of " + braced(p.choices, literal);
  return note;
}

std::string kind_enum(PluginKind k) {
  switch (k) {
    case PluginKind::compressor: return "::compaudit::PluginKind::compressor";
    case PluginKind::metric: return "::compaudit::PluginKind::metric";
    case PluginKind::augmentation: return "::compaudit::PluginKind::augmentation";
  }
  return "";
}

bool has_need(const host::Manifest& m, const char* need) {
  for (const auto& n : m.needs)
    if (n == need) return true;
  return false;
}

// The parameter that `refers_to` the given role, or "".
std::string referring(const host::Manifest& m, const char* role) {
  for (const auto& [name, refers] : m.refers_to)
    if (refers == role) return name;
  return "";
}

std::string header(const host::Manifest& m, const std::string& manifest_arg, const std::string& ns) {
  const std::string name = manifest_arg.substr(manifest_arg.find_last_of('/') + 1);
  const std::string layers = referring(m, "layer_pattern"), exclude = referring(m, "layer_exclude"),
                    types = referring(m, "layer_type");
  const bool selects = !layers.empty() && !exclude.empty() && !types.empty();
  std::string h = fmt::format(
      "// Generated from {} by compaudit-manifest-header (compaudit_add_plugin). Do not edit: edit the manifest.\n"
      "// {} {} ({}): {}\n"
      "#pragma once\n\n#include <compaudit/params.h>\n#include <compaudit/plugin.h>\n",
      name, m.id, m.version, to_string(m.kind), m.description);
  if (m.kind == PluginKind::metric) h += "#include <compaudit/metric.h>\n";
  if (selects) h += "#include <compaudit/layer_selection.h>\n";
  h += "\n#include <cstdint>\n#include <string>\n#include <vector>\n\n";
  h += fmt::format("namespace {} {{\n\n", ns);
  h += fmt::format("inline constexpr const char* id = {};\n", literal(m.id));
  h += fmt::format("inline constexpr ::compaudit::PluginKind kind = {};\n", kind_enum(m.kind));
  h += fmt::format("inline constexpr const char* version = {};\n", literal(m.version));
  if (m.kind == PluginKind::compressor)
    h += fmt::format("inline constexpr bool trains = {};  ///< compress() trains the model itself\n", m.trains);
  if (m.kind == PluginKind::metric) {
    h += fmt::format("/// needs = [{}]; return it from Metric::needs().\n",
                     m.needs.empty() ? "" : "\"" + fmt::format("{}", fmt::join(m.needs, "\", \"")) + "\"");
    h += fmt::format("inline constexpr ::compaudit::MetricNeeds needs{{/*probabilities=*/{}, /*memorization=*/{}}};\n",
                     has_need(m, "probabilities"), has_need(m, "memorization"));
    h += fmt::format("inline constexpr bool needs_population = {};\n", has_need(m, "population"));
  }
  h += "\n/// The manifest's [[param]] tables: one member each, of its type, with its default (required ones are\n"
       "/// value-initialised; the host always sets them). Options(params) reads every one by its manifest name.\n"
       "struct Options {\n";
  for (const auto& p : m.params) {
    h += doc_comment(p.doc, "  ");
    h += fmt::format("  /// ({})\n", schema_note(p));
    h += fmt::format("  {} {}{};\n", member_type(p.type), member_name(p.name),
                     p.default_value ? " = " + initializer(*p.default_value) : "{}");
  }
  h += fmt::format("{}  Options() = default;\n", m.params.empty() ? "" : "\n");
  if (m.params.empty()) {
    h += "  explicit Options(const ::compaudit::Params&) {}\n";
  } else {
    h += "  explicit Options(const ::compaudit::Params& params)\n";
    for (std::size_t i = 0; i < m.params.size(); ++i) {
      const auto& p = m.params[i];
      h += fmt::format("      {} {}(params.get<{}>({}))", i ? "," : ":", member_name(p.name), member_type(p.type),
                       literal(p.name));
      h += i + 1 == m.params.size() ? " {}\n" : "\n";
    }
  }
  if (selects)
    h += fmt::format("\n  /// The layer selection of `{}` / `{}` / `{}` (refers_to), for compaudit::select_layers.\n"
                     "  ::compaudit::LayerSelection selection() const {{ return {{{}, {}, {}}}; }}\n",
                     layers, exclude, types, member_name(layers), member_name(exclude), member_name(types));
  h += "};\n\n";
  h += fmt::format("}}  // namespace {}\n", ns);
  return h;
}

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  if ((argc != 4 && argc != 5) || !is_identifier(argv[3])) {
    std::cerr << "usage: compaudit-manifest-header MANIFEST OUTPUT.h NAMESPACE [LIBRARY_FILE]\n"
                 "  NAMESPACE: a C++ identifier; LIBRARY_FILE: the file name the build gives the library\n";
    return 2;
  }
  try {
    const host::Manifest m = host::parse_manifest_before_build(argv[1]);
    if (argc == 5 && std::filesystem::path(m.library).filename() != argv[4]) {
      std::cerr << m.path << ": manifest error: library = \"" << std::filesystem::path(m.library).filename().string()
                << "\" but the build makes " << argv[4] << " (compaudit_add_plugin's target name)\n";
      return 1;
    }
    const std::string text = header(m, argv[1], argv[3]);
    std::ifstream old(argv[2], std::ios::binary);
    std::stringstream current;
    current << old.rdbuf();
    if (old && current.str() == text) return 0;
    const std::string tmp = std::string(argv[2]) + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out || std::rename(tmp.c_str(), argv[2]) != 0) {
      std::cerr << "compaudit-manifest-header: cannot write " << argv[2] << "\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";  // Error::what() is "file:line:column: manifest error: ...", as compilers print
    return 1;
  }
}
