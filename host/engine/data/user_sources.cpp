// The "npy", "npz" and "images" formats of [data]: which files and arrays make the training and test sources, and
// the shape, type and label rules that turn NumPy arrays into RawData.
#include "data/user_sources.h"

#include "data/images.h"
#include "data/load.h"
#include "data/npy.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>

namespace compaudit::engine {
namespace {

std::string shape_of(const at::Tensor& t) {
  return t.dim() == 1 ? fmt::format("({},)", t.size(0)) : fmt::format("({})", fmt::join(t.sizes(), ", "));
}

[[noreturn]] void fail(const std::string& where, const std::string& what, const std::string& message) {
  throw Error(ErrorCode::data, what.empty() ? message : what + ": " + message, {where});
}

bool is_integer_type(at::ScalarType t) {
  return t == at::kByte || t == at::kChar || t == at::kShort || t == at::kInt || t == at::kLong;
}

at::Tensor checked_labels(const at::Tensor& labels, const std::string& where, const std::string& what) {
  if (!is_integer_type(labels.scalar_type()))
    fail(where, what, fmt::format("labels must be integers, not {} (class indices 0..C-1; convert with "
                                  "y.astype(np.int64))", c10::toString(labels.scalar_type())));
  at::Tensor y = labels;
  if (y.dim() == 2 && y.size(1) == 1) y = y.squeeze(1);  // Keras' CIFAR-10 stores labels as [N, 1]
  if (y.dim() != 1)
    fail(where, what, fmt::format("labels must be 1-D [N] (or [N, 1]), not shape {}{}", shape_of(labels),
                                  labels.dim() == 2 ? " (one-hot labels? use y.argmax(1))" : ""));
  y = y.to(at::kLong).contiguous();
  if (y.numel() > 0) {
    const at::Tensor negative = (y < 0).nonzero();
    if (negative.size(0) > 0) {
      const auto i = negative[0][0].item<std::int64_t>();
      fail(where, what, fmt::format("label {} of example {} is negative (labels are class indices 0..C-1)",
                                    y[i].item<std::int64_t>(), i));
    }
  }
  return y;
}

at::Tensor checked_inputs(const at::Tensor& inputs, const std::string& where, const std::string& what,
                          const std::string& layout) {
  at::Tensor x = inputs;
  switch (x.dim()) {
    case 2: break;                       // tabular [N, F]
    case 3: x = x.unsqueeze(1); break;   // grayscale images [N, H, W]
    case 4:
      if (layout == "nhwc") {
        x = x.permute({0, 3, 1, 2});
      } else if (layout.empty() && x.size(1) > 4 && (x.size(3) == 1 || x.size(3) == 3)) {
        fail(where, what, fmt::format("inputs of shape {} look like [N, H, W, C] (channels last); set layout = "
                                      "\"nhwc\" in [data] (or layout = \"nchw\" if they really are [N, C, H, W])",
                                      shape_of(inputs)));
      }
      break;
    default:
      fail(where, what, fmt::format("inputs of shape {} are not supported: use [N, features], [N, H, W] or "
                                    "[N, C, H, W]{}", shape_of(inputs),
                                    x.dim() == 1 ? " (one feature per example? reshape with x.reshape(-1, 1))" : ""));
  }
  // uint8 stays bytes — images then get report thumbnails, which are gray or RGB only; other channel counts (RGBA,
  // stacked frames) become float32 like any other type.
  if (x.scalar_type() == at::kByte && (x.dim() != 4 || x.size(1) == 1 || x.size(1) == 3)) return x.contiguous();
  if (x.scalar_type() == at::kDouble && x.numel() > 0) {
    const double largest = x.abs().max().item<double>();  // NaN propagates and is reported below
    if (std::isfinite(largest) && largest > std::numeric_limits<float>::max())
      fail(where, what, fmt::format("an input value ({}) is out of float32's range", largest));
  }
  x = x.to(at::kFloat).contiguous();
  if (x.numel() > 0) {
    const at::Tensor bad = x.isfinite().logical_not().flatten().nonzero();
    if (bad.size(0) > 0) {
      const std::int64_t per_example = x.numel() / x.size(0);
      const auto flat = bad[0][0].item<std::int64_t>();
      fail(where, what, fmt::format("inputs hold NaN or infinite values (the first in example {}: {})",
                                    flat / per_example, x.flatten()[flat].item<float>()));
    }
  }
  return x;
}

// One array of an .npz archive, or an error listing the arrays it holds.
at::Tensor member(const std::map<std::string, at::Tensor>& arrays, const std::string& name, const std::string& key,
                  const std::string& archive) {
  const auto it = arrays.find(name);
  if (it != arrays.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, a] : arrays) names.push_back(fmt::format("{} {}", n, shape_of(a)));
  const std::string held = names.empty() ? std::string("no arrays") : fmt::format("{}", fmt::join(names, ", "));
  throw Error(ErrorCode::data, fmt::format("the archive has no array '{}' ([data] {}); it holds: {}", name, key, held),
              {archive});
}

// The inputs and labels arrays named by [data] keys `x_key` / `y_key`. Looked up one after the other (not as
// arguments), so that a missing array is reported in a fixed order.
RawData archive_pair(const std::map<std::string, at::Tensor>& arrays, const std::string& archive,
                     const std::string& x_name, const char* x_key, const std::string& y_name, const char* y_key,
                     const std::string& layout) {
  const at::Tensor x = member(arrays, x_name, x_key, archive);
  const at::Tensor y = member(arrays, y_name, y_key, archive);
  return arrays_to_raw(x, y, archive, fmt::format("array '{}'", x_name), archive, fmt::format("array '{}'", y_name),
                       layout);
}

UserSources read_npy_sources(const host::DataSpec& spec, const std::string& base_dir) {
  UserSources s;
  auto read_pair = [&](const std::string& x, const std::string& y, RawData& raw, std::string& file) {
    const std::string xf = resolve_path(x, base_dir), yf = resolve_path(y, base_dir);
    raw = arrays_to_raw(read_npy(xf), read_npy(yf), xf, "", yf, "", spec.layout);
    file = yf;
  };
  if ((s.has_train = !spec.test_only)) read_pair(spec.train, spec.train_labels, s.train, s.train_file);
  if ((s.has_test = !spec.test.empty())) read_pair(spec.test, spec.test_labels, s.test, s.test_file);
  return s;
}

UserSources read_npz_sources(const host::DataSpec& spec, const std::string& base_dir) {
  UserSources s;
  const std::string train_archive = resolve_path(spec.train, base_dir);
  const std::string test_archive = spec.test.empty() ? train_archive : resolve_path(spec.test, base_dir);
  std::map<std::string, at::Tensor> train_arrays;
  if (!spec.test_only) {
    train_arrays = read_npz(train_archive);
    s.train = archive_pair(train_arrays, train_archive, spec.train_array, "train_array", spec.train_labels_array,
                           "train_labels_array", spec.layout);
    s.train_file = train_archive;
    s.has_train = true;
  }
  const auto test_arrays = test_archive == train_archive && s.has_train ? train_arrays : read_npz(test_archive);
  // The training archive alone, without either test array: the test set is carved from training (test_fraction).
  if (spec.test.empty() && !test_arrays.count(spec.test_array) && !test_arrays.count(spec.test_labels_array))
    return s;
  s.test = archive_pair(test_arrays, test_archive, spec.test_array, "test_array", spec.test_labels_array,
                        "test_labels_array", spec.layout);
  s.test_file = test_archive;
  s.has_test = true;
  return s;
}

UserSources read_image_sources(const host::DataSpec& spec, const std::string& base_dir) {
  UserSources s;
  const ImageFolderOptions options{spec.resize, spec.resize_method, spec.channels};
  if ((s.has_train = !spec.test_only)) {
    s.train_file = resolve_path(spec.train, base_dir);
    s.train = read_image_folder(s.train_file, options);
  }
  if ((s.has_test = !spec.test.empty())) {
    s.test_file = resolve_path(spec.test, base_dir);
    s.test = read_image_folder(s.test_file, options);
  }
  if (s.has_train && s.has_test && s.train.class_names != s.test.class_names)
    throw Error(ErrorCode::data,
                fmt::format("the test folder's classes ({}) differ from the training folder's ({} in {}): both need "
                            "the same class folders", fmt::join(s.test.class_names, ", "),
                            fmt::join(s.train.class_names, ", "), s.train_file),
                {s.test_file});
  return s;
}

}  // namespace

bool is_user_format(const std::string& format) { return format == "npy" || format == "npz" || format == "images"; }

RawData arrays_to_raw(const at::Tensor& inputs, const at::Tensor& labels, const std::string& inputs_where,
                      const std::string& inputs_what, const std::string& labels_where, const std::string& labels_what,
                      const std::string& layout) {
  RawData raw;
  raw.targets = checked_labels(labels, labels_where, labels_what);
  if (inputs.dim() == 0) fail(inputs_where, inputs_what, "inputs are a single number, not an array [N, ...]");
  if (inputs.size(0) != raw.targets.size(0))
    fail(labels_where, labels_what, fmt::format("{} labels for {} examples (shape {}) in {}{}", raw.targets.size(0),
                                                inputs.size(0), shape_of(inputs), inputs_where,
                                                inputs_what.empty() ? "" : " " + inputs_what));
  if (inputs.size(0) == 0) fail(inputs_where, inputs_what, "the array holds no examples");
  raw.inputs = checked_inputs(inputs, inputs_where, inputs_what, layout);
  return raw;
}

UserSources read_user_sources(const host::DataSpec& spec, const std::string& base_dir) {
  if (spec.format == "npy") return read_npy_sources(spec, base_dir);
  if (spec.format == "npz") return read_npz_sources(spec, base_dir);
  if (spec.format == "images") return read_image_sources(spec, base_dir);
  throw Error(ErrorCode::pipeline, "not a user data format: " + spec.format, spec.where);
}

}  // namespace compaudit::engine
