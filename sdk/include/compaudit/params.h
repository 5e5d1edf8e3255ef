// compaudit/params.h — typed plugin parameters and their schema.
//
// A plugin's parameters are declared once, in its manifest ([[param]] tables). The host reads that schema without
// loading the plugin, checks a pipeline's values against it, fills in defaults, and hands the plugin a complete
// Params object. A plugin therefore never sees a missing or ill-typed parameter; it reads them into its own options
// struct:
//
//     struct Options {
//       double sparsity = 0.5;      ///< Fraction of prunable weights set to zero. Default: 0.5
//       std::string scope = "global";
//     };
//     Options read(const compaudit::Params& p) {
//       return {p.get<double>("sparsity"), p.get<std::string>("scope")};
//     }
#pragma once

#include <compaudit/error.h>
#include <compaudit/export.h>
#include <compaudit/version.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
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
  template <class T>
  const T& get(const std::string& name) const {
    const ParamValue& v = at(name);
    if (const T* p = std::get_if<T>(&v)) return *p;
    throw_wrong_type(name, v);
  }

  /// Like get(), but returns `fallback` when the parameter is absent.
  template <class T>
  T get_or(const std::string& name, T fallback) const {
    return has(name) ? get<T>(name) : fallback;
  }

  /// Builds the complete parameter set from a schema and user-given values: unknown names, wrong types, values
  /// out of range and missing required parameters are reported together in one Error(parameters) whose message
  /// has one line per problem, each prefixed by `context` (e.g. "arm 'prune' step 1").
  static Params resolve(const std::vector<ParamSpec>& schema, const std::map<std::string, ParamValue>& given,
                        const std::string& context = {});

 private:
  const ParamValue& at(const std::string& name) const;
  [[noreturn]] static void throw_wrong_type(const std::string& name, const ParamValue& v);
  std::map<std::string, ParamValue> values_;
};

COMPAUDIT_NAMESPACE_END
