// Parameter reads of a plugin against its manifest (param_check.h).
#include <compaudit/host/param_check.h>

#include <fmt/format.h>

#include <cmath>

namespace compaudit::host {
namespace {

const ParamSpec* find_spec(const Manifest& manifest, const std::string& name) {
  for (const auto& spec : manifest.params)
    if (spec.name == name) return &spec;
  return nullptr;
}

std::string declared_list(const Manifest& manifest) {
  std::string out;
  for (const auto& spec : manifest.params)
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", spec.name, to_string(spec.type));
  return out.empty() ? "none" : out;
}

// A value for a required parameter that its own spec accepts.
ParamValue sample_value(const ParamSpec& spec, const std::string& refers_to) {
  const bool pattern = refers_to == "layer_pattern";
  const std::string text = !spec.choices.empty() ? spec.choices.front() : pattern ? "*" : "";
  const double low = spec.min ? *spec.min : spec.max ? std::min(0.0, *spec.max) : 0.0;
  switch (spec.type) {
    case ParamType::boolean: return false;
    case ParamType::integer: return static_cast<std::int64_t>(std::ceil(low));
    case ParamType::real: return spec.min && spec.max ? (*spec.min + *spec.max) / 2 : low;
    case ParamType::string: return text;
    case ParamType::string_list:
      return text.empty() ? std::vector<std::string>{} : std::vector<std::string>{text};
    case ParamType::integer_list: return std::vector<std::int64_t>{};
    case ParamType::real_list: return std::vector<double>{};
  }
  return false;
}

}  // namespace

std::vector<std::string> param_read_problems(const Manifest& manifest, const std::vector<ParamRead>& reads) {
  std::vector<std::string> problems;
  for (const auto& read : reads) {
    const ParamSpec* spec = find_spec(manifest, read.name);
    if (!spec)
      problems.push_back(fmt::format("{}: the plugin reads parameter '{}' as {}, which the manifest does not declare "
                                     "(declared: {})",
                                     manifest.path, read.name, cpp_type_name(read.type), declared_list(manifest)));
    else if (spec->type != read.type)
      problems.push_back(fmt::format("{}: parameter '{}' is declared {} (read as {}) but the plugin reads it as {}",
                                     manifest.path, read.name, to_string(spec->type), cpp_type_name(spec->type),
                                     cpp_type_name(read.type)));
  }
  return problems;
}

std::vector<std::string> unread_params(const Manifest& manifest, const std::vector<ParamRead>& reads) {
  std::vector<std::string> unread;
  for (const auto& spec : manifest.params) {
    bool read = false;
    for (const auto& r : reads) read = read || r.name == spec.name;
    if (!read) unread.push_back(spec.name);
  }
  return unread;
}

CheckedPlugin instantiate_checked(Loader& loader, const Manifest& manifest, const Params& params) {
  auto mismatch = [&](const std::vector<std::string>& problems) {
    return Error(ErrorCode::identity,
                 fmt::format("plugin {} and its manifest disagree about its parameters:\n  {}", manifest.id,
                             fmt::join(problems, "\n  ")),
                 {manifest.path});
  };
  CheckedPlugin out;
  {
    ParamReadLog log;
    try {
      out.plugin = loader.instantiate(manifest, params);
    } catch (const LoadError&) {
      throw;  // the library itself is refused: nothing was read
    } catch (const Error&) {
      const auto problems = param_read_problems(manifest, log.reads());
      if (!problems.empty()) throw mismatch(problems);
      throw;
    }
    out.reads = log.reads();
  }
  const auto problems = param_read_problems(manifest, out.reads);
  if (!problems.empty()) throw mismatch(problems);
  return out;
}

Params sample_params(const Manifest& manifest) {
  Params params;
  for (const auto& spec : manifest.params) {
    auto refers = manifest.refers_to.find(spec.name);
    const std::string role = refers == manifest.refers_to.end() ? "" : refers->second;
    params.set(spec.name, spec.default_value ? *spec.default_value : sample_value(spec, role));
  }
  return params;
}

}  // namespace compaudit::host
