// Its needs come from gen_metric.toml through the generated header.
#include "gen_metric_manifest.h"

#include <compaudit/metric.h>

class GenMetric final : public compaudit::Metric {
 public:
  explicit GenMetric(const compaudit::Params& params) : options_(params) {}
  compaudit::MetricNeeds needs() const override { return gen_metric_manifest::needs; }
  nlohmann::json compute(const compaudit::MetricInput&) override { return nlohmann::json::object(); }

 private:
  const gen_metric_manifest::Options options_;
};

// The manifest's needs, checked where the build can see them.
static_assert(gen_metric_manifest::needs.probabilities, "gen_metric.toml must say needs = [\"probabilities\"]");

COMPAUDIT_PLUGIN_MANIFEST(GenMetric, gen_metric_manifest)
