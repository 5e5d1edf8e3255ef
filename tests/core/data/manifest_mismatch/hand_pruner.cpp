// The pre-SDK-1.1 way: names, types, id and version spelled again in the code, checked by `inspect --load`.
#include <compaudit/compressor.h>

class HandPruner final : public compaudit::Compressor {
 public:
  explicit HandPruner(const compaudit::Params& params)
      : fraction_(params.get<double>("fraction")), layers_(params.get<std::vector<std::string>>("layers")) {}
  compaudit::CompressionRecord compress(compaudit::Model&, compaudit::CompressionContext&) override { return {}; }

 private:
  double fraction_;
  std::vector<std::string> layers_;
};

COMPAUDIT_PLUGIN(HandPruner, "org.example.test.hand_pruner", compaudit::PluginKind::compressor, "1.0.0")
