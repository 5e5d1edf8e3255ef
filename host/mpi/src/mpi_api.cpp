// libcompaudit_mpi.so: the MPI calls of `compaudit run --mpi` (see compaudit/mpi/mpi_api.h). Point-to-point messages
// on MPI_COMM_WORLD with one tag; every rank talks from its main thread only.
#include <compaudit/mpi/mpi_api.h>

#include <mpi.h>

#include <algorithm>

namespace compaudit::mpi {
namespace {

constexpr int kTag = 4242;
constexpr std::uint64_t kChunk = 1ull << 30;  // MPI counts are int: send at most 1 GiB per message

bool init(int* rank, int* size, std::string* error) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      if (error) *error = "MPI_Init_thread failed";
      return false;
    }
  }
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  return true;
}

void send_bytes(int dest, const std::vector<std::uint8_t>& bytes) {
  std::uint64_t n = bytes.size();
  MPI_Send(&n, 1, MPI_UINT64_T, dest, kTag, MPI_COMM_WORLD);
  for (std::uint64_t off = 0; off < n; off += kChunk) {
    const auto len = static_cast<int>(std::min(kChunk, n - off));
    MPI_Send(bytes.data() + off, len, MPI_BYTE, dest, kTag, MPI_COMM_WORLD);
  }
}

std::vector<std::uint8_t> recv_bytes(int source) {
  std::uint64_t n = 0;
  MPI_Recv(&n, 1, MPI_UINT64_T, source, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  std::vector<std::uint8_t> bytes(n);
  for (std::uint64_t off = 0; off < n; off += kChunk) {
    const auto len = static_cast<int>(std::min(kChunk, n - off));
    MPI_Recv(bytes.data() + off, len, MPI_BYTE, source, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  return bytes;
}

int max_over_ranks(int value) {
  int out = value;
  MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

const MpiApi kApi{COMPAUDIT_MPI_API_VERSION, &init, &send_bytes, &recv_bytes, &max_over_ranks, &finalize, &abort};

}  // namespace
}  // namespace compaudit::mpi

extern "C" __attribute__((visibility("default"))) const compaudit::mpi::MpiApi* compaudit_mpi_entry() {
  return &compaudit::mpi::kApi;
}
