// host/engine/data/npy.h — NumPy's .npy arrays and .npz archives of them, read into ATen tensors.
//
// The .npy header is a Python dict literal ({'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }); it is
// parsed by hand (data/npy.cpp, fuzzed by fuzz/targets/fuzz_npy.cpp). An .npz is a zip archive of .npy members, read
// with Debian's libzip (stored or deflated members). Every problem is an Error(data) naming the file (and the member
// of an archive); nothing is trusted before it is checked against the bytes the file holds.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace compaudit::engine {

/// One .npy array (format versions 1.0, 2.0 and 3.0), any shape, including 0-d and empty arrays.
/// dtypes and the tensor type they give (stored type kept where ATen has it; the rest widened without loss):
///   |b1 -> bool (bytes must be 0 or 1)   |u1 -> uint8   |i1 -> int8   i2 -> int16   i4 -> int32   i8 -> int64
///   u2 -> int32   u4 -> int64   f2 -> float32   f4 -> float32   f8 -> float64
/// Little- and big-endian ('<', '>', '=', '|') are all read; the result is in the machine's order. fortran_order True
/// (e.g. np.save(np.asfortranarray(a))) is read and returned in C order, so the values match numpy's a[i, j, ...].
/// Refused with Error(data) naming the file: a bad magic or version, a header that is not the dict numpy writes,
/// any other dtype (u8, complex, object, strings, structured, datetime), a shape whose data the file does not hold
/// (truncated) or bytes left over after the data.
/// Returns a contiguous CPU tensor that owns its memory. Gzip-compressed files (.npy.gz) are read too.
at::Tensor read_npy(const std::string& path);

/// The same for an .npy image in memory; `name_for_errors` is the file named in errors.
at::Tensor parse_npy(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors);

/// Every array of an .npz archive (np.savez or np.savez_compressed), by member name without ".npy". Directory
/// entries are skipped; any other member must be a valid .npy (errors name "archive.npz" and the member).
std::map<std::string, at::Tensor> read_npz(const std::string& path);

}  // namespace compaudit::engine
