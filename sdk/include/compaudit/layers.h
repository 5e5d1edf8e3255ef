// compaudit/layers.h — layer selection on a Model: the `layers` / `exclude` / `layer_types` parameters a selecting
// compressor declares, applied with the same code `compaudit validate` checks them with (layer_selection.h).
//
//     class MyPruner final : public compaudit::Compressor {
//      public:
//       explicit MyPruner(const compaudit::Params& p) : selection_(compaudit::read_selection(p)) {}
//       compaudit::CompressionRecord compress(compaudit::Model& model, compaudit::CompressionContext&) override {
//         for (const compaudit::Layer& layer : compaudit::select_layers(model, selection_, "org.example.my_pruner"))
//           ...;
//       }
//      private:
//       compaudit::LayerSelection selection_;
//     };
#pragma once

#include <compaudit/layer_selection.h>
#include <compaudit/model.h>

#include <string>
#include <vector>

COMPAUDIT_NAMESPACE_BEGIN

/// "linear", "conv2d" or "other": the words of `layer_types`.
COMPAUDIT_SDK_API const char* to_string(LayerType type) noexcept;

/// The layers of `model` that `selection` selects, in model order (Model::layers() entries: they alias the model's
/// parameters). Throws Error(parameters) "<plugin_id>: <parameter>: <why>, naming the model's layers" when a
/// `layers` glob matches no layer of the selected types or when nothing is selected — which `compaudit validate`
/// already refuses for built-in models and readable TorchScript archives, so at compress time it means a model the
/// validator could not see.
COMPAUDIT_SDK_API std::vector<Layer> select_layers(Model& model, const LayerSelection& selection,
                                                   const std::string& plugin_id);

COMPAUDIT_NAMESPACE_END
