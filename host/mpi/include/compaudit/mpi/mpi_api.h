// compaudit/mpi/mpi_api.h — the little MPI that `compaudit run --mpi` needs, behind a function table.
//
// libcompaudit_mpi.so is the only compaudit library that links MPI (Debian's OpenMPI). Neither the `compaudit`
// front end nor the engine depends on it: the engine opens it with dlopen only for `run --mpi` (api/mpi_run.cpp), so
// compaudit starts and runs without MPI installed. It is built when CMake finds MPI (option COMPAUDIT_WITH_MPI, ON
// by default). Both sides are built in one tree, so C++ types may cross the table. See docs/scaling.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::mpi {

struct MpiApi {
  int version;  ///< COMPAUDIT_MPI_API_VERSION
  /// MPI_Init_thread (funneled: only the calling thread talks MPI). Fills this process's rank and the world size.
  /// Returns false with a message when MPI cannot start (e.g. not launched by mpirun and no singleton support).
  bool (*init)(int* rank, int* size, std::string* error);
  /// Sends bytes to rank `dest` (a 64-bit length, then chunks of at most 1 GiB: MPI counts are int).
  void (*send_bytes)(int dest, const std::vector<std::uint8_t>& bytes);
  /// Receives what send_bytes(rank of this process) sent from `source`.
  std::vector<std::uint8_t> (*recv_bytes)(int source);
  /// The largest `value` over all ranks (every rank must call it): how ranks agree to go on or stop.
  int (*max_over_ranks)(int value);
  void (*finalize)();
  /// MPI_Abort of the whole job (a rank that cannot continue when the others would wait for it forever).
  void (*abort)(int code);
};

constexpr int COMPAUDIT_MPI_API_VERSION = 1;

}  // namespace compaudit::mpi

#define COMPAUDIT_MPI_ENTRY_NAME "compaudit_mpi_entry"
#define COMPAUDIT_MPI_LIBRARY_NAME "libcompaudit_mpi.so"
