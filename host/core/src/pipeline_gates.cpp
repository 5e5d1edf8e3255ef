// [[gate]] tables: bounds on statistics that metrics report for arms (docs/gates.md). Parsed and checked here,
// before anything runs: the metric must be one of the pipeline's [[metric]]s and the arm pattern must match an arm.
// Whether the statistic exists is only known once the metric has run; a gate whose statistic is missing fails
// (host/report/src/gates.cpp), so a typo can never pass a gate.
#include "pipeline_detail.h"

#include <fmt/format.h>

#include <fnmatch.h>

namespace compaudit::host::detail {

void read_gates(const toml::table& root, const std::string& file, Pipeline& out, ErrorCollector& errors) {
  const toml::node* node = root.get("gate");
  if (!node) return;
  const toml::array* gates = node->as_array();
  if (!gates || !gates->is_array_of_tables())
    throw Error(ErrorCode::pipeline, "'gate' must be an array of tables ([[gate]])", location(node->source(), file));
  for (std::size_t i = 0; i < gates->size(); ++i) errors.check([&] {  // each gate checked, whatever the others
    TableReader r(*gates->get(i)->as_table(), file, fmt::format("[[gate]] #{}", i + 1), ErrorCode::pipeline);
    GateSpec g;
    g.where = r.where();
    g.metric = r.required_string("metric");
    bool known = false;
    std::string ids;
    for (const auto& m : out.metrics) {
      known = known || m.plugin == g.metric;
      ids += (ids.empty() ? "" : ", ") + m.plugin;
    }
    if (!known)
      r.fail("metric", fmt::format("gate metric '{}' is not one of this pipeline's [[metric]]s ({})", g.metric, ids));
    g.statistic = r.required_string("statistic");
    if (g.statistic.empty()) r.fail("statistic", "statistic must name a value the metric reports");
    g.arm = r.string("arm").value_or("*");
    bool matches = false;
    for (const auto& a : out.arms)
      if (a.name != "dense" && !is_control(a) && fnmatch(g.arm.c_str(), a.name.c_str(), 0) == 0) matches = true;
    if (!matches) r.fail("arm", fmt::format("gate arm '{}' matches no compressed arm of the pipeline", g.arm));
    if (const toml::node* c = r.node("class")) {
      if (auto idx = c->as_integer()) g.class_name = std::to_string(idx->get());
      else if (auto name = c->as_string()) g.class_name = name->get();
      else r.fail_value(*c, "class is a class name or a 0-based class index");
    }
    g.max = r.number("max");
    g.min = r.number("min");
    if (!g.max && !g.min) r.fail("statistic", "a gate needs a bound: max = ... and/or min = ...");
    if (g.max && g.min && *g.min > *g.max) r.fail("min", fmt::format("min = {} is above max = {}", *g.min, *g.max));
    g.name = r.string("name").value_or(
        fmt::format("{}.{}{}", g.metric.substr(g.metric.rfind('.') + 1), g.statistic,
                    g.class_name.empty() ? "" : "[" + g.class_name + "]"));
    r.finish();
    out.gates.push_back(std::move(g));
  });
}

}  // namespace compaudit::host::detail
