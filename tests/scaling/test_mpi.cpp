// `mpirun -np 2 compaudit run --mpi` on this machine (Debian's Open MPI) gives the results of one process: the same
// report.json minus timings and the same predictions, states, memorization and metrics, bit for bit.
#include "scaling_helpers.h"

#include <catch2/catch.hpp>

using namespace scaling_test;

TEST_CASE("mpirun -np 2 compaudit run --mpi gives the results of one process", "[scaling][mpi]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  REQUIRE(fs::exists(COMPAUDIT_MPIRUN));
  // Computed once per process (Catch re-enters the test case for every section).
  static const fs::path dir = scratch_dir("mpi");
  static const std::string p = write_pipeline(dir, digits_pipeline("digits-mpi"));
  static const Result single = cli(fmt::format("run '{}' -o '{}' -q", p, (dir / "single").string()));
  REQUIRE(single.code == 0);
  // --oversubscribe: 2 ranks even on a 1-core machine; root in containers needs --allow-run-as-root; the
  // single-copy mechanism (CMA) is often forbidden in containers, so shared memory copies twice instead. mpirun
  // binds each rank to a core: the engine sizes OpenBLAS by the configured threads, so the bits do not change.
  static const std::string mpirun = fmt::format(
      "'{}' -np 2 --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none "
      "'{}' run --mpi '{}' -o '{}' -q --plugin-path '{}'",
      COMPAUDIT_MPIRUN, COMPAUDIT_CLI, p, (dir / "mpi").string(), COMPAUDIT_TEST_PLUGIN_DIR);
  static const Result mpi = sh(mpirun);
  INFO(mpi.output);
  REQUIRE(mpi.code == 0);
  CHECK(fs::exists(dir / "mpi" / "shards" / "0-of-2" / "results.sqlite"));
  CHECK(fs::exists(dir / "mpi" / "shards" / "1-of-2" / "results.sqlite"));  // received from rank 1 as bytes
  const json a = report_without_timings(dir / "single"), b = report_without_timings(dir / "mpi");
  CHECK(a.dump(1) == b.dump(1));
  const std::string fa = fingerprint(dir / "single"), fb = fingerprint(dir / "mpi");
  CHECK(fa.size() > 100000);
  CHECK(fa == fb);

  SECTION("a second run into the same directory is refused before any rank computes") {
    const Result again = sh(mpirun);
    CHECK(again.code == 6);
    CHECK(again.output.find("already holds a run") != std::string::npos);
  }
}
