// `compaudit run --shard I/N`: which seeds a shard computes, where its store lives, and how it ends. The rule and
// its reasons are in scale.h and docs/scaling.md.
#include "api/scale.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <set>

namespace compaudit::engine {
namespace {

nlohmann::json shard_json(const ShardPlan& shard) {
  return {{"index", shard.index},
          {"count", shard.count},
          {"seeds", shard.seeds},
          {"rule", "seeds at positions p with p % count == index"}};
}

}  // namespace

std::vector<std::int64_t> shard_seeds(const std::vector<std::int64_t>& seeds, int index, int count) {
  std::vector<std::int64_t> out;
  for (std::size_t p = 0; p < seeds.size(); ++p)
    if (static_cast<int>(p % static_cast<std::size_t>(count)) == index) out.push_back(seeds[p]);
  return out;
}

void check_shard(int index, int count) {
  if (count < 1) throw Error(ErrorCode::pipeline, fmt::format("--shard {}/{}: N must be at least 1", index, count));
  if (index < 0 || index >= count)
    throw Error(ErrorCode::pipeline,
                fmt::format("--shard {}/{}: I must be in 0..{} (shards are numbered from 0)", index, count, count - 1));
}

ShardPlan plan_shard(const host::RunRequest& request, const host::Registry& registry, RunPlan& plan) {
  ShardPlan shard;
  const bool asked = request.shard_count > 0;
  if (asked) {
    check_shard(request.shard_index, request.shard_count);
    if (!request.resume && request.run_dir.empty()) {
      // Default: the shard's own store inside the run directory, so `compaudit merge RUN_DIR RUN_DIR/shards/*`.
      host::RunRequest own = request;
      own.run_dir = (std::filesystem::path(plan.run_dir) / "shards" /
                     fmt::format("{}-of-{}", request.shard_index, request.shard_count))
                        .string();
      plan = plan_run(own, registry);
    }
  }
  nlohmann::json stored;
  if (plan.resuming) {
    const store::Store existing = store::Store::open(plan.run_dir, store::Store::Access::read_only);
    stored = existing.run().settings.value("shard", nlohmann::json());
  }
  if (stored.is_object()) {
    shard.index = stored.value("index", 0);
    shard.count = stored.value("count", 0);
    if (asked && (shard.index != request.shard_index || shard.count != request.shard_count))
      throw Error(ErrorCode::pipeline, fmt::format("{} holds shard {}/{}, not {}/{}", plan.run_dir, shard.index,
                                                   shard.count, request.shard_index, request.shard_count));
    check_shard(shard.index, shard.count);
  } else if (asked) {
    if (plan.resuming)
      throw Error(ErrorCode::pipeline,
                  fmt::format("{} holds a whole (unsharded) run; a shard computes into its own run directory: omit -o "
                              "(default RUN_DIR/shards/I-of-N) or choose another",
                              plan.run_dir));
    shard.index = request.shard_index;
    shard.count = request.shard_count;
  } else {
    return shard;  // not sharded
  }
  shard.active = true;
  shard.seeds = shard_seeds(plan.pipeline.seeds, shard.index, shard.count);
  plan.info.settings["shard"] = shard_json(shard);  // in the store from its creation on: resume stays this shard
  return shard;
}

void apply_shard(const ShardPlan& shard, ExecuteOptions& options) {
  if (!shard.active) return;
  auto seeds = std::make_shared<const std::set<std::int64_t>>(shard.seeds.begin(), shard.seeds.end());
  options.seed_filter = [seeds](std::int64_t seed) { return seeds->count(seed) > 0; };
  options.memorization = shard.index == 0;  // exactly one shard; merge computes it if that store lacks it
  options.metrics = false;                  // metrics compare whole populations: `compaudit merge`
  options.extra_settings["shard"] = shard_json(shard);
}

int finish_shard(const ShardPlan& shard, const RunPlan& plan, const ExecuteResult& result, bool quiet) {
  if (!quiet) {
    if (shard.seeds.empty())
      fmt::print(stderr, "compaudit run: shard {}/{} has no seeds (the population has {}): nothing to compute; "
                         "its store only describes the run -> {}\n",
                 shard.index, shard.count, plan.pipeline.seeds.size(), plan.run_dir);
    else
      fmt::print(stderr, "compaudit run: shard {}/{} (seeds {}): {} cells done, {} failed -> {}\n", shard.index,
                 shard.count, fmt::join(shard.seeds, ", "), result.cells_done, result.cells_failed, plan.run_dir);
    fmt::print(stderr, "compaudit run: the {} shards are joined by `compaudit merge OUT_DIR SHARD_DIR...` (under "
                       "--mpi, by rank 0 now)\n",
               shard.count);
  }
  return result.cells_failed > 0 ? host::exit_cells_failed : host::exit_ok;
}

}  // namespace compaudit::engine
