// A compressor that tests the host's side of the SDK 1.1 contracts from inside a real run (tests/sdk/
// test_host_contracts.cpp): rewind_point returns fresh tensors (editing one in place changes neither a second call
// nor what another cell gets), set_mask copies and mask() returns a copy, and context.generator(salt) draws the
// stream the SDK defines. It records what it saw in its CompressionRecord; it masks nothing in the end.
#include <compaudit/compressor.h>
#include <compaudit/plugin.h>

#include <ATen/ATen.h>

namespace {

class ContractProbe final : public compaudit::Compressor {
 public:
  explicit ContractProbe(const compaudit::Params& p) : salt_(static_cast<std::uint64_t>(p.get<std::int64_t>("salt"))) {}

  compaudit::CompressionRecord compress(compaudit::Model& model, compaudit::CompressionContext& context) override {
    compaudit::CompressionRecord record;
    auto first = context.rewind_point(0);
    const at::Tensor before = first.front().second.clone();
    record.details["rewind_sum_before_edit"] = before.sum().item<double>();
    first.front().second.add_(1000.0);  // what a careless plugin does: edit its rewind point in place
    record.details["rewind_second_call_unchanged"] = at::equal(context.rewind_point(0).front().second, before);

    const std::string name = model.layers().front().name + ".weight";
    at::Tensor mask = at::ones_like(model.layers().front().weight, at::kBool);
    model.set_mask(name, mask);
    mask.fill_(false);  // the caller's tensor: must not reach the model
    at::Tensor got = model.mask(name);
    record.details["set_mask_copied"] = got.all().item<bool>();
    got.fill_(false);  // the caller's copy: must not reach the model either
    record.details["mask_returned_copy"] = model.mask(name).all().item<bool>();
    model.set_mask(name, at::Tensor());

    const at::Tensor draws = at::rand({4}, context.generator(salt_), at::kDouble);
    record.details["generator_draws"] = std::vector<double>(draws.data_ptr<double>(), draws.data_ptr<double>() + 4);
    record.summary = "contract probe";
    return record;
  }

 private:
  std::uint64_t salt_;
};

}  // namespace

COMPAUDIT_PLUGIN(ContractProbe, "org.test.compressor.contract_probe", compaudit::PluginKind::compressor, "1.0.0")
