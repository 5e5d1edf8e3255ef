// report.json's "attribution" and "search" keys, from the engine's blobs (attribution_section.h; the keys are in
// docs/report-json.md). Records are carried as stored; the attribution aggregate is the mean over seeds of every
// numeric statistic, layers ordered by mean harm.
#include <compaudit/store/store.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "attribution_section.h"

namespace compaudit::report {

using nlohmann::json;

namespace {

/// The seeds the run may have blobs for: run.settings.seeds, and the seeds of its models and failed cells.
std::vector<std::int64_t> run_seeds(const json& doc) {
  std::set<std::int64_t> seeds;
  const json listed = doc.value("/run/settings/seeds"_json_pointer, json::array());
  for (const auto& s : listed.is_array() ? listed : json::array())
    if (s.is_number_integer()) seeds.insert(s.get<std::int64_t>());
  for (const auto& arm : doc["arms"])
    for (const auto& m : arm["models"]) seeds.insert(m.value("seed", std::int64_t{0}));
  for (const auto& f : doc["failed_cells"]) seeds.insert(f.value("seed", std::int64_t{0}));
  return {seeds.begin(), seeds.end()};
}

/// The blobs named `name` of one arm, per seed: parsed records and, for blobs that cannot be read, errors.
struct Records {
  std::vector<std::int64_t> seeds;
  std::vector<json> records;
  json errors = json::array();
  bool empty() const { return records.empty() && errors.empty(); }
};

Records read_records(const store::Store& s, const std::string& arm, const std::vector<std::int64_t>& seeds,
                     const char* name) {
  Records out;
  for (auto seed : seeds) {
    try {
      const auto bytes = s.blob(arm, seed, name);
      if (!bytes) continue;
      json record = json::parse(bytes->begin(), bytes->end());
      if (!record.is_object()) throw std::runtime_error("the record is not a JSON object");
      out.seeds.push_back(seed);
      out.records.push_back(std::move(record));
    } catch (const std::exception& e) {  // a corrupt or malformed blob costs its own record, not the report
      out.errors.push_back({{"seed", seed}, {"error", std::string("blob \"") + name + "\": " + e.what()}});
    }
  }
  return out;
}

/// The mean over seeds of one value: numbers are averaged (those that are numbers; null when none is), objects key by
/// key, anything else (names, lists) is the first seed's.
json mean_of(const std::vector<const json*>& values) {
  std::vector<const json*> present;
  for (const json* v : values)
    if (v && !v->is_null()) present.push_back(v);
  if (present.empty()) return nullptr;
  double sum = 0;
  int n = 0;
  for (const json* v : present)
    if (v->is_number()) sum += v->get<double>(), ++n;
  if (n) return sum / n;
  if (!present[0]->is_object()) return *present[0];
  std::vector<std::string> keys;
  for (const json* v : present)
    if (v->is_object())
      for (const auto& [k, _] : v->items())
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  json out = json::object();
  for (const auto& k : keys) {
    std::vector<const json*> column;
    for (const json* v : present)
      if (v->is_object() && v->contains(k)) column.push_back(&(*v)[k]);
    out[k] = mean_of(column);
  }
  return out;
}

/// Layers by name over the seeds' records: the mean of each statistic, "seeds" (records naming the layer) and the
/// union of the flipped examples; most harmful (mean harm) first, layers without a harm last.
json aggregate_layers(const std::vector<json>& records) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const json*>> by_layer;
  for (const auto& r : records) {
    if (!r.contains("layers") || !r["layers"].is_array()) continue;
    for (const auto& l : r["layers"]) {  // pointers into the records: not into a copy
      if (!l.is_object()) continue;
      const std::string name = l.value("layer", "");
      if (!by_layer.count(name)) order.push_back(name);
      by_layer[name].push_back(&l);
    }
  }
  json layers = json::array();
  for (const auto& name : order) {
    const auto& group = by_layer[name];
    json a = mean_of(group);
    a["layer"] = name;
    a["seeds"] = group.size();
    json ids = json::array();
    std::set<std::int64_t> seen;
    for (const json* l : group)
      for (const auto& id : l->value("flipped_examples", json::array()))
        if (id.is_number_integer() && seen.insert(id.get<std::int64_t>()).second) ids.push_back(id);
    a["flipped_examples"] = ids;
    layers.push_back(std::move(a));
  }
  std::stable_sort(layers.begin(), layers.end(), [](const json& a, const json& b) {
    const bool ha = a["harm"].is_number(), hb = b["harm"].is_number();
    if (ha != hb) return ha;
    return ha && a["harm"].get<double>() > b["harm"].get<double>();
  });
  return layers;
}

json attribution_entry(const std::string& arm, const Records& r) {
  json records = json::array();
  std::vector<const json*> totals, examples;
  for (const auto& rec : r.records) {
    records.push_back(rec);
    if (rec.contains("arm_totals")) totals.push_back(&rec["arm_totals"]);
    if (rec.contains("examples_total")) examples.push_back(&rec["examples_total"]);
  }
  const json first = r.records.empty() ? json::object() : r.records.front();
  json entry = {{"arm", arm},
                {"reference", first.value("reference", "")},
                {"split", first.value("split", "")},
                {"critical_class", first.value("critical_class", json())},
                {"seeds", records},
                {"aggregate",
                 {{"seeds", r.seeds},
                  {"examples_total", mean_of(examples)},
                  {"arm_totals", mean_of(totals)},
                  {"layers", aggregate_layers(r.records)}}}};
  if (!r.errors.empty()) entry["errors"] = r.errors;
  return entry;
}

/// Mean stored size in bytes of an arm's models (report.json arms[].models[].size.bytes); nullopt without one.
std::optional<double> mean_model_bytes(const json& doc, const std::string& arm) {
  double sum = 0;
  int n = 0;
  for (const auto& a : doc["arms"])
    if (a.value("name", "") == arm)
      for (const auto& m : a["models"])
        if (const auto bytes = m.value("/size/bytes"_json_pointer, json()); bytes.is_number())
          sum += bytes.get<double>(), ++n;
  return n ? std::optional<double>(sum / n) : std::nullopt;
}

json search_object(const json& doc, const std::string& arm, const Records& r) {
  json out = {{"arm", arm}, {"seeds", r.records}, {"chosen", nullptr}, {"arm_toml", nullptr}};
  if (!r.errors.empty()) out["errors"] = r.errors;
  std::string reference;
  for (const auto& a : doc["arms"])
    if (a.value("name", "") == arm) reference = a.value("reference", "");
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    const json& rec = r.records[i];
    if (!rec.contains("chosen") || !rec["chosen"].is_number_integer()) continue;
    const auto id = rec["chosen"].get<std::int64_t>();
    const json trials = rec.value("trials", json::array());
    json trial = {{"id", id}};
    for (const auto& t : trials)
      if (t.is_object() && t.value("id", std::int64_t{-1}) == id) trial = t;
    // The chosen size against the reference model's (dense, or its fine-tuned control: same size); without stored
    // sizes, against the trial's own dense-format bytes.
    std::optional<double> ref_bytes = mean_model_bytes(doc, reference);
    if (!ref_bytes && trial.contains("bytes") && trial["bytes"].is_number()) ref_bytes = trial["bytes"].get<double>();
    // The size the search minimises (stored_bytes: each layer dense, sparse or factored, whichever is smallest).
    json size = trial.value("stored_bytes", json());
    if (!size.is_number()) size = trial.value("sparse_bytes", json());
    if (!size.is_number()) size = trial.value("bytes", json());
    out["chosen"] = {{"seed", r.seeds[i]},
                     {"trial", trial},
                     {"trials", trials.size()},
                     {"reference_bytes", ref_bytes ? json(*ref_bytes) : json()},
                     {"size_fraction", size.is_number() && ref_bytes && *ref_bytes > 0
                                           ? json(size.get<double>() / *ref_bytes)
                                           : json()}};
    out["arm_toml"] = rec.value("arm_toml", json());
    break;
  }
  // The verdict: the ordinary gates on the evaluation (test) split, for the searched arm.
  json results = json::array();
  int failed = 0;
  if (doc.contains("gates") && doc["gates"].is_object())
    for (const auto& g : doc["gates"].value("results", json::array()))
      if (g.value("arm", "") == arm) {
        results.push_back(g);
        failed += !g.value("passed", false);
      }
  const std::string split = doc["data"].is_object() ? doc["data"].value("evaluation_split", "test") : "test";
  out["verdict"] = {{"split", split},
                    {"passed", results.empty() ? json() : json(failed == 0)},
                    {"count", results.size()},
                    {"failed", failed},
                    {"results", results}};
  return out;
}

}  // namespace

void add_attribution_json(json& doc, const store::Store& store) {
  const auto seeds = run_seeds(doc);
  json attribution = json::array();
  std::optional<json> search;
  for (const auto& a : doc["arms"]) {
    const std::string arm = a.value("name", "");
    if (const auto r = read_records(store, arm, seeds, "attribution"); !r.empty())
      attribution.push_back(attribution_entry(arm, r));
    if (search) continue;  // one [search], one searched arm
    if (const auto r = read_records(store, arm, seeds, "search"); !r.empty()) search = search_object(doc, arm, r);
  }
  if (!attribution.empty()) doc["attribution"] = std::move(attribution);
  if (search) doc["search"] = std::move(*search);
}

}  // namespace compaudit::report
