// host/engine/run/store_io.h — conversions between the engine's tensors / pipeline structs and the results store's
// plain records (the store has no LibTorch).
#pragma once

#include "data/dataset.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/metric.h>
#include <compaudit/model.h>
#include <compaudit/store/store.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace compaudit::engine {

/// Predictions of one model: top-1 labels, fp16 true-class probability, and (all_probabilities) the fp16 [N, C]
/// matrix.
store::Predictions to_predictions(const std::string& arm, std::int64_t seed, const std::string& split,
                                  const at::Tensor& probabilities, const at::Tensor& targets, bool all_probabilities);

/// The blob (store::Store::put_blob, per arm and seed) that keeps a cell's test probabilities at float32: the
/// predictions table keeps fp16, where 0.99990 and 0.99995 tie and an AUC differs from the float32 one.
inline constexpr const char* kTestProbabilitiesBlob = "probabilities/test";
/// Float32 [N, C] probabilities as the blob's bytes: N * C little-endian float32, row-major.
std::vector<std::uint8_t> probabilities_blob(const at::Tensor& probabilities);

/// Parameters, non-zeros and bytes of the model, in total and per parameter.
nlohmann::json size_json(Model& model);

nlohmann::json to_json(const ParamValue& value);
nlohmann::json to_json(const Params& params);
/// A list of parameter values as a JSON array (the [search] values).
nlohmann::json values_json(const std::vector<ParamValue>& values);
/// The pipeline's [[gate]] tables as the run settings store them (read by compaudit/report/gates.h).
nlohmann::json gates_json(const std::vector<host::GateSpec>& gates);

/// [attribution] and [search] as the run settings store them ("attribution", "search"; read by the report). The
/// search's gates are listed by name, every gate's when [search] names none.
nlohmann::json attribution_json(const host::AttributionSpec& attribution);
nlohmann::json search_json(const host::Pipeline& pipeline);

/// The store's view of the pipeline's arms (with their reference arm) and of the data.
std::vector<store::ArmInfo> arm_infos(const host::Pipeline& pipeline);
store::DataInfo data_info(const DataSplits& data);
/// Gallery thumbnails of the test split (image data only; empty otherwise).
std::vector<store::Thumbnail> test_thumbnails(const DataSplits& data);

/// The population of `arm` on `split`, restricted to `seeds` (all must be done). probabilities: load [K, N, C] —
/// float32 as computed for the test split (kTestProbabilitiesBlob), else decoded from the stored fp16 (a store
/// written before the blob existed, the train split).
Population load_population(const store::Store& store, const std::string& arm, const std::string& split,
                           const std::vector<std::int64_t>& seeds, bool probabilities);

}  // namespace compaudit::engine
