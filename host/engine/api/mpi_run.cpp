// `compaudit run --mpi` (launched as `mpirun -np N compaudit run --mpi PIPELINE`): rank r of N computes shard r/N
// into RUN_DIR/shards/r-of-N, ranks 1..N-1 send their store to rank 0 as MPI messages (so no shared filesystem is
// needed; on a shared one the received copy replaces the rank's own, with the same content), and rank 0 merges the
// N stores into RUN_DIR and writes the report. MPI itself lives in libcompaudit_mpi.so, opened here with dlopen, so
// the engine does not depend on MPI (compaudit/mpi/mpi_api.h).
#include "api/scale.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/registry.h>
#include <compaudit/mpi/mpi_api.h>
#include <compaudit/store/merge.h>
#include <compaudit/store/store.h>

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstring>
#include <filesystem>

namespace compaudit::engine {
namespace {

// RTLD_GLOBAL: Open MPI loads its own components, which look for libmpi's symbols in the global scope.
const mpi::MpiApi* open_mpi() {
  const std::string path = host::host_library_dir() + "/" + COMPAUDIT_MPI_LIBRARY_NAME;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    const char* why = ::dlerror();
    fmt::print(stderr, "compaudit run: --mpi needs {} (this compaudit was built without MPI, or MPI is not "
                       "installed: Debian's libopenmpi-dev and openmpi-bin): {}\n",
               path, why ? why : "not found");
    return nullptr;
  }
  using Entry = const mpi::MpiApi* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, COMPAUDIT_MPI_ENTRY_NAME));
  const mpi::MpiApi* api = entry ? entry() : nullptr;
  if (!api || api->version != mpi::COMPAUDIT_MPI_API_VERSION) {
    fmt::print(stderr, "compaudit run: {} is not a compaudit MPI library of this version\n", path);
    return nullptr;
  }
  return api;
}

int code_of(const std::exception& e) {
  if (const auto* err = dynamic_cast<const Error*>(&e)) return host::exit_code_for(err->code());
  return host::exit_runtime;
}

std::string shard_dir(const std::string& run_dir, int rank, int size) {
  return (std::filesystem::path(run_dir) / "shards" / fmt::format("{}-of-{}", rank, size)).string();
}

std::vector<std::uint8_t> int_bytes(int v) {
  std::vector<std::uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}
int bytes_int(const std::vector<std::uint8_t>& b) {
  int v = host::exit_runtime;
  if (b.size() == sizeof v) std::memcpy(&v, b.data(), sizeof v);
  return v;
}
bool completed(int rc) { return rc == host::exit_ok || rc == host::exit_cells_failed; }

}  // namespace

int run_mpi(const host::RunRequest& request, RunFn run) {
  const mpi::MpiApi* mpi = open_mpi();
  if (!mpi) return host::exit_engine;
  int rank = 0, size = 1;
  std::string why;
  if (!mpi->init(&rank, &size, &why)) {
    fmt::print(stderr, "compaudit run: --mpi: {}\n", why);
    return host::exit_runtime;
  }
  const std::string who = fmt::format("compaudit run (rank {}/{})", rank, size);

  // 1. Every rank resolves the run directory the same way; rank 0 refuses one that already holds a store before
  //    anybody computes (its merge would fail). All ranks agree to go on, or all stop.
  std::string run_dir;
  int rc = host::exit_ok;
  try {
    if (request.resume) throw Error(ErrorCode::pipeline, "--mpi cannot be combined with --resume: run the same "
                                                         "mpirun command again, every rank resumes its shard");
    if (request.shard_count > 0) throw Error(ErrorCode::pipeline, "--mpi and --shard exclude each other");
    const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(request.plugin_paths));
    run_dir = plan_run(request, registry).run_dir;
    if (rank == 0 && store::Store::exists(run_dir))
      throw Error(ErrorCode::io, fmt::format("{} already holds a run; remove its results.sqlite (its shards/ are "
                                             "reused) or choose another -o",
                                             run_dir));
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", who, e.what());
    rc = code_of(e);
  }
  if (const int agreed = mpi->max_over_ranks(rc); agreed != host::exit_ok) {
    mpi->finalize();
    return agreed;
  }

  // 2. This rank's shard, into its own store (progress on rank 0 only).
  host::RunRequest mine = request;
  mine.mpi = false;
  mine.shard_index = rank;
  mine.shard_count = size;
  mine.run_dir = shard_dir(run_dir, rank, size);
  mine.quiet = request.quiet || rank != 0;
  rc = run(mine);

  // 3. Gather at rank 0: a status, then the store's bytes.
  if (rank != 0) {
    std::vector<std::uint8_t> bytes;
    if (completed(rc)) {
      try {
        bytes = store::store_snapshot(mine.run_dir);
      } catch (const std::exception& e) {
        fmt::print(stderr, "{}: cannot read back the shard store: {}\n", who, e.what());
        rc = code_of(e);
      }
    }
    mpi->send_bytes(0, int_bytes(rc));
    mpi->send_bytes(0, bytes);
    mpi->finalize();
    return rc;
  }
  std::vector<std::string> dirs{mine.run_dir};
  int worst = completed(rc) ? host::exit_ok : rc;
  for (int r = 1; r < size; ++r) {
    const int status = bytes_int(mpi->recv_bytes(r));
    const std::vector<std::uint8_t> bytes = mpi->recv_bytes(r);
    dirs.push_back(shard_dir(run_dir, r, size));
    if (!completed(status)) {
      fmt::print(stderr, "{}: rank {} failed (exit {}); rerun the same command to resume its shard\n", who, r, status);
      worst = std::max(worst, status);
      continue;
    }
    try {
      store::write_store_snapshot(dirs.back(), bytes);
    } catch (const std::exception& e) {
      fmt::print(stderr, "{}: cannot store rank {}'s shard: {}\n", who, r, e.what());
      worst = std::max(worst, code_of(e));
    }
  }
  if (worst != host::exit_ok) {
    mpi->finalize();
    return worst;
  }

  // 4. Rank 0 merges the N stores into the run directory: metrics and reports as a single process would.
  host::MergeRequest merge;
  merge.out_dir = run_dir;
  merge.shard_dirs = dirs;
  merge.plugin_paths = request.plugin_paths;
  merge.threads = request.threads;
  merge.quiet = request.quiet;
  rc = merge_runs(merge, run);
  mpi->finalize();
  return rc;
}

}  // namespace compaudit::engine
