#include "plugin_harness.h"

#include <compaudit/plugin.h>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <dlfcn.h>

#include <fstream>

namespace compaudit::testing {
namespace {
ParamValue to_value(const toml::node& node) {
  if (auto v = node.as_boolean()) return v->get();
  if (auto v = node.as_integer()) return static_cast<std::int64_t>(v->get());
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_string()) return v->get();
  const toml::array& a = *node.as_array();
  if (a.empty() || a[0].is_string()) {
    std::vector<std::string> out;
    for (const auto& e : a) out.push_back(*e.value<std::string>());
    return out;
  }
  if (a[0].is_integer()) {
    std::vector<std::int64_t> out;
    for (const auto& e : a) out.push_back(*e.value<std::int64_t>());
    return out;
  }
  std::vector<double> out;
  for (const auto& e : a) out.push_back(*e.value<double>());
  return out;
}
}  // namespace

std::vector<ParamSpec> read_schema(const std::string& manifest_path) {
  const toml::table manifest = toml::parse_file(manifest_path);
  std::vector<ParamSpec> schema;
  if (const toml::array* params = manifest["param"].as_array()) {
    for (const auto& entry : *params) {
      const toml::table& t = *entry.as_table();
      ParamSpec spec;
      spec.name = *t["name"].value<std::string>();
      spec.type = *param_type_from_string(*t["type"].value<std::string>());
      if (const toml::node* d = t.get("default")) spec.default_value = coerce(spec, to_value(*d));
      if (auto v = t["min"].value<double>()) spec.min = *v;
      if (auto v = t["max"].value<double>()) spec.max = *v;
      if (const toml::array* c = t["choices"].as_array())
        for (const auto& e : *c) spec.choices.push_back(*e.value<std::string>());
      schema.push_back(std::move(spec));
    }
  }
  return schema;
}

std::shared_ptr<Compressor> load_compressor(const std::string& name, const std::map<std::string, ParamValue>& given) {
  const Params params = Params::resolve(read_schema(COMPAUDIT_MANIFEST_DIR "/" + name + ".toml"), given, name);
  const std::string library = COMPAUDIT_PLUGIN_DIR "/lib" + name + ".so";
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error(ErrorCode::library, fmt::format("cannot open {}: {}", library, dlerror()));
  auto entry = reinterpret_cast<compaudit_plugin_entry_fn*>(dlsym(handle, COMPAUDIT_PLUGIN_ENTRY_NAME));
  if (!entry) throw Error(ErrorCode::symbol, library + " has no entry point");
  const PluginDescriptor* d = entry();
  Plugin* plugin = d->create(params);
  auto* compressor = dynamic_cast<Compressor*>(plugin);
  if (!compressor) throw Error(ErrorCode::identity, library + " is not a compressor");
  // The library stays open (no dlclose): the tests' process ends soon, and nothing it made may outlive it.
  return std::shared_ptr<Compressor>(compressor, [d](Compressor* c) { d->destroy(c); });
}

nlohmann::json fixture(const std::string& file) {
  std::ifstream in(COMPAUDIT_FIXTURE_DIR "/" + file);
  if (!in) throw std::runtime_error("missing fixture " + file);
  return nlohmann::json::parse(in);
}

at::Tensor fixture_tensor(const nlohmann::json& shape, const nlohmann::json& values) {
  return at::tensor(values.get<std::vector<double>>(), at::kDouble).reshape(shape.get<std::vector<std::int64_t>>());
}

TestContext::TestContext(models::TrainableModel& model, int classes, std::int64_t features, int batches, int batch)
    : model_(model), classes_(classes), batches_(batches), batch_(batch) {
  at::Generator gen = at::detail::createCPUGenerator(1234);
  const at::Tensor centers = at::randn({classes, features}, gen) * 2.0;
  auto draw = [&](std::int64_t n, at::Tensor& x, at::Tensor& y) {
    y = at::arange(n, at::kLong).remainder(classes);
    x = centers.index_select(0, y) + at::randn({n, features}, gen);
  };
  draw(static_cast<std::int64_t>(batches) * batch, x_, y_);
  draw(4L * classes * 10, vx_, vy_);
  for (const auto& [name, t] : model.named_parameters()) initial_.emplace_back(name, t.detach().clone());
}

double TestContext::train(const TrainRequest& request) {
  TrainingProgress progress;
  progress.epochs = request.epochs;
  progress.total_steps = static_cast<std::int64_t>(request.epochs) * batches_;
  double loss_sum = 0.0;
  for (int e = 0; e < request.epochs; ++e) {
    progress.epoch = e;
    loss_sum = 0.0;
    for (int b = 0; b < batches_; ++b) {
      const at::Tensor x = x_.slice(0, b * batch_, (b + 1) * batch_), y = y_.slice(0, b * batch_, (b + 1) * batch_);
      const at::Tensor logits = model_.forward(x);
      at::Tensor loss = request.loss ? request.loss(logits, y) : at::cross_entropy_loss(logits, y);
      loss.backward();
      {
        at::NoGradGuard no_grad;
        for (auto& p : model_.parameters_for_optimizer()) {
          if (!p.grad().defined()) continue;
          p.sub_(p.grad() * 0.1);
          p.mutable_grad().zero_();
        }
      }
      model_.apply_masks();
      ++progress.step;
      progress.last_loss = loss.item<double>();
      loss_sum += progress.last_loss;
      steps_seen.push_back(progress.step);
      if (request.on_step) request.on_step(progress);
    }
    ++epochs_trained;
    if (request.on_epoch) request.on_epoch(progress);
  }
  return loss_sum / batches_;
}

Evaluation TestContext::evaluate(const std::string& split) {
  at::NoGradGuard no_grad;
  const bool train = split == "train";
  return {at::softmax(model_.forward(train ? x_ : vx_), 1), train ? y_ : vy_};
}

std::vector<std::pair<std::string, at::Tensor>> TestContext::rewind_point(std::int64_t step) {
  rewinds.push_back(step);
  return initial_;  // the tests only check that the step is passed through and the values restored
}

at::Tensor TestContext::calibration_batch(std::int64_t n) { return x_.slice(0, 0, std::min(n, x_.size(0))); }

}  // namespace compaudit::testing
