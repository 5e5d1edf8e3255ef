// [data] for the formats of data users already have — "npy", "npz", "images" (docs/pipelines.md, "Your own data") —
// and the test-only mode they allow (no training source, for pretrained models). Only names and paths are checked
// here, at the key that is wrong; the arrays and images themselves are read by the engine (host/engine/data).
#include "pipeline_detail.h"

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace compaudit::host::detail {
namespace {

std::string optional_file(TableReader& r, const std::string& key, const fs::path& dir) {
  auto v = r.string(key);
  return v ? existing_file(r, key, *v, dir) : std::string();
}

std::string optional_folder(TableReader& r, const std::string& key, const fs::path& dir) {
  auto v = r.string(key);
  if (!v) return {};
  const fs::path p = fs::path(*v).is_absolute() ? fs::path(*v) : (dir / *v).lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(p, ec))
    throw Error(ErrorCode::data,
                fmt::format("{} = \"{}\": {} {}", key, *v, p.string(),
                            fs::exists(p, ec) ? "is not a folder (expected <folder>/<class>/*.png|jpg|jpeg)"
                                              : "does not exist"),
                r.where(key));
  return p.string();
}

// Both keys of a pair (inputs and labels) or neither.
void both_or_neither(TableReader& r, const std::string& a, const std::string& a_value, const std::string& b,
                     const std::string& b_value) {
  if (a_value.empty() != b_value.empty()) {
    const std::string& given = a_value.empty() ? b : a;
    const std::string& missing = a_value.empty() ? a : b;
    r.fail(given, fmt::format("[data]: '{}' needs '{}' beside it", given, missing));
  }
}

void read_layout(TableReader& r, DataSpec& d) {
  if (auto layout = r.string("layout")) {
    if (*layout != "nchw" && *layout != "nhwc")
      r.fail("layout", fmt::format("layout = \"{}\" is not one of \"nchw\", \"nhwc\"", *layout));
    d.layout = *layout;
  }
}

std::string array_name(TableReader& r, const std::string& key, const std::string& fallback) {
  const std::string name = r.string(key).value_or(fallback);
  if (name.empty()) r.fail(key, fmt::format("{} must name an array of the archive", key));
  return name;
}

}  // namespace

bool is_user_data_format(const std::string& format) {
  return format == "npy" || format == "npz" || format == "images";
}

void read_user_data(TableReader& r, const fs::path& dir, DataSpec& d) {
  if (d.format == "npy") {
    d.train = optional_file(r, "train", dir);
    d.train_labels = optional_file(r, "train_labels", dir);
    d.test = optional_file(r, "test", dir);
    d.test_labels = optional_file(r, "test_labels", dir);
    both_or_neither(r, "train", d.train, "train_labels", d.train_labels);
    both_or_neither(r, "test", d.test, "test_labels", d.test_labels);
    read_layout(r, d);
  } else if (d.format == "npz") {
    d.train = optional_file(r, "train", dir);
    d.test = optional_file(r, "test", dir);
    d.train_array = array_name(r, "train_array", d.train_array);
    d.train_labels_array = array_name(r, "train_labels_array", d.train_labels_array);
    d.test_array = array_name(r, "test_array", d.test_array);
    d.test_labels_array = array_name(r, "test_labels_array", d.test_labels_array);
    if (d.train.empty())
      for (const char* key : {"train_array", "train_labels_array"})
        if (r.has(key)) r.fail(key, fmt::format("{} names an array of the 'train' archive, and there is none", key));
    read_layout(r, d);
  } else {
    d.train = optional_folder(r, "train", dir);
    d.test = optional_folder(r, "test", dir);
    if (auto resize = r.integers("resize")) {
      if (resize->size() != 2 || (*resize)[0] < 1 || (*resize)[1] < 1 || (*resize)[0] > 8192 || (*resize)[1] > 8192)
        r.fail("resize", "resize must be [height, width], each in 1..8192");
      d.resize = *resize;
    }
    if (auto method = r.string("resize_method")) {
      if (*method != "bilinear" && *method != "nearest")
        r.fail("resize_method", fmt::format("resize_method = \"{}\" is not one of \"bilinear\", \"nearest\"", *method));
      if (d.resize.empty()) r.fail("resize_method", "resize_method needs resize = [height, width]");
      d.resize_method = *method;
    }
    if (r.has("channels")) {
      const std::int64_t channels = r.integer("channels").value_or(0);
      if (channels != 1 && channels != 3) r.fail("channels", fmt::format("channels = {} must be 1 or 3", channels));
      d.channels = static_cast<int>(channels);
    }
  }
  if (d.train.empty() && d.test.empty())
    r.fail("format", fmt::format("[data]: format \"{}\" needs 'train'{}, or only 'test'{} to audit a pretrained model "
                                 "on test data alone", d.format, d.format == "npy" ? " and 'train_labels'" : "",
                                 d.format == "npy" ? " and 'test_labels'" : ""));
  d.test_only = d.train.empty();
}

void check_test_only(TableReader& r, DataSpec& d) {
  if (!d.test_only) return;
  for (const char* key : {"train_limit", "imbalance", "validation_fraction", "test_fraction"})
    if (r.has(key))
      r.fail(key, fmt::format("{} applies to training data, and this [data] has only test data (no 'train')", key));
  if (!r.has("normalize")) {
    d.normalize = "none";
  } else if (d.normalize != "none") {
    r.fail("normalize", fmt::format("normalize = \"{}\" is fitted on training data, and this [data] has only test "
                                    "data (no 'train'): use normalize = \"none\"", d.normalize));
  }
}

}  // namespace compaudit::host::detail
