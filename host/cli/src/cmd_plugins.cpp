// `compaudit plugins list` and `compaudit plugins inspect ID` — from manifests only, unless --load is given.
#include "commands.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/host/loader.h>
#include <compaudit/host/param_check.h>
#include <compaudit/host/registry.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace compaudit::cli {
namespace {
using nlohmann::json;

json to_json(const ParamValue& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

json to_json(const ParamSpec& p) {
  json j{{"name", p.name}, {"type", to_string(p.type)}, {"required", !p.default_value}, {"doc", p.doc}};
  if (p.default_value) j["default"] = to_json(*p.default_value);
  if (p.min) j["min"] = *p.min;
  if (p.max) j["max"] = *p.max;
  if (!p.choices.empty()) j["choices"] = p.choices;
  return j;
}

json to_json(const host::Manifest& m, bool with_params) {
  json j{{"id", m.id},         {"version", m.version}, {"kind", to_string(m.kind)}, {"origin", m.origin},
         {"manifest", m.path}, {"library", m.library}, {"abi", m.abi},             {"description", m.description},
         {"license", m.license}, {"sha256", m.sha256},  {"needs", m.needs}};
  if (m.kind == PluginKind::compressor) j["trains"] = m.trains;
  if (with_params) {
    j["params"] = json::array();
    for (const auto& p : m.params) j["params"].push_back(to_json(p));
  }
  return j;
}

json diagnostics(const host::Registry& r) {
  json errors = json::array();
  for (const auto& e : r.errors())
    errors.push_back({{"file", e.where().file}, {"line", e.where().line}, {"column", e.where().column},
                      {"message", e.message()}});
  return {{"warnings", r.warnings()}, {"errors", errors}};
}

void print_diagnostics(const host::Registry& r) {
  for (const auto& w : r.warnings()) std::cerr << "compaudit: warning: " << w << '\n';
  for (const auto& e : r.errors()) std::cerr << "compaudit: " << e.what() << " (skipped)\n";
}

host::Registry discover(const Context& context) {
  return host::Registry::discover(host::SearchPaths::standard(context.plugin_paths));
}

void list(const Context& context, bool as_json) {
  const host::Registry registry = discover(context);
  if (as_json) {
    json j = diagnostics(registry);
    j["search_path"] = json::array();
    for (const auto& [dir, origin] : registry.search_paths().dirs)
      j["search_path"].push_back({{"dir", dir}, {"origin", origin}});
    j["plugins"] = json::array();
    for (const auto& m : registry.plugins()) j["plugins"].push_back(to_json(m, false));
    std::cout << j.dump(2) << '\n';
    return;
  }
  print_diagnostics(registry);
  std::size_t id_width = 2, version_width = 7;
  for (const auto& m : registry.plugins()) {
    id_width = std::max(id_width, m.id.size());
    version_width = std::max(version_width, m.version.size());
  }
  std::string out = fmt::format("{:<{}}  {:<{}}  {:<12}  {:<21}  {}\n", "ID", id_width, "VERSION", version_width,
                                "KIND", "ORIGIN", "DESCRIPTION");
  for (const auto& m : registry.plugins())
    out += fmt::format("{:<{}}  {:<{}}  {:<12}  {:<21}  {}\n", m.id, id_width, m.version, version_width,
                       to_string(m.kind), m.origin, m.description);
  out += fmt::format("{} plugin{}\n", registry.plugins().size(), registry.plugins().size() == 1 ? "" : "s");
  std::cout << out;
}

std::string range_text(const ParamSpec& p) {
  if (!p.choices.empty()) {
    std::string s;
    for (const auto& c : p.choices) s += (s.empty() ? "" : "|") + c;
    return s;
  }
  if (p.min || p.max)
    return fmt::format("[{}, {}]", p.min ? fmt::format("{}", *p.min) : "-inf", p.max ? fmt::format("{}", *p.max) : "inf");
  return "";
}

void inspect(Context& context, const std::string& id, bool as_json, bool load) {
  const host::Registry registry = discover(context);
  const host::Manifest* m = registry.find(id);
  if (!m) {
    std::string hint;
    for (const auto& e : registry.errors())
      if (e.where().file.find(id) != std::string::npos || e.message().find(id) != std::string::npos)
        hint += fmt::format("\n  note: {}", e.what());
    throw Error(ErrorCode::manifest,
                fmt::format("no plugin with id '{}' (see `compaudit plugins list`){}", id, hint));
  }
  json j = to_json(*m, true);
  host::Loader loader;
  std::optional<host::LibraryInfo> info;
  host::CheckedPlugin created;
  std::string refused;  // why the plugin refused the sample values, if it did
  if (load) {
    info = loader.open(*m);  // throws LoadError: exit code 3 with the reason
    // The loader compares id and kind on every load; the version is informative there, but they must agree too.
    if (info->plugin_version != m->version)
      throw Error(ErrorCode::identity,
                  fmt::format("plugin {}: the library says version {} but its manifest says {} (use "
                              "COMPAUDIT_PLUGIN_MANIFEST, which takes the manifest's)",
                              m->id, info->plugin_version, m->version),
                  {m->path});
    // Created with the defaults (samples for required parameters); every parameter read is checked against the
    // manifest (throws Error(identity), exit 3, naming the manifest, the parameter and both types). A constructor
    // may refuse those values (truncate.svd needs rank or energy set): the reads made until then are still checked.
    ParamReadLog log;
    try {
      created = host::instantiate_checked(loader, *m, host::sample_params(*m));
    } catch (const host::LoadError&) {
      throw;
    } catch (const Error& e) {
      if (e.code() == ErrorCode::identity) throw;
      refused = e.message();
      created.reads = log.reads();
    }
  }
  std::vector<std::string> reads;
  for (const auto& r : created.reads) reads.push_back(fmt::format("{} ({})", r.name, cpp_type_name(r.type)));
  const std::vector<std::string> unread = host::unread_params(*m, created.reads);
  if (as_json) {
    if (info) {
      j["descriptor"] = {{"path", info->path},           {"abi_version", info->abi_version},
                         {"abi_minor", info->abi_minor}, {"id", info->id},
                         {"kind", info->kind},           {"plugin_version", info->plugin_version},
                         {"torch_version", info->torch_version}, {"compiler", info->compiler},
                         {"cxx11_abi", info->cxx11_abi}, {"checks", "passed"}};
      j["created"] = {{"reads", json::array()}, {"unread", unread}};
      if (!refused.empty()) j["created"]["refused"] = refused;
      for (const auto& r : created.reads)
        j["created"]["reads"].push_back({{"name", r.name}, {"type", cpp_type_name(r.type)}});
    }
    std::cout << j.dump(2) << '\n';
    return;
  }
  std::string out = fmt::format("{} {} ({})\n  {}\n", m->id, m->version, to_string(m->kind), m->description);
  out += fmt::format("  manifest:  {} (origin: {})\n  library:   {}\n  abi:       {}\n", m->path, m->origin,
                     m->library, m->abi);
  if (!m->license.empty()) out += fmt::format("  license:   {}\n", m->license);
  if (!m->sha256.empty()) out += fmt::format("  sha256:    {}\n", m->sha256);
  if (!m->needs.empty()) out += fmt::format("  needs:     {}\n", fmt::join(m->needs, ", "));
  if (m->trains) out += "  trains:    yes (compress() trains; pipelines add a matched training control)\n";
  out += m->params.empty() ? "  parameters: none\n" : "  parameters:\n";
  for (const auto& p : m->params)
    out += fmt::format("    {:<18} {:<11} {:<14} {:<16} {}\n", p.name, to_string(p.type),
                       p.default_value ? to_string(*p.default_value) : "(required)", range_text(p), p.doc);
  if (info)
    out += fmt::format("  loaded:    {}\n    descriptor: id {}, kind {}, version {}, SDK ABI {}.{}, LibTorch {}, "
                       "_GLIBCXX_USE_CXX11_ABI={}, compiler {}\n",
                       info->path, info->id, info->kind, info->plugin_version, info->abi_version, info->abi_minor,
                       info->torch_version.empty() ? "(none)" : info->torch_version, info->cxx11_abi,
                       info->compiler);
  if (info)
    out += fmt::format("    created: {}reads {}{}\n    checks: passed\n",
                       refused.empty() ? "" : fmt::format("refused the defaults ({}); before that it ", refused),
                       reads.empty() ? "no parameter" : fmt::format("{}", fmt::join(reads, ", ")),
                       unread.empty() ? "" : fmt::format("; not read at creation: {}", fmt::join(unread, ", ")));
  std::cout << out;
}
}  // namespace

void add_plugin_path_option(CLI::App& command, Context& context) {
  command.add_option("--plugin-path", context.plugin_paths,
                     "Directory searched for plugin manifests before COMPAUDIT_PLUGIN_PATH, the user, system and "
                     "built-in directories (repeatable; colon-separated lists allowed)")
      ->allow_extra_args(false);  // one directory per --plugin-path, so a positional may follow
}

void add_plugins_commands(CLI::App& app, Context& context) {
  CLI::App* plugins = app.add_subcommand("plugins", "List and inspect installed plugins (reads manifests only)");
  plugins->require_subcommand(1);

  CLI::App* list_cmd = plugins->add_subcommand("list", "List every plugin found on the search path");
  auto list_json = std::make_shared<bool>(false);
  list_cmd->add_flag("--json", *list_json, "Print JSON: plugins, search path, warnings and manifest errors");
  add_plugin_path_option(*list_cmd, context);
  list_cmd->callback([&context, list_json] { list(context, *list_json); });

  CLI::App* inspect_cmd = plugins->add_subcommand("inspect", "Show one plugin's manifest and parameter schema");
  auto id = std::make_shared<std::string>();
  auto inspect_json = std::make_shared<bool>(false);
  auto load = std::make_shared<bool>(false);
  inspect_cmd->add_option("ID", *id, "Plugin id, e.g. org.compaudit.compressor.magnitude")->required();
  inspect_cmd->add_flag("--json", *inspect_json, "Print JSON");
  inspect_cmd->add_flag("--load", *load,
                        "Also open the library, check its descriptor (ABI, LibTorch, C++ ABI, id, kind), create the "
                        "plugin and check every parameter it reads against the manifest");
  add_plugin_path_option(*inspect_cmd, context);
  inspect_cmd->callback([&context, id, inspect_json, load] { inspect(context, *id, *inspect_json, *load); });
}

}  // namespace compaudit::cli
