// host/engine/data/user_sources.h — the [data] formats for data users already have: "npy", "npz" and "images"
// (docs/pipelines.md, "Your own data"). Turns the files a DataSpec names into the training and test RawData that
// load_data() splits and normalises.
#pragma once

#include "data/dataset.h"

#include <compaudit/host/pipeline.h>

#include <string>

namespace compaudit::engine {

/// True for "npy", "npz" and "images".
bool is_user_format(const std::string& format);

/// What one of these formats gives: a training source (absent when spec.test_only) and a test source (absent when
/// the test set is to be carved from the training data with test_fraction). `*_file` is what errors name.
struct UserSources {
  RawData train, test;
  std::string train_file, test_file;
  bool has_train = false, has_test = false;
};

/// Reads the sources of `spec` (paths relative to `base_dir`). Throws Error(data) naming the file for anything
/// wrong with the arrays or images, including test classes (image folders) that differ from the training classes.
UserSources read_user_sources(const host::DataSpec& spec, const std::string& base_dir);

/// An inputs array and its labels array as RawData, by the rules of docs/pipelines.md:
///   inputs [N, F] tabular; [N, H, W] grayscale images -> [N, 1, H, W]; [N, C, H, W] images, or [N, H, W, C] with
///   layout "nhwc" (with no layout, 4-D inputs that look NHWC — dimension 1 above 4, dimension 3 of 1 or 3 — are
///   refused with a hint); uint8 stays uint8 (except images of other than 1 or 3 channels, which have no thumbnails),
///   any other type becomes float32 (values must be finite and in float32's range); labels integer [N] (or [N, 1]),
///   >= 0.
/// `inputs_where` / `labels_where` name the file for errors and `inputs_what` / `labels_what` the array in it
/// (empty for an .npy file of its own, "array 'x_train'" for an .npz member).
RawData arrays_to_raw(const at::Tensor& inputs, const at::Tensor& labels, const std::string& inputs_where,
                      const std::string& inputs_what, const std::string& labels_where, const std::string& labels_what,
                      const std::string& layout);

}  // namespace compaudit::engine
