// `compaudit new-plugin --kind KIND NAME` — writes a ready-to-build out-of-tree plugin project.
#include "commands.h"
#include "plugin_templates.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/manifest.h>
#include <compaudit/plugin.h>

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;

namespace compaudit::cli {
namespace {

struct Names {
  std::string name, klass, id, kind;
};

std::string fill(std::string text, const Names& n) {
  const std::pair<const char*, const std::string*> keys[] = {
      {"@NAME@", &n.name}, {"@CLASS@", &n.klass}, {"@ID@", &n.id}, {"@KIND@", &n.kind}};
  for (const auto& [key, value] : keys)
    for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value->size()))
      text.replace(at, std::string(key).size(), *value);
  return text;
}

std::string camel(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out) throw Error(ErrorCode::io, "cannot write file", {file.string()});
}

int new_plugin(const std::string& kind_text, const std::string& name, std::string dir, std::string id) {
  const auto kind = plugin_kind_from_string(kind_text);
  if (!kind)
    throw Error(ErrorCode::parameters,
                fmt::format("--kind {}: expected compressor, metric or augmentation", kind_text));
  if (name.empty() || !std::islower(static_cast<unsigned char>(name[0])) ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
    throw Error(ErrorCode::parameters,
                fmt::format("plugin name '{}' must be lower_case_with_underscores (it names the CMake target, the "
                            "library, the files and the namespace of the generated NAME_manifest.h)", name));
  if (id.empty()) id = fmt::format("org.example.{}.{}", kind_text, name);
  // The id goes into the manifest and the source as is: one the manifest parser would refuse makes a broken project.
  if (!host::is_plugin_id(id))
    throw Error(ErrorCode::parameters,
                fmt::format("--id '{}' is not a plugin id: a reverse-DNS name of at least two dot-separated labels "
                            "of lower-case letters, digits, '_' and '-', e.g. org.example.{}.{}", id, kind_text, name));
  if (dir.empty()) dir = name;
  const fs::path root(dir);
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_empty(root, ec))
    throw Error(ErrorCode::io, "directory exists and is not empty; choose another with -o", {root.string()});
  fs::create_directories(root, ec);
  if (ec) throw Error(ErrorCode::io, fmt::format("cannot create directory: {}", ec.message()), {root.string()});

  const Names names{name, camel(name), id, kind_text};
  const char* manifest = templates::kCompressorManifest;
  const char* source = templates::kCompressorSource;
  if (*kind == PluginKind::metric) manifest = templates::kMetricManifest, source = templates::kMetricSource;
  if (*kind == PluginKind::augmentation)
    manifest = templates::kAugmentationManifest, source = templates::kAugmentationSource;
  write(root / "CMakeLists.txt", fill(templates::kCMakeLists, names));
  write(root / (name + ".toml"), fill(manifest, names));
  write(root / (name + ".cpp"), fill(source, names));
  write(root / "README.md", fill(templates::kReadme, names));
  std::cout << fmt::format(
      "created {} plugin {} in {}/\n  CMakeLists.txt  {}.toml  {}.cpp  README.md\nbuild it:\n"
      "  cmake -S {} -B {}/build -DCMAKE_PREFIX_PATH=<compaudit prefix> && cmake --build {}/build\n"
      "  COMPAUDIT_PLUGIN_PATH={}/build compaudit plugins inspect {} --load\n",
      kind_text, id, root.string(), name, name, root.string(), root.string(), root.string(), root.string(), id);
  return host::exit_ok;
}
}  // namespace

void add_new_plugin_command(CLI::App& app, Context& context) {
  CLI::App* cmd = app.add_subcommand("new-plugin", "Write a ready-to-build out-of-tree plugin project "
                                                   "(CMakeLists.txt, manifest, one commented source file)");
  auto kind = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  cmd->add_option("--kind", *kind, "compressor, metric or augmentation")
      ->required()
      ->check(CLI::IsMember({"compressor", "metric", "augmentation"}));
  cmd->add_option("NAME", *name, "Plugin name, lower_case_with_underscores")->required();
  cmd->add_option("-o,--output", *dir, "Directory to create (default: ./NAME)");
  cmd->add_option("--id", *id, "Reverse-DNS id (default: org.example.KIND.NAME)");
  cmd->callback([&context, kind, name, dir, id] { context.exit_code = new_plugin(*kind, *name, *dir, *id); });
}

}  // namespace compaudit::cli
