// The data users have: .npy / .npz arrays and PNG / JPEG image folders, read into the same splits as the
// built-in formats, and test-only data for pretrained models. Fixtures are written on each run by
// scripts/fixtures/engine/make_user_data.py — NumPy files by numpy itself, PNGs by its own small encoder, expected
// values by numpy (and torch for resizing) — so every value here is checked against an independent writer.
// Bad inputs: each gets a test naming the file, and the CLI exits 4 for them.
#include "data/images.h"
#include "data/load.h"
#include "data/npy.h"
#include "test_helpers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <jpeglib.h>

using namespace compaudit;
using namespace compaudit::engine;
namespace fs = std::filesystem;

namespace {

const fs::path& fixtures() {
  static const fs::path dir = [] {
    // One directory per process: ctest -j runs each test case in a process of its own, all regenerating fixtures.
    const fs::path d = engine_test::scratch_dir(fmt::format("user-data-{}", ::getpid()));
    const std::string cmd = fmt::format("/usr/bin/python3 {}/make_user_data.py {} 2>&1", COMPAUDIT_ENGINE_FIXTURES,
                                        d.string());
    const int rc = std::system(cmd.c_str());
    if (rc != 0) throw std::runtime_error("fixture generator failed (python3-numpy missing?): " + cmd);
    static const fs::path made = d;
    std::atexit([] {  // per-process directories would otherwise pile up
      std::error_code ec;
      fs::remove_all(made, ec);
    });
    return d;
  }();
  return dir;
}

const nlohmann::json& expected() {
  static const nlohmann::json j = nlohmann::json::parse(std::ifstream(fixtures() / "expected.json"));
  return j;
}

std::string fixture(const std::string& rel) { return (fixtures() / rel).string(); }

template <class F>
std::string require_error(F&& f, ErrorCode code, std::initializer_list<std::string> fragments) {
  try {
    f();
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.code() == code);
    for (const auto& frag : fragments) CHECK_THAT(e.what(), Catch::Contains(frag));
    return e.what();
  }
  FAIL("expected an error");
  return {};
}

std::vector<std::int64_t> as_longs(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

const char* type_name(at::ScalarType t) {
  switch (t) {
    case at::kBool: return "bool";
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kShort: return "int16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    default: return "other";
  }
}

// Compares every element with the values numpy wrote, exactly: integers as int64, floats as doubles.
void check_values(const at::Tensor& t, const nlohmann::json& e) {
  INFO(e["file"].get<std::string>() << (e["member"].is_null() ? "" : " " + e["member"].get<std::string>()));
  CHECK(type_name(t.scalar_type()) == e["type"].get<std::string>());
  CHECK(t.sizes().vec() == e["shape"].get<std::vector<std::int64_t>>());
  CHECK(t.is_contiguous());
  const auto& values = e["values"];
  REQUIRE(static_cast<std::size_t>(t.numel()) == values.size());
  std::size_t wrong = 0;
  if (at::isFloatingType(t.scalar_type())) {
    const at::Tensor d = t.to(at::kDouble).contiguous().flatten();
    for (std::size_t i = 0; i < values.size(); ++i) wrong += d[i].item<double>() != values[i].get<double>();
  } else {
    const auto v = as_longs(t.flatten());
    for (std::size_t i = 0; i < values.size(); ++i) wrong += v[i] != values[i].get<std::int64_t>();
  }
  CHECK(wrong == 0);
}

host::DataSpec npy_spec(const std::string& x, const std::string& y, const std::string& tx = "",
                        const std::string& ty = "") {
  host::DataSpec s;
  s.format = "npy";
  s.train = x, s.train_labels = y, s.test = tx, s.test_labels = ty;
  s.validation_fraction = 0;
  return s;
}

host::DataSpec images_spec(const std::string& train, const std::string& test = "") {
  host::DataSpec s;
  s.format = "images";
  s.train = train, s.test = test;
  s.validation_fraction = 0;
  s.test_fraction = 0.34;
  s.normalize = "none";
  return s;
}

RawData folder(const std::string& rel, ImageFolderOptions o = {}) { return read_image_folder(fixture(rel), o); }

std::vector<std::int64_t> pixels_of(const nlohmann::json& e) { return e["pixels"].get<std::vector<std::int64_t>>(); }

}  // namespace

TEST_CASE("Every .npy dtype, shape, byte order, Fortran order and version reads as numpy wrote it",
          "[engine][data][npy]") {
  std::size_t arrays = 0;
  std::map<std::string, std::map<std::string, at::Tensor>> archives;
  for (const auto& e : expected()["arrays"]) {
    const std::string file = fixture(e["file"].get<std::string>());
    if (e["member"].is_null()) {
      check_values(read_npy(file), e);
    } else {
      if (!archives.count(file)) archives[file] = read_npz(file);
      const auto& members = archives[file];
      REQUIRE(members.count(e["member"].get<std::string>()) == 1);
      check_values(members.at(e["member"].get<std::string>()), e);
    }
    ++arrays;
  }
  CHECK(arrays == 99);  // 11 dtypes x 7 shapes, 8 big-endian, 4 Fortran, 2 versions, 2 archives x 4 members
  for (const auto& [file, members] : archives) CHECK(members.size() == 4);
}

TEST_CASE("Bad .npy and .npz files are refused with the file named", "[engine][data][npy][bad]") {
  const auto data = ErrorCode::data;
  require_error([] { read_npy(fixture("bad/complex.npy")); }, data, {"bad/complex.npy", "'<c8' (complex numbers)"});
  require_error([] { read_npy(fixture("bad/object.npy")); }, data, {"bad/object.npy", "'|O' (Python objects)"});
  require_error([] { read_npy(fixture("bad/strings.npy")); }, data, {"bad/strings.npy", "(strings)"});
  require_error([] { read_npy(fixture("bad/truncated.npy")); }, data,
                {"bad/truncated.npy", "truncated .npy file: shape (60, 5) of dtype '<f4' needs 1200 bytes"});
  require_error([] { read_npy(fixture("bad/not_npy.npy")); }, data, {"bad/not_npy.npy", "not an .npy file"});
  require_error([] { read_npy(fixture("bad/missing.npy")); }, data, {"bad/missing.npy", "not found"});
  require_error([] { read_npz(fixture("bad/not_a_zip.npz")); }, data, {"bad/not_a_zip.npz", "not a readable .npz"});

  // Header forms numpy never writes, parsed from memory.
  auto npy = [](const std::string& header, std::size_t data_bytes = 0, char fill = '\x01') {
    std::string h = header;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string file = std::string("\x93NUMPY\x01\x00", 8) + char(h.size() & 0xff) + char(h.size() >> 8) + h;
    file += std::string(data_bytes, fill);
    return parse_npy(reinterpret_cast<const std::uint8_t*>(file.data()), file.size(), "mem.npy");
  };
  CHECK(npy("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", 6).sizes() == at::IntArrayRef({3}));
  CHECK(npy("{\"shape\": (2L, 1L), \"descr\": \"|u1\", \"fortran_order\": True}", 2).sizes() ==
        at::IntArrayRef({2, 1}));
  require_error([&] { npy("{'descr': '<i2', 'shape': (3,), }", 6); }, data, {"mem.npy", "lacks 'fortran_order'"});
  require_error([&] { npy("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), 'x': 1}", 6); }, data,
                {"unexpected key 'x'"});
  require_error([&] { npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (3,), }", 6); }, data,
                {"structured dtypes"});
  require_error([&] { npy("{'descr': '<i2', 'fortran_order': false, 'shape': (3,), }", 6); }, data,
                {"expected True or False"});
  require_error([&] { npy("{'descr': '<i2', 'fortran_order': False, 'shape': (-3,), }", 6); }, data,
                {"expected a non-negative integer"});
  require_error([&] { npy("{'descr': '<i2', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"); }, data,
                {"too large"});
  require_error([&] { npy("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", 8); }, data,
                {"2 bytes after"});
  require_error([&] { npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 3, '\x02'); }, data,
                {"mem.npy", "bool element 0 holds the byte 2"});
}

TEST_CASE("npy files load as tabular and image data, with the type and shape rules", "[engine][data][npy]") {
  SECTION("tabular train and test files; float64 inputs and uint8 labels are converted") {
    const auto s = load_data(npy_spec(fixture("tab/x_train.npy"), fixture("tab/y_train.npy"),
                                      fixture("tab/x_test.npy"), fixture("tab/y_test.npy")), "");
    CHECK(s.num_classes == 3);
    CHECK(s.input_shape == std::vector<std::int64_t>{5});
    CHECK_FALSE(s.is_image);
    CHECK(s.train.size() == 60);
    CHECK(s.test.size() == 30);
    CHECK(s.test.inputs.scalar_type() == at::kFloat);
    // Standardised with the training split's statistics.
    CHECK(s.train.inputs.mean(0).abs().max().item<float>() < 1e-5f);
  }
  SECTION("[N, H, W] uint8 is grayscale [N, 1, H, W] with thumbnails; relative paths resolve against base_dir") {
    auto spec = npy_spec("gray/x.npy", "gray/y.npy");
    spec.normalize = "none";
    const auto s = load_data(spec, fixtures().string());
    CHECK(s.is_image);
    CHECK(s.input_shape == std::vector<std::int64_t>{1, 5, 4});
    REQUIRE(s.test.pixels.defined());
    const at::Tensor raw = read_npy(fixture("gray/x.npy"));
    const auto row = s.test.ids[0].item<std::int64_t>();
    CHECK(at::equal(s.test.pixels[0][0], raw[row]));
  }
  SECTION("a test set is carved from the training files when there is no test file") {
    const auto s = load_data(npy_spec(fixture("tab/x_train.npy"), fixture("tab/y_train.npy")), "");
    CHECK(s.test.size() == 12);  // 20 % of 60, stratified
    CHECK(s.train.size() == 48);
  }
}

TEST_CASE("npz archives: named arrays, NHWC layout, [N, 1] labels, test-only data", "[engine][data][npz]") {
  host::DataSpec spec;
  spec.format = "npz";
  spec.train = fixture("keras.npz");
  spec.validation_fraction = 0;
  SECTION("NHWC images need layout = \"nhwc\"; the error says so") {
    require_error([&] { load_data(spec, ""); }, ErrorCode::data,
                  {"keras.npz", "array 'x_train'", "look like [N, H, W, C]", "layout = \"nhwc\""});
  }
  SECTION("with layout nhwc the pixels are numpy's x.transpose(0, 3, 1, 2); test arrays from the same archive") {
    spec.layout = "nhwc";
    spec.normalize = "none";
    const auto s = load_data(spec, "");
    CHECK(s.input_shape == std::vector<std::int64_t>{3, 8, 6});
    CHECK(s.train.size() == 16);
    CHECK(s.test.size() == 8);
    CHECK(s.num_classes == 4);
    const auto want = expected()["keras_nchw_train"].get<std::vector<std::int64_t>>();
    CHECK(as_longs(s.train.pixels) == want);
  }
  SECTION("a missing array is an error listing the archive's arrays") {
    spec.layout = "nhwc";
    spec.test_array = "images_test";
    require_error([&] { load_data(spec, ""); }, ErrorCode::data,
                  {"keras.npz", "no array 'images_test' ([data] test_array)", "x_test (8, 8, 6, 3)",
                   "y_train (16, 1)"});
  }
  SECTION("an explicit test archive without the test arrays is an error") {
    host::DataSpec t = spec;
    t.train = fixture("tab/../bad/train_only.npz");
    t.test = fixture("bad/train_only.npz");
    require_error([&] { load_data(t, ""); }, ErrorCode::data, {"train_only.npz", "no array 'x_test'"});
  }
  SECTION("test-only data: no training or validation split, normalize none, classes from the labels") {
    host::DataSpec t;
    t.format = "npz";
    t.test = fixture("test_only.npz");
    t.test_only = true;
    t.normalize = "none";
    const auto s = load_data(t, "");
    CHECK(s.train.size() == 0);
    CHECK(s.validation.size() == 0);
    CHECK(s.test.size() == 30);
    CHECK(s.num_classes == 3);
    CHECK(s.normalize == "none");
    CHECK(s.test_source_rows == 30);
    CHECK(at::equal(s.test.inputs, read_npz(t.test).at("x_test").to(at::kFloat)));  // values untouched
    t.num_classes = 10;  // a pretrained model's outputs, more than the test labels show
    CHECK(load_data(t, "").num_classes == 10);
    CHECK(load_data(t, "").class_names.size() == 10);
    t.num_classes = 2;
    require_error([&] { load_data(t, ""); }, ErrorCode::data, {"test_only.npz", "label 2", "2 classes"});
    t.num_classes = 0;
    t.test_limit = 9;
    CHECK(load_data(t, "").test.size() == 9);
    t.normalize = "standard";
    require_error([&] { load_data(t, ""); }, ErrorCode::pipeline, {"normalize = \"standard\"", "\"none\""});
  }
  SECTION("test-only npy and image folders") {
    host::DataSpec t = npy_spec("", "", fixture("tab/x_test.npy"), fixture("tab/y_test.npy"));
    t.test_only = true;
    t.normalize = "none";
    CHECK(load_data(t, "").test.size() == 30);
    host::DataSpec i = images_spec("", fixture("gray/test"));
    i.test_only = true;
    const auto s = load_data(i, "");
    CHECK(s.test.size() == 3);
    CHECK(s.class_names == std::vector<std::string>{"cat", "dog", "eel"});
    CHECK(s.train.size() == 0);
  }
}

TEST_CASE("Bad arrays in load_data are refused with the file named", "[engine][data][npy][bad]") {
  const std::string x = fixture("tab/x_train.npy"), y = fixture("tab/y_train.npy");
  auto fails = [&](const std::string& xf, const std::string& yf, std::initializer_list<std::string> frags) {
    require_error([&] { load_data(npy_spec(xf, yf), ""); }, ErrorCode::data, frags);
  };
  fails(x, fixture("bad/labels_2d.npy"), {"labels_2d.npy", "labels must be 1-D [N] (or [N, 1]), not shape (60, 3)",
                                          "one-hot"});
  fails(x, fixture("bad/labels_float.npy"), {"labels_float.npy", "labels must be integers, not Float"});
  fails(x, fixture("bad/labels_short.npy"), {"labels_short.npy", "59 labels for 60 examples", "x_train.npy"});
  fails(x, fixture("bad/labels_negative.npy"), {"labels_negative.npy", "label -1 of example 7 is negative"});
  fails(fixture("bad/inputs_nan.npy"), y, {"inputs_nan.npy", "NaN or infinite", "example 3"});
  fails(fixture("bad/complex.npy"), y, {"complex.npy", "complex"});
  fails(y, y, {"y_train.npy", "inputs of shape (60,) are not supported", "reshape(-1, 1)"});
  fails(fixture("bad/truncated.npy"), y, {"truncated.npy", "truncated"});
}

TEST_CASE("Image folders read as numpy's pixels, class by class", "[engine][data][images]") {
  SECTION("gray; RGB, RGBA and palette; 16-bit gray and gray + alpha") {
    for (const char* name : {"gray/train", "color/train", "deep/train"}) {
      INFO(name);
      const auto& e = expected()["images"][name];
      const RawData raw = folder(name);
      CHECK(raw.class_names == e["classes"].get<std::vector<std::string>>());
      CHECK(raw.inputs.scalar_type() == at::kByte);
      CHECK(raw.inputs.sizes().vec() == e["shape"].get<std::vector<std::int64_t>>());
      CHECK(as_longs(raw.inputs) == pixels_of(e));
      CHECK(as_longs(raw.targets) == e["labels"].get<std::vector<std::int64_t>>());
    }
  }
  SECTION("mixed gray and RGB: an error, or converted to the declared channels") {
    require_error([] { folder("mixed_channels"); }, ErrorCode::data,
                  {"mixed_channels/b/rgb.png", "RGB (3 channels)", "gray.png is grayscale", "channels = 1 or 3"});
    CHECK(as_longs(folder("mixed_channels", {{}, "bilinear", 1}).inputs) ==
          pixels_of(expected()["images"]["mixed_channels@1"]));
    CHECK(as_longs(folder("mixed_channels", {{}, "bilinear", 3}).inputs) ==
          pixels_of(expected()["images"]["mixed_channels@3"]));
  }
  SECTION("mixed sizes: an error, or resized as PyTorch's interpolate does") {
    require_error([] { folder("mixed_sizes"); }, ErrorCode::data,
                  {"mixed_sizes/b/big.png", "image is 9x11", "small.png is 6x5", "resize = [H, W]"});
    for (const std::string method : {"bilinear", "nearest"}) {
      INFO(method);
      const auto& e = expected()["images"]["mixed_sizes@" + method];
      REQUIRE(e.is_object());  // absent when the generator had no python3-torch
      const RawData raw = folder("mixed_sizes", {{4, 7}, method, 0});
      CHECK(raw.inputs.sizes() == at::IntArrayRef({2, 1, 4, 7}));
      CHECK(as_longs(raw.inputs) == pixels_of(e));
    }
  }
  SECTION("through load_data: test folder, thumbnails, same classes required") {
    const auto s = load_data(images_spec(fixture("gray/train"), fixture("gray/test")), "");
    CHECK(s.is_image);
    CHECK(s.train.size() == 9);
    CHECK(s.test.size() == 3);
    CHECK(s.class_names == std::vector<std::string>{"cat", "dog", "eel"});
    CHECK(s.test.pixels.defined());
    require_error([] { load_data(images_spec(fixture("gray/train"), fixture("gray/test_other")), ""); },
                  ErrorCode::data, {"gray/test_other", "cat, cow", "cat, dog, eel"});
  }
}

TEST_CASE("Broken image folders are refused with the file named", "[engine][data][images][bad]") {
  require_error([] { folder("empty_class"); }, ErrorCode::data, {"empty_class/b", "class folder 'b' holds no"});
  require_error([] { folder("corrupt"); }, ErrorCode::data, {"corrupt/b/flipped.png", "corrupt PNG"});
  require_error([] { folder("truncated"); }, ErrorCode::data, {"truncated/b/cut.png", "corrupt PNG"});
  require_error([] { folder("not_png"); }, ErrorCode::data, {"not_png/b/text.png", "not a PNG or JPEG"});
  require_error([] { folder("nowhere"); }, ErrorCode::data, {"nowhere", "not found"});
  require_error([] { folder("tab"); }, ErrorCode::data, {"tab", "no class folders"});
}

namespace {
// A JPEG of `pixels` ([H, W, C], C = 1 or 3) at quality 100 without chroma subsampling, written by libjpeg itself.
std::vector<std::uint8_t> encode_jpeg(const std::vector<std::uint8_t>& pixels, int h, int w, int c) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = c;
  cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  for (int i = 0; i < cinfo.num_components; ++i)  // no chroma subsampling
    cinfo.comp_info[i].h_samp_factor = cinfo.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<std::uint8_t*>(&pixels[std::size_t(cinfo.next_scanline) * w * c]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<std::uint8_t> bytes(out, out + size);
  std::free(out);
  return bytes;
}
}  // namespace

TEST_CASE("JPEG images decode (gray and RGB) within JPEG's loss, and a truncated one is refused",
          "[engine][data][images]") {
  const int h = 16, w = 24;
  for (int c : {1, 3}) {
    INFO("channels " << c);
    std::vector<std::uint8_t> px(std::size_t(h) * w * c);
    for (int y = 0; y < h; ++y)  // a smooth gradient: JPEG at quality 100 keeps it within a few levels
      for (int x = 0; x < w; ++x)
        for (int k = 0; k < c; ++k)
          px[(std::size_t(y) * w + x) * c + k] = static_cast<std::uint8_t>(40 + 5 * x + 3 * y + 20 * k);
    const auto jpeg = encode_jpeg(px, h, w, c);
    const Image img = decode_image(jpeg.data(), jpeg.size(), "g.jpg");
    CHECK(img.height == h);
    CHECK(img.width == w);
    CHECK(img.channels == c);
    int worst = 0;
    for (std::size_t i = 0; i < px.size(); ++i) worst = std::max(worst, std::abs(int(img.pixels[i]) - int(px[i])));
    CHECK(worst <= 3);
    const auto dir = engine_test::scratch_dir(fmt::format("jpeg-{}", c));
    fs::create_directories(dir / "a");
    fs::create_directories(dir / "b");
    engine_test::write_bytes(dir / "a" / "x.JPG", jpeg);
    const std::vector<std::uint8_t> half(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
    engine_test::write_bytes(dir / "b" / "y.jpeg", half);
    require_error([&] { read_image_folder(dir.string(), {}); }, ErrorCode::data, {"b/y.jpeg", "corrupt JPEG"});
    fs::remove(dir / "b" / "y.jpeg");
    engine_test::write_bytes(dir / "b" / "y.jpeg", jpeg);
    const RawData raw = read_image_folder(dir.string(), {});
    CHECK(raw.inputs.sizes() == at::IntArrayRef({2, c, h, w}));
  }
}

// --- the CLI: exit code 4 and the file named, for each bad input ---------------------------------------------------
namespace {
int run_cli(const std::vector<std::string>& args, const fs::path& log, std::string& output) {
  std::string cmd = COMPAUDIT_EXE;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string pipeline(const std::string& data) {
  return fmt::format(R"([audit]
name = "user-data"
seeds = 2

[data]
{}

[model]
arch = "mlp"
hidden = [16]

[training]
epochs = 1
threads = 1

[[arm]]
name = "int8"
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"

[[metric]]
plugin = "org.compaudit.metric.top1"
)", data);
}
}  // namespace

TEST_CASE("The CLI exits 4 naming the file for each bad array or image folder", "[engine][data][cli][.slow]") {
  const auto dir = engine_test::scratch_dir("user-data-cli");
  const std::string f = fixtures().string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("format = \"npy\"\ntrain = \"{0}/bad/complex.npy\"\ntrain_labels = \"{0}/tab/y_train.npy\"", f),
       "complex.npy"},
      {fmt::format("format = \"npy\"\ntrain = \"{0}/tab/x_train.npy\"\ntrain_labels = \"{0}/bad/labels_2d.npy\"", f),
       "labels_2d.npy"},
      {fmt::format("format = \"npy\"\ntrain = \"{0}/tab/x_train.npy\"\ntrain_labels = \"{0}/bad/labels_short.npy\"",
                   f), "labels_short.npy"},
      {fmt::format("format = \"npy\"\ntrain = \"{0}/bad/truncated.npy\"\ntrain_labels = \"{0}/tab/y_train.npy\"", f),
       "truncated.npy"},
      {fmt::format("format = \"npz\"\ntrain = \"{0}/bad/train_only.npz\"\ntest = \"{0}/bad/train_only.npz\"", f),
       "train_only.npz"},
      {fmt::format("format = \"images\"\ntrain = \"{0}/mixed_sizes\"", f), "big.png"},
      {fmt::format("format = \"images\"\ntrain = \"{0}/corrupt\"", f), "flipped.png"},
      {fmt::format("format = \"images\"\ntrain = \"{0}/empty_class\"", f), "empty_class/b"},
  };
  int i = 0;
  for (const auto& [data, file] : cases) {
    INFO(data);
    const fs::path p = dir / fmt::format("p{}.toml", i++);
    engine_test::write_text(p, pipeline(data));
    std::string out;
    CHECK(run_cli({"run", p.string(), "-o", (dir / "runs" / p.stem()).string(), "-q"}, dir / "log.txt", out) == 4);
    CHECK_THAT(out, Catch::Contains(file));
  }
  SECTION("validate: test-only data refuses normalize and training-only options at the key") {
    const fs::path p = dir / "test_only.toml";
    engine_test::write_text(p, pipeline(fmt::format("format = \"npz\"\ntest = \"{}/test_only.npz\"\n"
                                                    "normalize = \"standard\"", f)));
    std::string out;
    CHECK(run_cli({"validate", p.string()}, dir / "log.txt", out) == 4);
    CHECK_THAT(out, Catch::Contains(p.string() + ":8:1") && Catch::Contains("only test data"));
    engine_test::write_text(p, pipeline(fmt::format("format = \"npz\"\ntest = \"{}/test_only.npz\"\n"
                                                    "validation_fraction = 0.2", f)));
    CHECK(run_cli({"validate", p.string()}, dir / "log.txt", out) == 4);
    CHECK_THAT(out, Catch::Contains(p.string() + ":8:1") && Catch::Contains("validation_fraction"));
    engine_test::write_text(p, pipeline("format = \"images\"\ntrain = \"no/such/folder\""));
    CHECK(run_cli({"validate", p.string()}, dir / "log.txt", out) == 4);
    CHECK_THAT(out, Catch::Contains(p.string() + ":7:1") && Catch::Contains("does not exist"));
    engine_test::write_text(p, pipeline(fmt::format("format = \"npy\"\ntrain = \"{}/tab/x_train.npy\"", f)));
    CHECK(run_cli({"validate", p.string()}, dir / "log.txt", out) == 4);
    CHECK_THAT(out, Catch::Contains(p.string() + ":7:1") && Catch::Contains("'train' needs 'train_labels'"));
    engine_test::write_text(p, pipeline(fmt::format("format = \"npz\"\ntest = \"{}/test_only.npz\"\n"
                                                    "train_array = \"x\"", f)));
    CHECK(run_cli({"validate", p.string()}, dir / "log.txt", out) == 4);
    CHECK_THAT(out, Catch::Contains(p.string() + ":8:1"));
    CHECK_THAT(out, Catch::Contains("train_array names an array of the 'train' archive"));
    engine_test::write_text(p, pipeline(fmt::format("format = \"npz\"\ntest = \"{}/test_only.npz\"", f)));
    CHECK(run_cli({"validate", p.string()}, dir / "log.txt", out) == 0);  // test-only: normalize defaults to none
  }
  SECTION("a good npy pipeline runs end to end") {
    const fs::path p = dir / "good.toml";
    engine_test::write_text(p, pipeline(fmt::format("format = \"npy\"\ntrain = \"{0}/tab/x_train.npy\"\n"
                                                    "train_labels = \"{0}/tab/y_train.npy\"\n"
                                                    "test = \"{0}/tab/x_test.npy\"\n"
                                                    "test_labels = \"{0}/tab/y_test.npy\"", f)));
    std::string out;
    CHECK(run_cli({"run", p.string(), "-o", (dir / "runs" / "good").string(), "-q"}, dir / "log.txt", out) == 0);
    INFO(out);
    CHECK(fs::exists(dir / "runs" / "good" / "report.json"));
  }
}
