// compaudit/params.h — typed plugin parameters and their schema.
//
// A plugin's parameters are declared once, in its manifest ([[param]] tables). The host reads that schema without
// loading the plugin, checks a pipeline's values against it, fills in defaults, and hands the plugin a complete
// Params object. A plugin therefore never sees a missing or ill-typed parameter. It reads them through the options
// struct that compaudit_add_plugin generates from the manifest (<target>_manifest.h, docs/plugin-authoring.md):
//
//     explicit MyPruner(const compaudit::Params& p) : options_(p) {}   // my_pruner_manifest::Options options_;
//
// which calls get<T>(name) once per [[param]] with the manifest's name and type. Code that calls get<T> itself is
// checked by `compaudit plugins inspect ID --load`: while a plugin is created the host records every name and type
// it asks for (ParamReadLog) and refuses a name the manifest does not declare or a type other than the declared one.
#pragma once

#include <compaudit/error.h>
#include <compaudit/export.h>
#include <compaudit/version.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

COMPAUDIT_NAMESPACE_BEGIN

/// The types a parameter may have. Their manifest spelling is given by to_string(ParamType).
enum class ParamType : int {
  boolean,       ///< "bool"
  integer,       ///< "int" (int64)
  real,          ///< "float" (double); an integer literal is accepted
  string,        ///< "string"
  integer_list,  ///< "int_list"
  real_list,     ///< "float_list"
  string_list,   ///< "string_list"
};

COMPAUDIT_SDK_API const char* to_string(ParamType type) noexcept;
/// Parses "bool", "int", "float", "string", "int_list", "float_list", "string_list"; nullopt otherwise.
COMPAUDIT_SDK_API std::optional<ParamType> param_type_from_string(const std::string& name) noexcept;

/// One value. The alternative's index equals the ParamType's value.
using ParamValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                                std::vector<double>, std::vector<std::string>>;

COMPAUDIT_SDK_API ParamType type_of(const ParamValue& value) noexcept;

/// The C++ type a parameter of `type` is read as: "bool", "std::int64_t", "double", "std::string",
/// "std::vector<std::int64_t>", "std::vector<double>", "std::vector<std::string>".
COMPAUDIT_SDK_API const char* cpp_type_name(ParamType type) noexcept;

/// The ParamType read by Params::get<T>: param_type_of<double>() is ParamType::real. Any other T does not compile.
template <class T>
constexpr ParamType param_type_of() noexcept {
  if constexpr (std::is_same_v<T, bool>) return ParamType::boolean;
  else if constexpr (std::is_same_v<T, std::int64_t>) return ParamType::integer;
  else if constexpr (std::is_same_v<T, double>) return ParamType::real;
  else if constexpr (std::is_same_v<T, std::string>) return ParamType::string;
  else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) return ParamType::integer_list;
  else if constexpr (std::is_same_v<T, std::vector<double>>) return ParamType::real_list;
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return ParamType::string_list;
  else static_assert(sizeof(T) == 0, "a parameter is read as bool, std::int64_t, double, std::string or a "
                                     "std::vector of std::int64_t, double or std::string");
}
/// Human-readable rendering, TOML-like: 0.5, "global", [1, 2].
COMPAUDIT_SDK_API std::string to_string(const ParamValue& value);

/// The schema of one parameter, as declared in a manifest's [[param]] table.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::real;
  std::optional<ParamValue> default_value;  ///< Absent: the parameter is required.
  std::optional<double> min;                ///< Inclusive bounds for numbers (each element of a numeric list).
  std::optional<double> max;
  std::vector<std::string> choices;         ///< Allowed values for strings (each element of a string list).
  std::string doc;
};

/// Checks one value against its spec. Returns an empty string when it fits, otherwise a message such as
/// "sparsity = 1.5 is above its maximum 1". Integers are accepted for float parameters (and converted by
/// coerce()).
COMPAUDIT_SDK_API std::string check_value(const ParamSpec& spec, const ParamValue& value);
/// Converts an accepted value to exactly the spec's type (int -> float, int list -> float list).
COMPAUDIT_SDK_API ParamValue coerce(const ParamSpec& spec, const ParamValue& value);

/// A complete, checked set of parameter values. Cheap to copy.
class COMPAUDIT_SDK_API Params {
 public:
  Params() = default;

  void set(const std::string& name, ParamValue value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, ParamValue>& values() const noexcept { return values_; }

  /// The value of `name` as T (one of ParamValue's alternatives). Throws Error(parameters) when the parameter is
  /// absent or has another type — which cannot happen for parameters declared in the manifest.
  /// Every call is recorded by the ParamReadLog active on this thread, if any.
  template <class T>
  const T& get(const std::string& name) const {
    note_read(name, param_type_of<T>());
    return value_as<T>(name);
  }

  /// Like get(), but returns `fallback` when the parameter is absent. Recorded like get(): a name the manifest
  /// does not declare is refused by `inspect --load` even though a fallback exists (it could never be set).
  template <class T>
  T get_or(const std::string& name, T fallback) const {
    note_read(name, param_type_of<T>());
    return has(name) ? value_as<T>(name) : fallback;
  }

  /// Builds the complete parameter set from a schema and user-given values: unknown names, wrong types, values
  /// out of range and missing required parameters are reported together in one Error(parameters) whose message
  /// has one line per problem, each prefixed by `context` (e.g. "arm 'prune' step 1").
  static Params resolve(const std::vector<ParamSpec>& schema, const std::map<std::string, ParamValue>& given,
                        const std::string& context = {});

 private:
  template <class T>
  const T& value_as(const std::string& name) const {
    const ParamValue& v = at(name, param_type_of<T>());
    if (const T* p = std::get_if<T>(&v)) return *p;
    throw_wrong_type(name, v, param_type_of<T>());
  }
  const ParamValue& at(const std::string& name) const;  // SDK ABI 1.0; kept for plugins built against it
  const ParamValue& at(const std::string& name, ParamType asked) const;
  void note_read(const std::string& name, ParamType asked) const;
  [[noreturn]] static void throw_wrong_type(const std::string& name, const ParamValue& v);  // SDK ABI 1.0
  [[noreturn]] static void throw_wrong_type(const std::string& name, const ParamValue& v, ParamType asked);
  std::map<std::string, ParamValue> values_;
};

/// One parameter a plugin asked for: its name and the type it asked for it as.
struct ParamRead {
  std::string name;
  ParamType type = ParamType::real;
};

/// Records every Params::get / get_or call made on the calling thread while it lives, of any Params object, in
/// order (a name asked twice with the same type is kept once). The host wraps a plugin's creation in one and
/// compares the reads with the manifest (host::instantiate_checked); plugins never need it. Nested logs all
/// record. Destroy logs in the reverse order of their creation (as scopes do).
class COMPAUDIT_SDK_API ParamReadLog {
 public:
  ParamReadLog() noexcept;
  ~ParamReadLog();
  ParamReadLog(const ParamReadLog&) = delete;
  ParamReadLog& operator=(const ParamReadLog&) = delete;

  const std::vector<ParamRead>& reads() const noexcept { return reads_; }

 private:
  friend class Params;
  ParamReadLog* outer_;
  std::vector<ParamRead> reads_;
};

COMPAUDIT_NAMESPACE_END
