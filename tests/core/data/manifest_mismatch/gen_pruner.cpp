// Reads its parameters through the header generated from gen_pruner.toml.
#include "gen_pruner_manifest.h"

#include <compaudit/compressor.h>

class GenPruner final : public compaudit::Compressor {
 public:
  explicit GenPruner(const compaudit::Params& params) : options_(params) {}
  compaudit::CompressionRecord compress(compaudit::Model&, compaudit::CompressionContext&) override {
    compaudit::CompressionRecord record;
    record.details["fraction"] = options_.fraction;
    record.details["layers"] = options_.layers;
    return record;
  }

 private:
  const gen_pruner_manifest::Options options_;
};

COMPAUDIT_PLUGIN_MANIFEST(GenPruner, gen_pruner_manifest)
