// host/engine/batched/vector_clones.h — COMPAUDIT_VECTOR_CLONES: one clone of a loop per x86-64 vector width.
//
// The loader picks the widest clone the CPU has (GNU ifunc). The files that use it (fused_step.cpp,
// conv_kernels.cpp) are compiled without floating-point contraction (CMakeLists: -ffp-contract=off) and their loops
// hold no reductions across vector lanes, so the clones differ in speed only, never in bits.
#pragma once

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define COMPAUDIT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef COMPAUDIT_VECTOR_CLONES
#define COMPAUDIT_VECTOR_CLONES
#endif
