#include "api/input_digests.h"

#include <compaudit/error.h>
#include <compaudit/host/registry.h>
#include <compaudit/host/sha256.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace compaudit::engine {
namespace fs = std::filesystem;
namespace {

std::string digest_of(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return host::sha256_file(path);
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec))
      lines.push_back(fs::relative(it->path(), path).string() + ' ' + host::sha256_file(it->path().string()));
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& l : lines) all += l + '\n';
  return host::sha256_hex(all);
}

}  // namespace

nlohmann::json input_digests(const host::Pipeline& pipeline, const host::Registry& registry) {
  nlohmann::json out = nlohmann::json::array();
  const auto add = [&](const std::string& role, const std::string& file) {
    if (!file.empty()) out.push_back({{"role", role}, {"file", file}, {"sha256", digest_of(file)}});
  };
  const host::DataSpec& d = pipeline.data;
  add("data file train", d.train);
  add("data file train_labels", d.train_labels);
  add("data file test", d.test);
  add("data file test_labels", d.test_labels);
  for (std::size_t i = 0; i < d.train_files.size(); ++i)
    add(fmt::format("data file train_files[{}]", i), d.train_files[i]);
  for (std::size_t i = 0; i < d.test_files.size(); ++i) add(fmt::format("data file test_files[{}]", i), d.test_files[i]);
  add("TorchScript model", pipeline.model.path);
  for (std::size_t i = 0; i < pipeline.model.checkpoints.size(); ++i)
    add(fmt::format("model checkpoint[{}]", i), pipeline.model.checkpoints[i]);
  add("saved predictions of the model", pipeline.model.predictions);
  for (const auto& arm : pipeline.arms) add("saved predictions of arm " + arm.name, arm.predictions);
  std::vector<std::string> ids;
  for (const auto& arm : pipeline.arms)
    for (const auto& step : arm.steps) ids.push_back(step.plugin);
  if (pipeline.search.enabled) ids.push_back(pipeline.search.plugin);  // the [search] arm's compressor
  if (pipeline.augmentation) ids.push_back(pipeline.augmentation->plugin);
  for (const auto& m : pipeline.metrics) ids.push_back(m.plugin);
  std::set<std::string> seen;
  for (const auto& id : ids)
    if (seen.insert(id).second)
      if (const host::Manifest* m = registry.find(id)) add("plugin library " + id, m->library);
  return out;
}

void check_input_digests(const store::Store& store, const nlohmann::json& current) {
  const nlohmann::json recorded = store.run().settings.value("inputs", nlohmann::json::array());
  for (const auto& old : recorded) {
    const std::string role = old.value("role", "");
    const auto now = std::find_if(current.begin(), current.end(),
                                  [&](const nlohmann::json& c) { return c.value("role", "") == role; });
    const std::string file = now != current.end() ? now->value("file", "") : old.value("file", "");
    if (now == current.end())
      throw Error(ErrorCode::data, fmt::format("the run used a {}, which the pipeline no longer names", role),
                  {file});
    if (now->value("sha256", "") != old.value("sha256", ""))
      throw Error(ErrorCode::data,
                  fmt::format("the {} changed since the run started (sha256 {}... then, {}... now): its done cells "
                              "were computed from the old contents, and a resumed run would mix the two; restore the "
                              "file or start a new run",
                              role, old.value("sha256", "").substr(0, 12), now->value("sha256", "").substr(0, 12)),
                  {file});
  }
}

}  // namespace compaudit::engine
