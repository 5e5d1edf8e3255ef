#include "run/store_io.h"

#include "run/executor.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <cstring>

namespace compaudit::engine {

store::Predictions to_predictions(const std::string& arm, std::int64_t seed, const std::string& split,
                                  const at::Tensor& probabilities, const at::Tensor& targets, bool all_probabilities) {
  store::Predictions p;
  p.arm = arm;
  p.seed = seed;
  p.split = split;
  const at::Tensor labels = probabilities.argmax(1).to(at::kShort).contiguous();
  p.labels.assign(labels.data_ptr<std::int16_t>(), labels.data_ptr<std::int16_t>() + labels.numel());
  // at::Half is IEEE binary16 with round-to-nearest-even, the store's encoding: copy the bits.
  const at::Tensor true_prob = probabilities.gather(1, targets.unsqueeze(1)).squeeze(1).to(at::kHalf).contiguous();
  p.true_prob.resize(static_cast<std::size_t>(true_prob.numel()));
  std::memcpy(p.true_prob.data(), true_prob.data_ptr(), p.true_prob.size() * 2);
  if (all_probabilities) {
    const at::Tensor probs = probabilities.to(at::kHalf).contiguous();
    p.num_classes = static_cast<int>(probabilities.size(1));
    p.probs.resize(static_cast<std::size_t>(probs.numel()));
    std::memcpy(p.probs.data(), probs.data_ptr(), p.probs.size() * 2);
  }
  return p;
}

std::vector<std::uint8_t> probabilities_blob(const at::Tensor& probabilities) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the blob is little-endian float32");
  const at::Tensor p = probabilities.to(at::kFloat).contiguous();
  const auto* bytes = static_cast<const std::uint8_t*>(p.data_ptr());
  return std::vector<std::uint8_t>(bytes, bytes + p.numel() * 4);
}

nlohmann::json size_json(Model& model) {
  const ModelSize total = measure(model);
  nlohmann::json per = nlohmann::json::array();
  for (const auto& [name, t] : model.named_parameters()) {
    const std::int64_t nz = t.count_nonzero().item<std::int64_t>();
    per.push_back({{"name", name}, {"parameters", t.numel()}, {"nonzeros", nz}, {"bits", model.storage_bits(name)}});
  }
  return {{"parameters", total.parameters}, {"nonzeros", total.nonzeros}, {"bytes", total.bytes},
          {"sparse_bytes", total.sparse_bytes}, {"per_parameter", per}};
}

nlohmann::json to_json(const ParamValue& value) {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

nlohmann::json values_json(const std::vector<ParamValue>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : values) out.push_back(to_json(v));
  return out;
}

nlohmann::json to_json(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, v] : params.values()) out[name] = to_json(v);
  return out;
}

std::vector<store::ArmInfo> arm_infos(const host::Pipeline& pipeline) {
  std::vector<store::ArmInfo> out;
  for (const auto& arm : pipeline.arms) {
    store::ArmInfo a;
    a.name = arm.name;
    a.base_name = arm.base_name.empty() ? arm.name : arm.base_name;
    a.level = arm.level;
    a.sweep = arm.sweep;
    for (const auto& step : arm.steps) {
      a.steps.push_back({{"plugin", step.plugin}, {"params", to_json(step.params)}});
      if (!arm.control_of.empty()) a.steps.back()["inert"] = true;  // a training control: trains, compresses nothing
    }
    if (arm.search || arm.search_uniform)  // the chain is found per seed (blob "search"): the plugin per layer
      a.steps.push_back({{"plugin", pipeline.search.plugin}, {"params", to_json(pipeline.search.params)},
                         {arm.search ? "search" : "search_uniform", true}, {"parameter", pipeline.search.parameter},
                         {"values", values_json(pipeline.search.values)}});
    a.finetune_epochs = arm.finetune_epochs;
    a.reference = arm.name == "dense" ? "" : reference_arm(pipeline, arm);
    out.push_back(std::move(a));
  }
  return out;
}

store::DataInfo data_info(const DataSplits& data) {
  store::DataInfo info;
  info.kind = data.is_image ? "image" : "tabular";
  info.num_classes = data.num_classes;
  info.class_names = data.class_names;
  info.input_shape = data.input_shape;
  for (const auto& [name, set] : {std::pair<const char*, const Dataset*>{"train", &data.train},
                                  {"validation", &data.validation}, {"test", &data.test}}) {
    store::SplitInfo s;
    s.name = name;
    s.n = set->size();
    if (s.n > 0) {
      const at::Tensor t = set->targets.to(at::kShort).contiguous();
      s.targets.assign(t.data_ptr<std::int16_t>(), t.data_ptr<std::int16_t>() + t.numel());
    }
    info.splits.push_back(std::move(s));
  }
  return info;
}

std::vector<store::Thumbnail> test_thumbnails(const DataSplits& data) {
  std::vector<store::Thumbnail> out;
  if (!data.test.pixels.defined()) return out;
  const at::Tensor hwc = data.test.pixels.permute({0, 2, 3, 1}).contiguous();  // the store wants HWC
  const auto n = hwc.size(0);
  const auto per = hwc.numel() / std::max<std::int64_t>(1, n);
  const auto* px = hwc.data_ptr<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    store::Thumbnail t;
    t.split = "test";
    t.example_id = i;
    t.height = static_cast<int>(hwc.size(1));
    t.width = static_cast<int>(hwc.size(2));
    t.channels = static_cast<int>(hwc.size(3));
    t.pixels.assign(px + i * per, px + (i + 1) * per);
    out.push_back(std::move(t));
  }
  return out;
}

Population load_population(const store::Store& store, const std::string& arm, const std::string& split,
                           const std::vector<std::int64_t>& seeds, bool probabilities) {
  Population pop;
  pop.arm = arm;
  pop.seeds = seeds;
  std::vector<at::Tensor> labels, probs;
  for (std::int64_t seed : seeds) {
    const auto p = store.predictions(arm, seed, split, probabilities);
    if (!p) throw Error(ErrorCode::io, "no stored predictions for " + arm + " seed " + std::to_string(seed) + " on " + split);
    labels.push_back(at::tensor(std::vector<std::int64_t>(p->labels.begin(), p->labels.end()), at::kLong));
    if (probabilities) {
      if (p->probs.empty())
        throw Error(ErrorCode::io, "no stored probabilities for " + arm + " seed " + std::to_string(seed));
      const auto n = static_cast<std::int64_t>(p->labels.size());
      const auto exact = split == "test" ? store.blob(arm, seed, kTestProbabilitiesBlob) : std::nullopt;
      if (exact && exact->size() == static_cast<std::size_t>(n * p->num_classes) * 4) {
        probs.push_back(at::from_blob(const_cast<std::uint8_t*>(exact->data()), {n, p->num_classes}, at::kFloat).clone());
      } else {
        probs.push_back(at::from_blob(const_cast<std::uint16_t*>(p->probs.data()), {n, p->num_classes}, at::kHalf)
                            .to(at::kFloat));
      }
    }
    const auto cell = store.cell(arm, seed);
    pop.records.push_back(cell ? nlohmann::json{{"records", cell->records}, {"size", cell->size}}
                               : nlohmann::json::object());
  }
  pop.predicted = labels.empty() ? at::empty({0, 0}, at::kLong) : at::stack(labels);
  if (probabilities && !probs.empty()) pop.probabilities = at::stack(probs);
  return pop;
}

nlohmann::json attribution_json(const host::AttributionSpec& a) {
  return {{"arms", a.arms},
          {"critical_class", a.critical_class.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.critical_class)},
          {"split", a.split},
          {"examples", a.examples}};
}

nlohmann::json search_json(const host::Pipeline& pipeline) {
  const host::SearchSpec& s = pipeline.search;
  std::vector<std::string> gates = s.gates;  // empty: every gate
  if (gates.empty())
    for (const auto& g : pipeline.gates) gates.push_back(g.name);
  return {{"name", s.name},
          {"plugin", s.plugin},
          {"parameter", s.parameter},
          {"values", values_json(s.values)},
          {"params", to_json(s.params)},
          {"gates", gates},
          {"critical_class", s.critical_class.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.critical_class)},
          {"strategy", s.strategy},
          {"max_trials", s.max_trials},
          {"finetune_epochs", s.finetune_epochs},
          {"uniform", s.uniform}};
}

nlohmann::json gates_json(const std::vector<host::GateSpec>& gates) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : gates) {
    nlohmann::json j{{"name", g.name}, {"arm", g.arm}, {"metric", g.metric}, {"statistic", g.statistic},
                     {"class", g.class_name}};
    if (g.min) j["min"] = *g.min;
    if (g.max) j["max"] = *g.max;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace compaudit::engine
