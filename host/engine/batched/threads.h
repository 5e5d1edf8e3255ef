// host/engine/batched/threads.h — how the engine uses the cores (figures in docs/performance.md).
//
// Two ways to use N cores: N intra-op threads on one cell group at a time (LibTorch's OpenMP pool, OpenBLAS's own
// pthreads), or N chains of cells in parallel, each on one thread. Population-batched MLPs are many small matrix
// products (64 x 64 x 128 for digits): split over threads they spend more time waking and joining threads than
// computing — worse on a shared machine, where a spinning OpenMP barrier or OpenBLAS's sched_yield loop waits for a
// thread that is not scheduled. So for built-in MLP and CNN pipelines the engine runs one chain per thread, each with
// one intra-op thread and single-threaded BLAS (a stacked CNN computes one model's im2col products and loops at a
// time, as small: the Fashion CNN audit on 2 cores took 22 s with 2 chains, 51 s with 1 chain x 2 threads);
// everything else (ResNet, TorchScript, augmentation policies, isolated cells) keeps one chain with N intra-op
// threads. A CNN a chain cannot stack (an activation hook) trains alone on that chain's one thread.
//
// Bits: a chain runs its cells exactly as a one-thread run does (1 intra-op thread, and a model's batched result
// does not depend on the rest of its stack), so the results of a chain-parallel run equal a --threads 1 run's.
#pragma once

namespace compaudit::engine::batched {

/// Sets OpenBLAS's thread count when LibTorch's BLAS is OpenBLAS (Debian's libtorch; at::set_num_threads does not
/// reach it). No-op otherwise. Returns false when no OpenBLAS was found.
bool set_blas_threads(int threads);

/// One intra-op thread for the calling thread (a chain's worker), single-threaded BLAS.
void use_one_thread_here();

/// Keeps freed tensor memory in the process (glibc mallopt: no mmap per large block, no trimming), so a training
/// step does not page-fault in and zero its ~300 KB activations afresh every time; measured on the digits audit:
/// 28 % less CPU time (docs/performance.md). Peak memory is unchanged; freed memory is reused, not returned.
void keep_freed_memory();

}  // namespace compaudit::engine::batched
