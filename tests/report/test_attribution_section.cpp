// The report's attribution and search sections (host/report/src/attribution_section.h): report.json's "attribution"
// and "search" keys built from the engine's blobs (docs/report-json.md), the page's sections and the terminal lines.
// The blobs follow the records of the issue-17 design exactly; the numbers are chosen so that every assertion
// has one right answer (means across two seeds, an order that differs from either seed's own).
#include <compaudit/report/report.h>
#include <compaudit/store/store.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "support/temp_dir.h"

using namespace compaudit;
using compaudit::test::TempDir;
using nlohmann::json;

namespace {

void put_json(store::Store& s, const std::string& arm, std::int64_t seed, const std::string& name, const json& j) {
  const std::string text = j.dump();
  s.put_blob(arm, seed, name, std::vector<std::uint8_t>(text.begin(), text.end()));
}

json totals(double negative, double recall_change) {
  return {{"negative_flips", negative},    {"positive_flips", 10},
          {"negative_flip_rate", negative / 60}, {"accuracy_change", -0.01},
          {"critical_recall_change", recall_change}, {"critical_negative_flips", negative / 10}, {"kl", 0.03}};
}

json layer(const std::string& name, double harm, double only_flips, double only_recall, json output_error,
           json flipped) {
  return {{"layer", name},
          {"type", "linear"},
          {"parameters", {name + ".weight", name + ".bias"}},
          {"only", totals(only_flips, only_recall)},
          {"all_but", totals(100 - only_flips, -0.05 - only_recall)},
          {"harm", harm},
          {"output_error", output_error},
          {"weight_error", {{"relative_l2", 0.3}}},
          {"flipped_examples", flipped}};
}

json output_error(double l2) {
  return {{"relative_l2", l2}, {"sqnr_db", 20.0}, {"relative_l2_critical", 0.12}, {"sqnr_db_critical", 18.4}};
}

json attribution_record(int seed) {
  const json shirt = {{"index", 6}, {"name", "Shirt"}};
  // Seed 0 ranks fc2 first, seed 1 fc1; the mean harm ranks fc1 (0.5) over fc2 (0.4) over fc3 (0.1).
  json layers = seed == 0 ? json::array({layer("fc2", 0.6, 30, -0.02, output_error(0.2), {40}),
                                         layer("fc1", 0.3, 40, -0.03, output_error(0.1), {12, 57}),
                                         layer("fc3", 0.1, 5, 0.0, output_error(0.05), json::array())})
                          : json::array({layer("fc1", 0.7, 60, -0.05, output_error(0.3), {57, 3}),
                                         layer("fc2", 0.2, 20, -0.01, output_error(0.2), {41}),
                                         layer("fc3", 0.1, 5, 0.0, nullptr, json::array())});
  return {{"arm", "prune@0.9"},     {"seed", seed},          {"reference", "dense"},
          {"split", "test"},        {"examples_total", 60},  {"critical_class", shirt},
          {"arm_totals", totals(seed == 0 ? 120 : 100, -0.05)},
          {"evaluations", 7},       {"seconds", 1.2},        {"layers", layers}};
}

json trial(int id, double sparse_bytes, double flip_rate, bool passed, bool frontier) {
  return {{"id", id},
          {"config", {{"fc1", 0.95}, {"fc2", id == 2 ? json(0.8) : json(0.95)}, {"fc3", nullptr}}},
          {"parameters", 100000},
          {"nonzeros", 20000},
          {"bytes", 400000},
          {"sparse_bytes", sparse_bytes},
          {"accuracy", 0.85},
          {"negative_flip_rate", flip_rate},
          {"critical_recall", 0.55},
          {"critical_recall_change", -0.1},
          {"gates",
           {{{"gate", "shirt-recall"},
             {"value", 0.12},
             {"passed", passed},
             {"reason", passed ? "" : "0.12 > max 0.03"}}}},
          {"passed", passed},
          {"frontier", frontier},
          {"note", id == 0 ? "start: every layer at 0.95" : "relax fc2"}};
}

json search_record(int seed, bool with_choice) {
  return {{"seed", seed},
          {"split", "validation"},
          {"plugin", "org.compaudit.prune.magnitude"},
          {"parameter", "sparsity"},
          {"values", {0.95, 0.9, 0.8}},
          {"layers", {"fc1", "fc2", "fc3"}},
          {"strategy", "greedy"},
          {"critical_class", {{"index", 6}, {"name", "Shirt"}}},
          {"gates", {{{"gate", "shirt-recall"}, {"metric", "org.compaudit.metric.paired_bootstrap"},
                      {"statistic", "recall_drop_upper"}, {"class", "Shirt"}, {"min", nullptr}, {"max", 0.03}}}},
          {"evaluations", 4},
          {"seconds", 3.1},
          {"trials", {trial(0, 80000, 0.09, false, true), trial(1, 160000, 0.05, false, true),
                      trial(2, 248000, 0.02, with_choice, true), trial(3, 300000, 0.03, with_choice, false)}},
          {"chosen", with_choice ? json(2) : json(nullptr)},
          {"passed", with_choice},
          {"arm_toml", with_choice ? json("[[arm]]\nname = \"searched\"\n  [[arm.step]]\n  plugin = "
                                          "\"org.compaudit.prune.magnitude\"\n  layers = [\"fc2\"]\n  sparsity = 0.8\n")
                                   : json(nullptr)}};
}

struct Options {
  bool attribution = true, search = true, chosen = true, thumbnails = true;
};

/// dense, prune@0.9 and searched, seeds 0 and 1, sizes, gates on the searched and the pruned arm, and the blobs.
void write_run(const std::string& dir, const Options& o = {}) {
  store::RunInfo run;
  run.name = "attribution-test";
  run.settings = {
      {"seeds", {0, 1}},
      {"evaluation_split", "test"},
      {"gates",
       {{{"name", "flips"}, {"arm", "*"}, {"metric", "org.compaudit.metric.flips"},
         {"statistic", "negative_flip_rate"}, {"max", 0.05}},
        {{"name", "shirt-recall"}, {"arm", "searched"}, {"metric", "org.compaudit.metric.paired_bootstrap"},
         {"statistic", "recall_drop_upper"}, {"class", "Shirt"}, {"max", 0.03}}}}};
  auto s = store::Store::create(dir, run);
  store::DataInfo d;
  d.kind = "image";
  d.num_classes = 10;
  d.class_names = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"};
  d.input_shape = {1, 4, 4};
  std::vector<std::int16_t> targets(60);
  for (int i = 0; i < 60; ++i) targets[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(i % 10);
  d.splits = {{"test", 60, targets}};
  s.put_data(d);
  if (o.thumbnails) {
    std::vector<store::Thumbnail> thumbs;
    for (int i = 0; i < 60; ++i) thumbs.push_back({"test", i, 1, 4, 4, std::vector<std::uint8_t>(16, 100)});
    s.put_thumbnails(thumbs);
  }
  const json prune = json::array({{{"plugin", "org.compaudit.prune.magnitude"}, {"params", {{"sparsity", 0.9}}}}});
  s.put_arms({{"dense", "dense", 0, {}, json::array(), 0, ""},
              {"prune@0.9", "prune", 0.9, {}, prune, 0, "dense"},
              {"searched", "searched", 0, {}, json::array(), 0, "dense"}});
  for (const std::string arm : {"dense", "prune@0.9", "searched"})
    for (int seed : {0, 1}) {
      store::Predictions p;
      p.arm = arm;
      p.seed = seed;
      p.split = "test";
      p.labels = targets;
      store::Cell c;
      c.arm = arm;
      c.seed = seed;
      // The dense models: 400000 bytes, so the chosen trial's 248000 sparse bytes are 62% of them.
      c.size = {{"parameters", 100000}, {"nonzeros", 100000}, {"bytes", arm == "dense" ? 400000 : 100000},
                {"sparse_bytes", 100000}};
      s.start_cell(arm, seed);
      s.finish_cell(c, {p});
    }
  for (const auto& [arm, rate] : {std::pair<const char*, double>{"prune@0.9", 0.04}, {"searched", 0.02}})
    s.put_metric({0, "org.compaudit.metric.flips", arm, "dense", {{"summary", {{"negative_flip_rate", rate}}}}, ""});
  s.put_metric({1, "org.compaudit.metric.paired_bootstrap", "searched", "dense",
                {{"summary", json::object()},
                 {"intervals", json::object()},
                 {"per_class", {{{"class", 6}, {"name", "Shirt"}, {"recall_drop_upper", 0.05}}}}},
                ""});
  if (o.attribution)
    for (int seed : {0, 1}) put_json(s, "prune@0.9", seed, "attribution", attribution_record(seed));
  if (o.search)
    for (int seed : {0, 1}) put_json(s, "searched", seed, "search", search_record(seed, o.chosen && seed == 1));
}

json report_of(const std::string& dir) {
  return report::report_json(store::Store::open(dir, store::Store::Access::read_only));
}

std::string html_of(const std::string& dir) {
  const auto s = store::Store::open(dir, store::Store::Access::read_only);
  return report::report_html(report::report_json(s), s);
}

/// The page of the run in `dir` from the heading `from` to the heading `to`.
std::string section_of(const std::string& dir, const char* from, const char* to) {
  const std::string html = html_of(dir);
  const auto at = html.find(from);
  REQUIRE(at != std::string::npos);
  return html.substr(at, html.find(to) - at);
}

}  // namespace

TEST_CASE("report.json aggregates the attribution records over seeds, most harmful layer first",
          "[report][attribution]") {
  TempDir dir;
  write_run(dir.path());
  const json doc = report_of(dir.path());
  REQUIRE(doc.contains("attribution"));
  REQUIRE(doc["attribution"].size() == 1);  // only the arm with blobs
  const json& a = doc["attribution"][0];
  CHECK(a["arm"] == "prune@0.9");
  CHECK(a["reference"] == "dense");
  CHECK(a["critical_class"]["name"] == "Shirt");
  REQUIRE(a["seeds"].size() == 2);  // the records as stored
  CHECK(a["seeds"][0]["layers"][0]["layer"] == "fc2");
  CHECK(a["seeds"][1]["layers"][0]["layer"] == "fc1");
  CHECK(!a.contains("errors"));

  const json& agg = a["aggregate"];
  CHECK(agg["seeds"] == json({0, 1}));
  CHECK(agg["arm_totals"]["negative_flips"].get<double>() == Approx(110));
  CHECK(agg["arm_totals"]["critical_recall_change"].get<double>() == Approx(-0.05));
  const json& layers = agg["layers"];
  REQUIRE(layers.size() == 3);
  CHECK(layers[0]["layer"] == "fc1");  // mean harm 0.5 (seed 0 alone would put fc2 first)
  CHECK(layers[1]["layer"] == "fc2");  // 0.4
  CHECK(layers[2]["layer"] == "fc3");  // 0.1
  CHECK(layers[0]["harm"].get<double>() == Approx(0.5));
  CHECK(layers[1]["harm"].get<double>() == Approx(0.4));
  CHECK(layers[0]["only"]["negative_flips"].get<double>() == Approx(50));
  CHECK(layers[0]["only"]["critical_recall_change"].get<double>() == Approx(-0.04));
  CHECK(layers[0]["all_but"]["negative_flips"].get<double>() == Approx(50));
  CHECK(layers[0]["output_error"]["relative_l2"].get<double>() == Approx(0.2));
  CHECK(layers[0]["type"] == "linear");
  CHECK(layers[0]["seeds"] == 2);
  // fc3 has no output error for seed 1 (null): the mean is over the seed that has one.
  CHECK(layers[2]["output_error"]["relative_l2"].get<double>() == Approx(0.05));
  CHECK(layers[0]["flipped_examples"] == json({12, 57, 3}));  // union over seeds, first-seen order
}

TEST_CASE("report.json carries the search records, the chosen configuration and the test verdict", "[report][search]") {
  TempDir dir;
  write_run(dir.path());
  const json doc = report_of(dir.path());
  REQUIRE(doc.contains("search"));
  const json& s = doc["search"];
  CHECK(s["arm"] == "searched");
  REQUIRE(s["seeds"].size() == 2);
  CHECK(s["seeds"][0]["chosen"].is_null());
  // Frontier flags pass through untouched.
  CHECK(s["seeds"][1]["trials"][1]["frontier"] == true);
  CHECK(s["seeds"][1]["trials"][3]["frontier"] == false);
  // The first seed with a choice is seed 1.
  REQUIRE(s["chosen"].is_object());
  CHECK(s["chosen"]["seed"] == 1);
  CHECK(s["chosen"]["trial"]["id"] == 2);
  CHECK(s["chosen"]["trial"]["config"]["fc2"] == 0.8);
  CHECK(s["chosen"]["trials"] == 4);
  CHECK(s["chosen"]["reference_bytes"].get<double>() == Approx(400000));
  CHECK(s["chosen"]["size_fraction"].get<double>() == Approx(0.62));
  CHECK_THAT(s["arm_toml"].get<std::string>(), Catch::Contains("sparsity = 0.8"));
  // The verdict: the searched arm's gates only (the flips gate also judged prune@0.9), from the run's gates.
  const json& v = s["verdict"];
  CHECK(v["split"] == "test");
  CHECK(v["count"] == 2);
  CHECK(v["failed"] == 1);
  CHECK(v["passed"] == false);
  for (const auto& r : v["results"]) CHECK(r["arm"] == "searched");
  CHECK(v["results"][0]["gate"] == "flips");
  CHECK(v["results"][0]["passed"] == true);
  CHECK(v["results"][1]["gate"] == "shirt-recall");
  CHECK(v["results"][1]["passed"] == false);
  CHECK(doc["gates"]["count"] == 3);  // the run's gates are unchanged
}

TEST_CASE("report.json has neither key without blobs, and a corrupt blob is an error entry", "[report][attribution]") {
  TempDir dir;
  SECTION("no blobs") {
    write_run(dir.path(), {false, false, false, true});
    const json doc = report_of(dir.path());
    CHECK(!doc.contains("attribution"));
    CHECK(!doc.contains("search"));
    const auto s = store::Store::open(dir.path(), store::Store::Access::read_only);
    const std::string html = report::report_html(doc, s);
    CHECK(html.find("id=attribution") == std::string::npos);
    CHECK(html.find("id=search") == std::string::npos);
    const std::string text = report::terminal_summary(doc);
    CHECK(text.find("attribution ") == std::string::npos);
    CHECK(text.find("search:") == std::string::npos);
  }
  SECTION("a blob that is not JSON") {
    write_run(dir.path());
    {
      auto s = store::Store::open(dir.path());
      const std::string junk = "{\"layers\": [";
      s.put_blob("prune@0.9", 1, "attribution", std::vector<std::uint8_t>(junk.begin(), junk.end()));
    }
    const json doc = report_of(dir.path());
    const json& a = doc["attribution"][0];
    REQUIRE(a.contains("errors"));
    CHECK(a["errors"][0]["seed"] == 1);
    CHECK_THAT(a["errors"][0]["error"].get<std::string>(), Catch::StartsWith("blob \"attribution\": "));
    CHECK(a["aggregate"]["seeds"] == json({0}));
    CHECK(a["aggregate"]["layers"][0]["layer"] == "fc2");  // seed 0 alone
    CHECK(a["aggregate"]["layers"][0]["harm"].get<double>() == Approx(0.6));
  }
}

TEST_CASE("report.html shows the attribution table, the harm chart and the flipped examples", "[report][attribution]") {
  TempDir dir;
  write_run(dir.path());
  const std::string section = section_of(dir.path(), "<h2 id=attribution>", "<h2 id=search>");
  // The most harmful layer's row (highlighted): harm, negative flips and Shirt recall change alone, then all but it.
  CHECK_THAT(section, Catch::Contains("<tr class=imp><td class=l>fc1</td><td class=l>linear</td><td>0.50</td>"
                                      "<td>50</td><td>-4.0 pts</td><td>50</td><td>-1.0 pts</td><td>0.200</td>"
                                      "<td>20.0</td><td>0.120</td><td>18.4</td><td>0.300</td></tr>"));
  CHECK(section.find("<td class=l>fc2</td>") < section.find("<td class=l>fc3</td>"));
  // The harm chart with the bar's hover text; the flipped examples of fc1 as thumbnails with their true label.
  for (const char* piece : {"Shirt recall change", "aria-label=\"Harm per layer: prune@0.9\"",
                            "<title>fc1: 0.5</title>", "alt=\"example 12\"", "alt=\"example 3\"",
                            "<div>#57</div><div class=t>true: Sneaker</div>"})
    CHECK_THAT(section, Catch::Contains(piece));
  CHECK(section.find("alt=\"example 40\"") == std::string::npos);  // fc2's
}

TEST_CASE("report.html lists the flipped example ids when there are no thumbnails", "[report][attribution]") {
  TempDir dir;
  write_run(dir.path(), {true, true, true, false});
  const std::string html = html_of(dir.path());
  CHECK_THAT(html, Catch::Contains("fc1 alone flips from right to wrong (3 of 3, over the seeds): 12, 57, 3</p>"));
  CHECK(html.find("alt=\"example 12\"") == std::string::npos);
}

TEST_CASE("report.html shows the search: Pareto plot, trials, chosen TOML and the test verdict", "[report][search]") {
  TempDir dir;
  write_run(dir.path());
  const std::string section = section_of(dir.path(), "<h2 id=search>", "<h2 id=accuracy>");
  // The labels, the choice, the verdict (the searched arm's gates on the test split) and the chosen [[arm]]; one
  // Pareto plot per seed: frontier joined, passed and failed trials, the chosen one ringed.
  for (const char* piece :
       {"Searched on the validation split; judged on the test split.",
        "Chosen: trial 2 of 4 (seed 1) — validation gates passed; 62% of the reference's bytes.",
        "<h3 class=bad>Test-split verdict: gates FAILED (1 of 2 failed)</h3>",
        "<td class=\"l bad\">FAIL: 0.05 &gt; max 0.03</td>", "<pre>[[arm]]\nname = &quot;searched&quot;",
        "aria-label=\"Seed 0: trials on the validation split\"",
        "aria-label=\"Seed 1: trials on the validation split\"",
        ">Pareto frontier</text>", ">passed gates</text>", ">failed gates</text>",
        "r=\"8\" fill=\"none\" stroke=\"#111111\""})
    CHECK_THAT(section, Catch::Contains(piece));
  // The trials table: the chosen row highlighted, frontier marks, failed gates named.
  CHECK_THAT(section, Catch::Contains("<tr class=up><td>2</td><td class=l>fc1 0.95 · fc2 0.8 · fc3 –</td>"
                                      "<td>248000</td><td>2.00%</td><td>55.0%</td><td>-10.0 pts</td>"
                                      "<td class=ok>yes</td><td>●</td>"));
  CHECK_THAT(section, Catch::Contains("<tr><td>3</td><td class=l>fc1 0.95 · fc2 0.95 · fc3 –</td><td>300000</td>"
                                      "<td>3.00%</td><td>55.0%</td><td>-10.0 pts</td><td class=ok>yes</td><td></td>"));
  CHECK_THAT(section, Catch::Contains("<td class=bad>no: shirt-recall</td>"));
}

TEST_CASE("The terminal summary names the most harmful layers and the search's choice and verdict",
          "[report][attribution]") {
  TempDir dir;
  SECTION("a choice") {
    write_run(dir.path());
    const std::string text = report::terminal_summary(report_of(dir.path()), 100);
    // The two blocks close the summary (nothing failed), wrapped at 100 columns with two-space continuations.
    const auto at = text.find("\nattribution prune@0.9 (");
    REQUIRE(at != std::string::npos);
    std::string block = text.substr(at + 1), unwrapped;
    std::istringstream lines(block);
    for (std::string line; std::getline(lines, line);) {
      INFO(line);
      CHECK(line.size() <= 100);
      unwrapped += line.rfind("  ", 0) == 0 ? " " + line.substr(2) : (unwrapped.empty() ? "" : "\n") + line;
    }
    CHECK(unwrapped ==
          "attribution prune@0.9 (harm shares its 11 Shirt negative flips; descriptive, no interval): most harmful "
          "layer fc1 (harm 0.50; alone: 50 negative flips, Shirt recall -4.0 pts); "
          "fc2 (harm 0.40; alone: 25 negative flips, Shirt recall -1.5 pts); fc3 (harm 0.10; alone: 5 negative flips, "
          "Shirt recall +0.0 pts)\n"
          "search: chose trial 2 of 4 (seed 1; validation gates passed): 62% of bytes; test verdict: gates FAILED (1 of "
          "2)");
  }
  SECTION("no configuration passed") {
    write_run(dir.path(), {true, true, false, true});
    const json doc = report_of(dir.path());
    CHECK(doc["search"]["chosen"].is_null());
    CHECK(doc["search"]["arm_toml"].is_null());
    const std::string text = report::terminal_summary(doc, 100);
    CHECK_THAT(text, Catch::Contains("search: no configuration passed the validation gates (8 tried)\n"));
    const auto s = store::Store::open(dir.path(), store::Store::Access::read_only);
    CHECK_THAT(report::report_html(doc, s), Catch::Contains("No configuration passed the validation gates (8 tried)."));
  }
}
