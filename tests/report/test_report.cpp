// Reports built from a store: report.json's documented fields, the HTML page's sections and offline-ness, the
// terminal table's width, top-1 statistics against an independent value, bad inputs.
#include <compaudit/report/report.h>
#include <compaudit/store/store.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "../../host/report/src/png.h"
#include "synthetic_run.h"
#include "support/temp_dir.h"

using namespace compaudit;
using compaudit::test::TempDir;
using nlohmann::json;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

TEST_CASE("build_reports writes report.json with the documented fields", "[report][json]") {
  TempDir dir;
  compaudit::test::write_synthetic_run(dir.path());
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {"json"}, terminal) == 0);
  CHECK(terminal.str().empty());  // terminal not requested
  const json doc = json::parse(slurp(dir.path() + "/report.json"));

  CHECK(doc["schema"] == "compaudit.report/1");
  CHECK(doc["run"]["name"] == "synthetic-pie");
  CHECK(doc["run"]["pipeline_toml"].get<std::string>().find("[audit]") == 0);
  CHECK(doc["run"]["cells"]["total"] == 30);
  CHECK(doc["run"]["cells"]["failed"] == 1);
  CHECK(doc["data"]["class_names"].size() == 10);
  CHECK(doc["data"]["evaluation_split"] == "test");
  CHECK(doc["data"]["splits"][1]["class_counts"][0] == 60);

  const auto& arms = doc["arms"];
  REQUIRE(arms.size() == 6);
  CHECK(arms[0]["name"] == "dense");
  CHECK(arms[4]["name"] == "prune@sparsity=0.9");
  CHECK(arms[4]["level"] == 0.9);
  CHECK(arms[4]["reference"] == "dense+ft");
  CHECK(arms[4]["cells"]["done"] == 4);
  CHECK(arms[4]["top1"]["n"] == 4);
  for (const auto& arm : arms) {
    INFO(arm["name"]);
    REQUIRE(arm["top1"]["mean"].is_number());
    const double mean = arm["top1"]["mean"];
    CHECK(arm["top1"]["ci95"][0].get<double>() < mean);
    CHECK(arm["top1"]["ci95"][1].get<double>() > mean);
    CHECK(arm["class_recall"].size() == 10);
    CHECK(arm["metrics"].size() == 6);
  }
  // Top-1 falls with sparsity in the synthetic run; the metric JSON is carried through untouched.
  CHECK(arms[2]["top1"]["mean"].get<double>() > arms[4]["top1"]["mean"].get<double>());
  CHECK(arms[4]["metrics"][0]["id"] == "org.compaudit.metric.pie");
  CHECK(arms[4]["metrics"][0]["result"]["summary"]["pie_fraction"].get<double>() > 0.1);
  CHECK(doc["metrics"].size() == 6);
  CHECK(doc["metrics"][3]["id"] == "org.example.metric.entropy");

  REQUIRE(doc["failed_cells"].size() == 1);
  CHECK(doc["failed_cells"][0]["arm"] == "prune@sparsity=0.9");
  CHECK(doc["failed_cells"][0]["error"].get<std::string>().find("mask shape") != std::string::npos);
  CHECK(doc["log"].size() == 1);  // the warning, not the info line
}

TEST_CASE("Findings say whether differences exceed the intervals and how effects move with level", "[report][json]") {
  TempDir dir;
  compaudit::test::write_synthetic_run(dir.path());
  const json doc = report::report_json(store::Store::open(dir.path(), store::Store::Access::read_only));
  std::map<std::string, std::string> text;  // kind/subject -> text
  for (const auto& f : doc["findings"])
    text[f["kind"].get<std::string>() + "/" + f["subject"].get<std::string>()] = f["text"];
  CHECK_THAT(text["top1/int8"], Catch::Contains("intervals overlap, not distinguishable with 5 models"));
  CHECK_THAT(text["top1/prune@sparsity=0.9"], Catch::Contains("against dense+ft): the 95% intervals do not overlap"));
  // Seeds 0-3 are at every level (seed 4 failed at 0.9): disagreement rises in each, so the trend test rejects.
  CHECK_THAT(text["pie_trend/prune"], Catch::StartsWith("PIE fraction rises with level"));
  CHECK_THAT(text["pie_trend/prune"], Catch::Contains("4 seeds × 3 levels, permutation p = "));
  CHECK_THAT(text["impacted_trend/prune"], Catch::Contains("with level: 5 → 6 → 9 (counts per level; no trend test"));
  CHECK_THAT(text["pie_noise/prune@sparsity=0.9"], Catch::Contains("against a seed-noise floor of"));
  CHECK_THAT(text["pie_noise/prune@sparsity=0.9"], Catch::EndsWith("above noise at alpha = 0.05"));
  CHECK_THAT(text["pie_removal/"], Catch::Contains("for 5 of 5 arms"));
  CHECK_THAT(text["failed_cells/"], Catch::StartsWith("1 cell failed"));
  CHECK(text.count("top1/dense") == 0);  // the dense arm is compared with nothing
}

TEST_CASE("Top-1 mean, sd and 95% t-interval match an independent computation", "[report][json]") {
  TempDir dir;
  {
    auto s = store::Store::create(dir.path(), {});
    store::DataInfo d;
    d.num_classes = 2;
    d.class_names = {"no", "yes"};
    d.splits = {{"test", 10, {0, 0, 0, 0, 0, 1, 1, 1, 1, 1}}};
    s.put_data(d);
    s.put_arms({{"dense", "dense", 0, {}, json::array(), 0, ""}});
    // Seeds right on 5, 6 and 7 of 10 examples: top-1 0.5, 0.6, 0.7.
    const std::vector<std::vector<std::int16_t>> labels = {
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 1, 0, 0, 0}};
    for (int k = 0; k < 3; ++k) {
      store::Predictions p;
      p.arm = "dense";
      p.seed = k;
      p.split = "test";
      p.labels = labels[static_cast<std::size_t>(k)];
      s.finish_cell(store::Cell{"dense", k}, {p});
    }
  }
  const json doc = report::report_json(store::Store::open(dir.path(), store::Store::Access::read_only));
  const auto& t = doc["arms"][0]["top1"];
  CHECK(t["mean"].get<double>() == Approx(0.6));
  CHECK(t["sd"].get<double>() == Approx(0.1));
  // scipy.stats.t.ppf(0.975, 2) * 0.1 / sqrt(3) = 4.302652729696144 * 0.05773502691896258
  const double half = 0.24841377118781863;
  CHECK(t["ci95"][0].get<double>() == Approx(0.6 - half).epsilon(1e-9));
  CHECK(t["ci95"][1].get<double>() == Approx(0.6 + half).epsilon(1e-9));
  // Class recall: class 0 always right (1.0), class 1 right on 0, 1, 2 of 5 seeds' examples: mean 0.2.
  CHECK(doc["arms"][0]["class_recall"][0].get<double>() == Approx(1.0));
  CHECK(doc["arms"][0]["class_recall"][1].get<double>() == Approx(0.2));
}

TEST_CASE("report.html has every section, inline plots and thumbnails, and no external URL", "[report][html]") {
  TempDir dir;
  compaudit::test::write_synthetic_run(dir.path());
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {"html"}, terminal) == 0);
  const std::string html = slurp(dir.path() + "/report.html");
  for (const char* id : {"id=summary", "id=accuracy", "id=classes", "id=memorization", "id=gallery", "id=metrics",
                         "id=cells", "id=pipeline"})
    CHECK_THAT(html, Catch::Contains(id));
  CHECK_THAT(html, Catch::Contains("Top-1 accuracy"));
  CHECK_THAT(html, Catch::Contains("PIE fraction"));
  CHECK_THAT(html, Catch::Contains("Per-class normalized recall difference"));
  CHECK_THAT(html, Catch::Contains("Class profile of PIEs"));
  CHECK_THAT(html, Catch::Contains("Mismatch rate against memorization"));
  CHECK_THAT(html, Catch::Contains("Critical class (Shirt): false-negative rate"));
  CHECK_THAT(html, Catch::Contains("data:image/png;base64,iVBORw0KGgo"));  // PNG signature, base64
  CHECK_THAT(html, Catch::Contains("org.example.metric.entropy"));         // unknown metric: generic table
  CHECK_THAT(html, Catch::Contains("raw output"));
  CHECK_THAT(html, Catch::Contains("examples singled out for int8 (4 of 4)"));  // the "examples" convention
  CHECK_THAT(html, Catch::Contains("does not match weight"));                   // the failed cell's error
  CHECK_THAT(html, Catch::Contains("org.compaudit.prune.magnitude"));           // the pipeline TOML
  CHECK(std::count(html.begin(), html.end(), '\n') >= 1);
  const std::string l = lower(html);
  CHECK(l.find("http") == std::string::npos);
  CHECK(l.find("<script") == std::string::npos);
  CHECK(l.find("<link") == std::string::npos);
  CHECK(l.find("url(") == std::string::npos);
  CHECK(l.find("@import") == std::string::npos);
}

TEST_CASE("The page escapes names from the run", "[report][html]") {
  TempDir dir;
  {
    store::RunInfo run;
    run.name = "<b>bold</b>";
    auto s = store::Store::create(dir.path(), run);
    s.put_arms({{"dense", "dense", 0, {}, json::array(), 0, ""}, {"a<script>", "a", 0, {}, json::array(), 0, "dense"}});
    s.fail_cell("a<script>", 0, "error with <img src=x> & more");
  }
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {"html"}, terminal) == 0);
  const std::string html = slurp(dir.path() + "/report.html");
  CHECK(html.find("<b>bold</b>") == std::string::npos);
  CHECK_THAT(html, Catch::Contains("&lt;b&gt;bold&lt;/b&gt;"));
  CHECK(html.find("a<script>") == std::string::npos);
  CHECK(html.find("<img src=x>") == std::string::npos);
}

TEST_CASE("The terminal summary fits 100 columns and names every arm", "[report][terminal]") {
  TempDir dir;
  compaudit::test::write_synthetic_run(dir.path());
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {"terminal"}, terminal) == 0);
  const std::string text = terminal.str();
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    INFO(line);
    CHECK(line.size() <= 100);  // ASCII only, so bytes = columns
  }
  CHECK(n >= 8);
  for (const char* arm : {"dense ", "dense+ft", "prune@sparsity=0.5", "prune@sparsity=0.9", "int8"})
    CHECK_THAT(text, Catch::Contains(arm));
  CHECK_THAT(text, Catch::Contains("4/1"));
  CHECK_THAT(text, Catch::Contains("failed: prune@sparsity=0.9 seed 4"));
  CHECK(!std::filesystem::exists(dir.path() + "/report.json"));  // only what was asked
}

TEST_CASE("The terminal shows the first failed cell's error in full, wrapped, and later ones on one line each",
          "[report][terminal]") {
  // The error `run` printed as "failed in compress: r~" before: a plugin id, a manifest path, the reason.
  const std::string first =
      "plugin org.example.prune.random failed in compress: parameters error: the plugin asks for parameter "
      "'fraction' (double), which its manifest /home/user/.local/share/compaudit/plugins/random_prune.toml does "
      "not declare (declared: amount float)";
  const std::string second = first + " (again, for seed 1)";
  const json report = {{"run", {{"name", "r"}, {"cells", {{"total", 4}, {"done", 2}, {"failed", 2}}}}},
                       {"arms", json::array()},
                       {"failed_cells", {{{"arm", "prune@fraction=0.5"}, {"seed", 0}, {"error", first}},
                                         {{"arm", "prune@fraction=0.5"}, {"seed", 1}, {"error", second}}}}};
  const std::string text = report::terminal_summary(report, 100);
  INFO(text);
  // The first failure: every word, in order, across its lines (wrapped at spaces, continuation lines indented).
  std::string unwrapped;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("failed: prune@fraction=0.5 seed 0: ", 0) == 0 || (!unwrapped.empty() && line.rfind("  ", 0) == 0))
      unwrapped += (unwrapped.empty() ? "" : " ") + line.substr(line.rfind("  ", 0) == 0 ? 2 : 0);
    else if (!unwrapped.empty())
      break;
  CHECK(unwrapped == "failed: prune@fraction=0.5 seed 0: " + first);
  // The second keeps to one shortened line, marked '~'.
  const auto at = text.find("failed: prune@fraction=0.5 seed 1: ");
  REQUIRE(at != std::string::npos);
  const std::string line = text.substr(at, text.find('\n', at) - at);
  CHECK(line.size() <= 100);
  CHECK(line.back() == '~');
}

TEST_CASE("Reports build from a store with only a run, and while a writer holds it", "[report]") {
  TempDir dir;
  store::RunInfo run;
  run.name = std::string(150, 'n');  // a long name is cut to fit the terminal
  auto writer = store::Store::create(dir.path(), run);
  writer.ensure_cells({{"dense", 0}});
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {}, terminal) == 0);
  CHECK(json::parse(slurp(dir.path() + "/report.json"))["arms"][0]["cells"]["pending"] == 1);
  CHECK_THAT(slurp(dir.path() + "/report.html"), Catch::Contains("id=pipeline"));
  CHECK_THAT(terminal.str(), Catch::Contains("dense"));
  std::istringstream lines(terminal.str());
  for (std::string line; std::getline(lines, line);) CHECK(line.size() <= 100);
}

TEST_CASE("Metric output of an unexpected shape costs only its part of the page", "[report][html]") {
  TempDir dir;
  compaudit::test::SyntheticOptions o;
  o.seeds = 3;
  compaudit::test::write_synthetic_run(dir.path(), o);
  {
    auto s = store::Store::open(dir.path());
    // A PIE result whose per_class rows and labels have the wrong types, a Welch result with a string class id.
    s.put_metric({0,
                  "org.compaudit.metric.pie",
                  "prune@sparsity=0.9",
                  "dense+ft",
                  {{"summary", {{"pie_fraction", "lots"}, {"pie_count", 3}}},
                   {"per_class", {1, 2, 3}},
                   {"pie_labels", {{{"id", "x"}, {"label", "y"}}}}},
                  ""});
    s.put_metric(
        {1,
         "org.compaudit.metric.recall_welch",
         "prune@sparsity=0.9",
         "dense+ft",
         {{"per_class", {{{"class", "six"}, {"name", 6}, {"d", "big"}, {"impacted", "yes"}}}}, {"alpha", "0.05"}},
         ""});
  }
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {}, terminal) == 0);
  const std::string html = slurp(dir.path() + "/report.html");
  CHECK_THAT(html, Catch::Contains("Could not draw the"));
  CHECK_THAT(html, Catch::Contains("id=pipeline"));  // the rest of the page is there
  CHECK_THAT(html, Catch::Contains("Top-1 accuracy"));
  CHECK(json::parse(slurp(dir.path() + "/report.json"))["arms"].size() == 6);
  CHECK_THAT(terminal.str(), Catch::Contains("prune@sparsity=0.9"));
}

TEST_CASE("Tabular data gets no gallery", "[report][html]") {
  TempDir dir;
  compaudit::test::SyntheticOptions o;
  o.image = false;
  o.seeds = 3;
  compaudit::test::write_synthetic_run(dir.path(), o);
  std::ostringstream terminal;
  REQUIRE(report::build_reports(dir.path(), {"html"}, terminal) == 0);
  const std::string html = slurp(dir.path() + "/report.html");
  CHECK(html.find("id=gallery") == std::string::npos);
  CHECK(html.find("data:image/png") == std::string::npos);
  CHECK_THAT(html, Catch::Contains("id=classes"));
}

TEST_CASE("Bad run directories and formats give clear errors", "[report][errors]") {
  TempDir dir;
  std::ostringstream out;
  SECTION("no store") {
    CHECK(report::build_reports(dir.path(), {}, out) == 6);
    CHECK_THAT(out.str(), Catch::Contains("compaudit report: ") && Catch::Contains("no results store"));
  }
  SECTION("a garbage results.sqlite") {
    std::ofstream(dir.path() + "/results.sqlite") << std::string(3000, 'x');
    CHECK(report::build_reports(dir.path(), {}, out) == 6);
    CHECK_THAT(out.str(), Catch::Contains("not a compaudit results store"));
    CHECK(!std::filesystem::exists(dir.path() + "/report.json"));
  }
  SECTION("an unknown format") {
    { store::Store::create(dir.path(), {}); }
    CHECK(report::build_reports(dir.path(), {"json", "pdf"}, out) == 2);
    CHECK_THAT(out.str(), Catch::Contains("unknown report format \"pdf\""));
  }
}

TEST_CASE("The PNG encoder writes valid chunks whose pixels decode back", "[report][png]") {
  const std::vector<std::uint8_t> pixels = {0,  10,  20,  30,  40,  50,  60,  70,  80,
                                            90, 100, 110, 120, 130, 140, 150, 160, 170};  // 3 x 2 RGB
  const auto png = report::encode_png(pixels, 3, 2, 3);
  REQUIRE(png.size() > 8 + 25 + 12 + 12);
  CHECK(
      std::equal(png.begin(), png.begin() + 8, std::vector<std::uint8_t>{0x89, 'P', 'N', 'G', 13, 10, 26, 10}.begin()));
  auto be32 = [&](std::size_t at) {
    return std::uint32_t(png[at]) << 24 | std::uint32_t(png[at + 1]) << 16 | std::uint32_t(png[at + 2]) << 8 |
           png[at + 3];
  };
  // Walk the chunks, checking every CRC; collect IHDR and IDAT.
  std::size_t at = 8;
  std::vector<std::uint8_t> idat;
  std::vector<std::string> types;
  while (at < png.size()) {
    const std::uint32_t len = be32(at);
    const std::string type(png.begin() + at + 4, png.begin() + at + 8);
    types.push_back(type);
    const auto crc = crc32(0, png.data() + at + 4, len + 4);
    CHECK(crc == be32(at + 8 + len));
    if (type == "IHDR") {
      CHECK(be32(at + 8) == 3);
      CHECK(be32(at + 12) == 2);
      CHECK(png[at + 16] == 8);  // bit depth
      CHECK(png[at + 17] == 2);  // truecolor
    }
    if (type == "IDAT") idat.insert(idat.end(), png.begin() + at + 8, png.begin() + at + 8 + len);
    at += 12 + len;
  }
  CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  std::vector<std::uint8_t> raw(2 * (1 + 9));
  uLongf raw_len = raw.size();
  REQUIRE(uncompress(raw.data(), &raw_len, idat.data(), idat.size()) == Z_OK);
  REQUIRE(raw_len == raw.size());
  CHECK(raw[0] == 0);
  CHECK(std::vector<std::uint8_t>(raw.begin() + 1, raw.begin() + 10) ==
        std::vector<std::uint8_t>(pixels.begin(), pixels.begin() + 9));
  CHECK(std::vector<std::uint8_t>(raw.begin() + 11, raw.end()) ==
        std::vector<std::uint8_t>(pixels.begin() + 9, pixels.end()));
  CHECK(report::base64({'M', 'a', 'n'}) == "TWFu");
  CHECK(report::base64({'M', 'a'}) == "TWE=");
  CHECK(report::base64({'M'}) == "TQ==");
  CHECK_THROWS_AS(report::encode_png(pixels, 4, 2, 3), std::invalid_argument);
}
