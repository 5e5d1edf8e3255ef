// Scale-out commands (docs/scaling.md): `compaudit merge OUT_DIR SHARD_DIR...`, and the `--shard I/N` and `--mpi`
// options of `compaudit run`. The work is in the engine (host/engine/api/shard.cpp, merge_run.cpp, mpi_run.cpp)
// and the store (compaudit/store/merge.h); MPI itself only in libcompaudit_mpi.so, which the engine opens for --mpi.
#include "commands.h"

#include <compaudit/host/engine_api.h>
#include <compaudit/host/exit_codes.h>

#include <fmt/format.h>

#include <memory>
#include <regex>

namespace compaudit::cli {

bool parse_shard(const std::string& text, int& index, int& count, std::string& error) {
  static const std::regex form(R"(\s*(-?\d{1,9})\s*/\s*(-?\d{1,9})\s*)");
  std::smatch m;
  if (!std::regex_match(text, m, form)) {
    error = fmt::format("--shard {}: expected I/N, e.g. 0/4 (shard I of N, numbered from 0)", text);
    return false;
  }
  index = std::stoi(m[1].str());
  count = std::stoi(m[2].str());
  if (count < 1) {
    error = fmt::format("--shard {}: N must be at least 1", text);
    return false;
  }
  if (index < 0 || index >= count) {
    error = fmt::format("--shard {}: I must be in 0..{} (shards are numbered from 0)", text, count - 1);
    return false;
  }
  return true;
}

void add_scale_options(CLI::App& run_cmd, const std::shared_ptr<host::RunRequest>& request) {
  run_cmd
      .add_option_function<std::string>(
          "--shard",
          [request](const std::string& text) {
            std::string error;
            if (!parse_shard(text, request->shard_index, request->shard_count, error))
              throw CLI::ValidationError(error);
          },
          "Compute only shard I of N (seeds at positions p with p % N == I) into its own store (default "
          "RUN_DIR/shards/I-of-N); join the shards with `compaudit merge`")
      ->type_name("I/N");
  run_cmd.add_flag("--mpi", request->mpi,
                   "Under mpirun: rank r computes shard r/N, rank 0 gathers the stores, merges them and reports");
}

void add_merge_command(CLI::App& app, Context& context) {
  CLI::App* cmd = app.add_subcommand(
      "merge", "Join the stores of a sharded run (run --shard I/N) into one run, compute its metrics and report");
  auto request = std::make_shared<host::MergeRequest>();
  cmd->add_option("OUT_DIR", request->out_dir, "New run directory for the merged run")->required();
  cmd->add_option("SHARD_DIR", request->shard_dirs, "Run directories of the shards (all of them)")->required();
  cmd->add_option("--pipeline", request->pipeline_path,
                  "The pipeline file, when it is not where the shards ran it (its text must be unchanged)");
  cmd->add_option("--threads", request->threads,
                  "LibTorch threads for the metrics (0: the count the shards used; at most 1024)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("-q,--quiet", request->quiet, "No progress output");
  add_plugin_path_option(*cmd, context);
  cmd->callback([&context, request] {
    host::MergeRequest r = *request;
    r.plugin_paths = context.plugin_paths;
    const host::EngineApi* api = open_engine();
    if (!api) {
      context.exit_code = host::exit_engine;
      return;
    }
    context.exit_code = api->merge(r);
  });
}

}  // namespace compaudit::cli
