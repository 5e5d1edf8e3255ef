#include <compaudit/params.h>

#include <fmt/format.h>

#include <cmath>
#include <set>

COMPAUDIT_NAMESPACE_BEGIN

namespace {
constexpr const char* kTypeNames[] = {"bool", "int", "float", "string", "int_list", "float_list", "string_list"};
constexpr const char* kCppTypeNames[] = {"bool",
                                         "std::int64_t",
                                         "double",
                                         "std::string",
                                         "std::vector<std::int64_t>",
                                         "std::vector<double>",
                                         "std::vector<std::string>"};

// The log Params::get records into on this thread (ParamReadLog); null when nothing listens.
thread_local ParamReadLog* active_read_log = nullptr;

std::string quote(const std::string& s) { return fmt::format("\"{}\"", s); }

template <class T>
std::string join(const std::vector<T>& v, std::string (*one)(const T&)) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + one(v[i]);
  return out + "]";
}
std::string num(const std::int64_t& x) { return std::to_string(x); }
std::string num(const double& x) { return fmt::format("{}", x); }
std::string str(const std::string& s) { return quote(s); }

bool is_numeric(ParamType t) {
  return t == ParamType::integer || t == ParamType::real || t == ParamType::integer_list ||
         t == ParamType::real_list;
}

// Every number a value holds, for range checks.
std::vector<double> numbers(const ParamValue& v) {
  if (auto p = std::get_if<std::int64_t>(&v)) return {double(*p)};
  if (auto p = std::get_if<double>(&v)) return {*p};
  if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return {p->begin(), p->end()};
  if (auto p = std::get_if<std::vector<double>>(&v)) return *p;
  return {};
}

std::vector<std::string> strings(const ParamValue& v) {
  if (auto p = std::get_if<std::string>(&v)) return {*p};
  if (auto p = std::get_if<std::vector<std::string>>(&v)) return *p;
  return {};
}

// Whether `actual` may stand where `wanted` is declared: exact, or int where float is declared. An empty list
// parses as whichever list type; accept it for any list.
bool compatible(ParamType wanted, const ParamValue& value) {
  const ParamType actual = type_of(value);
  if (actual == wanted) return true;
  if (wanted == ParamType::real && actual == ParamType::integer) return true;
  if (wanted == ParamType::real_list && actual == ParamType::integer_list) return true;
  const bool wanted_list = wanted == ParamType::integer_list || wanted == ParamType::real_list ||
                           wanted == ParamType::string_list;
  if (wanted_list) {
    if (auto p = std::get_if<std::vector<std::int64_t>>(&value)) return p->empty();
    if (auto p = std::get_if<std::vector<double>>(&value)) return p->empty();
    if (auto p = std::get_if<std::vector<std::string>>(&value)) return p->empty();
  }
  return false;
}
}  // namespace

const char* to_string(ParamType type) noexcept { return kTypeNames[static_cast<int>(type)]; }

const char* cpp_type_name(ParamType type) noexcept { return kCppTypeNames[static_cast<int>(type)]; }

std::optional<ParamType> param_type_from_string(const std::string& name) noexcept {
  for (int i = 0; i < 7; ++i)
    if (name == kTypeNames[i]) return static_cast<ParamType>(i);
  return std::nullopt;
}

ParamType type_of(const ParamValue& value) noexcept { return static_cast<ParamType>(value.index()); }

std::string to_string(const ParamValue& value) {
  switch (type_of(value)) {
    case ParamType::boolean: return std::get<bool>(value) ? "true" : "false";
    case ParamType::integer: return num(std::get<std::int64_t>(value));
    case ParamType::real: return num(std::get<double>(value));
    case ParamType::string: return quote(std::get<std::string>(value));
    case ParamType::integer_list: return join<std::int64_t>(std::get<std::vector<std::int64_t>>(value), num);
    case ParamType::real_list: return join<double>(std::get<std::vector<double>>(value), num);
    case ParamType::string_list: return join<std::string>(std::get<std::vector<std::string>>(value), str);
  }
  return "?";
}

std::string check_value(const ParamSpec& spec, const ParamValue& value) {
  if (!compatible(spec.type, value))
    return fmt::format("{} = {} has type {}, expected {}", spec.name, to_string(value),
                       to_string(type_of(value)), to_string(spec.type));
  if (is_numeric(spec.type)) {
    for (double x : numbers(value)) {
      if (!std::isfinite(x)) return fmt::format("{} = {} is not a finite number", spec.name, to_string(value));
      if (spec.min && x < *spec.min)
        return fmt::format("{} = {} is below its minimum {}", spec.name, to_string(value), *spec.min);
      if (spec.max && x > *spec.max)
        return fmt::format("{} = {} is above its maximum {}", spec.name, to_string(value), *spec.max);
    }
  }
  if (!spec.choices.empty()) {
    for (const auto& s : strings(value)) {
      bool ok = false;
      for (const auto& c : spec.choices) ok = ok || c == s;
      if (!ok)
        return fmt::format("{} = {} is not one of {}", spec.name, quote(s),
                           join<std::string>(spec.choices, str));
    }
  }
  return {};
}

ParamValue coerce(const ParamSpec& spec, const ParamValue& value) {
  if (spec.type == ParamType::real)
    if (auto p = std::get_if<std::int64_t>(&value)) return double(*p);
  if (spec.type == ParamType::real_list) {
    if (auto p = std::get_if<std::vector<std::int64_t>>(&value)) return std::vector<double>(p->begin(), p->end());
  }
  if (type_of(value) != spec.type) {  // an empty list of another element type
    switch (spec.type) {
      case ParamType::integer_list: return std::vector<std::int64_t>{};
      case ParamType::real_list: return std::vector<double>{};
      case ParamType::string_list: return std::vector<std::string>{};
      default: break;
    }
  }
  return value;
}

Params Params::resolve(const std::vector<ParamSpec>& schema, const std::map<std::string, ParamValue>& given,
                       const std::string& context) {
  std::vector<std::string> problems;
  Params out;
  std::set<std::string> known;
  for (const auto& spec : schema) {
    known.insert(spec.name);
    auto it = given.find(spec.name);
    if (it == given.end()) {
      if (spec.default_value)
        out.set(spec.name, coerce(spec, *spec.default_value));
      else
        problems.push_back(fmt::format("required parameter '{}' ({}) is missing", spec.name, to_string(spec.type)));
      continue;
    }
    std::string problem = check_value(spec, it->second);
    if (problem.empty())
      out.set(spec.name, coerce(spec, it->second));
    else
      problems.push_back(problem);
  }
  for (const auto& [name, value] : given) {
    if (known.count(name)) continue;
    std::string names;
    for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
    problems.push_back(fmt::format("unknown parameter '{}' (known: {})", name, names.empty() ? "none" : names));
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "\n") + (context.empty() ? p : context + ": " + p);
    throw Error(ErrorCode::parameters, message);
  }
  return out;
}

const ParamValue& Params::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error(ErrorCode::parameters, fmt::format("parameter '{}' is not set", name));
  return it->second;
}

const ParamValue& Params::at(const std::string& name, ParamType asked) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  std::string names;
  for (const auto& [known, value] : values_) names += (names.empty() ? "" : ", ") + known;
  throw Error(ErrorCode::parameters,
              fmt::format("the plugin asks for parameter '{}' ({}), which its manifest does not declare "
                          "(declared: {})", name, cpp_type_name(asked), names.empty() ? "none" : names));
}

void Params::note_read(const std::string& name, ParamType asked) const {
  for (ParamReadLog* log = active_read_log; log; log = log->outer_) {
    bool seen = false;
    for (const auto& read : log->reads_) seen = seen || (read.name == name && read.type == asked);
    if (!seen) log->reads_.push_back({name, asked});
  }
}

void Params::throw_wrong_type(const std::string& name, const ParamValue& v) {
  throw Error(ErrorCode::parameters,
              fmt::format("parameter '{}' has type {}, not the one asked for", name, to_string(type_of(v))));
}

void Params::throw_wrong_type(const std::string& name, const ParamValue& v, ParamType asked) {
  throw Error(ErrorCode::parameters,
              fmt::format("parameter '{}' is declared {} ({}) but the plugin reads it as {}", name,
                          to_string(type_of(v)), cpp_type_name(type_of(v)), cpp_type_name(asked)));
}

ParamReadLog::ParamReadLog() noexcept : outer_(active_read_log) { active_read_log = this; }

ParamReadLog::~ParamReadLog() { active_read_log = outer_; }

COMPAUDIT_NAMESPACE_END
