// .npy reader. Layout (numpy/lib/format.py): the magic "\x93NUMPY", a major and minor version byte, the header's
// length (uint16 LE for version 1, uint32 LE for versions 2 and 3), the header — a Python dict literal padded with
// spaces and ended by '\n' — and then the raw array data. The dict literal is parsed here by hand, strictly: numpy
// writes exactly three keys, string values in quotes, True/False and a tuple of integers, and nothing else is
// accepted, so no input can make the parser guess.
#include "data/npy.h"

#include "data/readers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <c10/util/Half.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

namespace compaudit::engine {
namespace {

constexpr std::int64_t kMaxElements = std::int64_t{1} << 62;  // keeps every stride and byte count in int64
constexpr std::size_t kMaxDims = 32;                           // numpy's own limit (NPY_MAXDIMS)

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// A recursive-descent reader of the one dict literal numpy writes. Errors quote the header (printable characters only)
// and the offset of the problem in it.
class HeaderParser {
 public:
  HeaderParser(const char* text, std::size_t size, const std::string& file) : p_(text), begin_(text), end_(text + size),
                                                                               file_(file) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (eat('}')) break;
      const std::string key = string_literal();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (seen_descr) fail("key 'descr' appears twice");
        if (peek() == '[') fail("structured dtypes (a list of fields in 'descr') are not supported");
        h.descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order") {
        if (seen_order) fail("key 'fortran_order' appears twice");
        h.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        if (seen_shape) fail("key 'shape' appears twice");
        h.shape = tuple();
        seen_shape = true;
      } else {
        fail(fmt::format("unexpected key '{}' (numpy writes only 'descr', 'fortran_order' and 'shape')", key));
      }
      skip_space();
      if (eat(',')) continue;
      expect('}');
      break;
    }
    skip_space();
    if (p_ != end_) fail("characters after the closing '}'");
    if (!seen_descr || !seen_order || !seen_shape)
      fail(fmt::format("the header lacks {}", !seen_descr ? "'descr'" : !seen_order ? "'fortran_order'" : "'shape'"));
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string shown;
    for (const char* c = begin_; c != end_ && shown.size() < 160; ++c)
      shown += (*c >= 32 && *c < 127) ? *c : '?';
    if (end_ - begin_ > 160) shown += "...";
    throw Error(ErrorCode::data, fmt::format("bad .npy header: {} at character {} of \"{}\"", what, p_ - begin_,
                                             shown), {file_});
  }
  char peek() const { return p_ == end_ ? '\0' : *p_; }
  bool eat(char c) {
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(fmt::format("expected '{}'", c));
  }
  void skip_space() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++p_;
    std::string s;
    for (;;) {
      if (p_ == end_ || *p_ == '\n') fail("unterminated string");
      if (*p_ == '\\') fail("escape sequences in strings are not supported");
      if (*p_ == quote) break;
      s += *p_++;
      if (s.size() > 64) fail("string longer than 64 characters");
    }
    ++p_;
    return s;
  }
  bool boolean() {
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      const std::size_t n = std::strlen(word);
      if (static_cast<std::size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
        p_ += n;
        return value;
      }
    }
    fail("expected True or False");
  }
  std::int64_t integer() {
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (v > (kMaxElements - 9) / 10) fail("dimension too large");
      v = v * 10 + (*p_++ - '0');
    }
    if (peek() == 'L' || peek() == 'l') ++p_;  // Python 2's long literals, as old numpy wrote them
    return v;
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> dims;
    expect('(');
    skip_space();
    if (eat(')')) return dims;
    for (;;) {
      dims.push_back(integer());
      if (dims.size() > kMaxDims) fail(fmt::format("more than {} dimensions", kMaxDims));
      skip_space();
      if (eat(')')) return dims;
      expect(',');
      skip_space();
      if (eat(')')) return dims;
    }
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  const std::string& file_;
};

// How one stored element becomes one tensor element.
enum class Convert { copy, boolean, u16_to_i32, u32_to_i64, f16_to_f32 };

struct DType {
  at::ScalarType type;
  std::size_t item_size;  // bytes per stored element
  bool swap;              // stored big-endian
  Convert convert;
};

DType parse_descr(const std::string& descr, const std::string& file) {
  std::string d = descr;
  char order = '|';
  if (!d.empty() && std::string("<>|=").find(d[0]) != std::string::npos) order = d[0], d = d.substr(1);
  static const std::map<std::string, std::pair<at::ScalarType, Convert>> known = {
      {"b1", {at::kBool, Convert::boolean}},  {"u1", {at::kByte, Convert::copy}},
      {"i1", {at::kChar, Convert::copy}},     {"i2", {at::kShort, Convert::copy}},
      {"i4", {at::kInt, Convert::copy}},      {"i8", {at::kLong, Convert::copy}},
      {"u2", {at::kInt, Convert::u16_to_i32}}, {"u4", {at::kLong, Convert::u32_to_i64}},
      {"f2", {at::kFloat, Convert::f16_to_f32}}, {"f4", {at::kFloat, Convert::copy}},
      {"f8", {at::kDouble, Convert::copy}}};
  const auto it = known.find(d);
  if (it == known.end()) {
    const char kind = d.empty() ? '?' : d[0];
    const char* what = kind == 'c' ? "complex numbers" : kind == 'O' ? "Python objects" : kind == 'U' || kind == 'S'
                       ? "strings" : kind == 'V' ? "raw or structured records" : kind == 'M' || kind == 'm'
                       ? "dates or times" : d == "u8" ? "uint64 (no lossless tensor type)" : "an unknown type";
    throw Error(ErrorCode::data, fmt::format("dtype '{}' ({}) is not supported: use bool, uint8, int8, int16, int32, "
                                             "int64, uint16, uint32, float16, float32 or float64", descr, what),
                {file});
  }
  const std::size_t size = static_cast<std::size_t>(d[1] - '0');
  return {it->second.first, size, order == '>' && size > 1, it->second.second};
}

template <class T>
T load(const std::uint8_t* src, std::size_t size, bool swap) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, src, size);
  if (swap) std::reverse(b, b + size);
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// Fills `out` (already of the right type and element count) from the stored elements.
void convert_elements(const std::uint8_t* src, std::int64_t count, const DType& t, at::Tensor& out,
                      const std::string& file) {
  const auto n = static_cast<std::size_t>(count);
  if (n == 0) return;  // an empty tensor's data_ptr() is null, and memcpy(nullptr, ..., 0) is undefined (fuzz_npy)
  switch (t.convert) {
    case Convert::copy:
      std::memcpy(out.data_ptr(), src, n * t.item_size);
      if (t.swap) {
        auto* b = static_cast<std::uint8_t*>(out.data_ptr());
        for (std::size_t i = 0; i < n; ++i) std::reverse(b + i * t.item_size, b + (i + 1) * t.item_size);
      }
      return;
    case Convert::boolean: {
      // A bool tensor holding a byte other than 0 or 1 is undefined behaviour in ATen; numpy never writes one.
      const auto bad = std::find_if(src, src + n, [](std::uint8_t b) { return b > 1; });
      if (bad != src + n)
        throw Error(ErrorCode::data, fmt::format("bool element {} holds the byte {} (only 0 and 1 are booleans)",
                                                 bad - src, *bad), {file});
      std::memcpy(out.data_ptr(), src, n);
      return;
    }
    case Convert::u16_to_i32: {
      auto* o = out.data_ptr<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) o[i] = load<std::uint16_t>(src + 2 * i, 2, t.swap);
      return;
    }
    case Convert::u32_to_i64: {
      auto* o = out.data_ptr<std::int64_t>();
      for (std::size_t i = 0; i < n; ++i) o[i] = load<std::uint32_t>(src + 4 * i, 4, t.swap);
      return;
    }
    case Convert::f16_to_f32: {
      auto* o = out.data_ptr<float>();
      for (std::size_t i = 0; i < n; ++i)
        o[i] = static_cast<float>(c10::Half(load<std::uint16_t>(src + 2 * i, 2, t.swap), c10::Half::from_bits()));
      return;
    }
  }
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return shape.size() == 1 ? fmt::format("({},)", shape[0]) : fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace

at::Tensor parse_npy(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors) {
  const std::string& file = name_for_errors;
  static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(data, magic, 6) != 0)
    throw Error(ErrorCode::data, "not an .npy file (it does not start with \"\\x93NUMPY\")", {file});
  const int major = data[6], minor = data[7];
  if ((major < 1 || major > 3) || minor != 0)
    throw Error(ErrorCode::data, fmt::format(".npy format version {}.{} is not supported (1.0, 2.0 or 3.0)", major,
                                             minor), {file});
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = data[8] | std::size_t(data[9]) << 8;
    prefix = 10;
  } else {
    if (size < 12) throw Error(ErrorCode::data, "truncated .npy header", {file});
    header_len = data[8] | std::size_t(data[9]) << 8 | std::size_t(data[10]) << 16 | std::size_t(data[11]) << 24;
    prefix = 12;
  }
  if (header_len > size - prefix)
    throw Error(ErrorCode::data, fmt::format("truncated .npy header: it claims {} bytes, the file holds {}", header_len,
                                             size - prefix), {file});
  const Header h = HeaderParser(reinterpret_cast<const char*>(data + prefix), header_len, file).parse();
  const DType t = parse_descr(h.descr, file);

  const std::size_t have = size - prefix - header_len;
  std::int64_t count = 1, nonzero = 1;
  for (const std::int64_t d : h.shape) {
    if (d == 0) count = 0;
    else if (nonzero > kMaxElements / d)
      throw Error(ErrorCode::data, "shape " + shape_text(h.shape) + " is too large", {file});
    else nonzero *= d;
  }
  if (count != 0) count = nonzero;
  // count * item_size cannot overflow: count < 2^62 and, when it exceeds the file, the division below says so first.
  if (static_cast<std::size_t>(count) > have / t.item_size)
    throw Error(ErrorCode::data, fmt::format("truncated .npy file: shape {} of dtype '{}' needs {} bytes of data, the "
                                             "file holds {}", shape_text(h.shape), h.descr,
                                             static_cast<double>(count) * static_cast<double>(t.item_size), have),
                {file});
  const std::size_t need = static_cast<std::size_t>(count) * t.item_size;
  if (have > need)
    throw Error(ErrorCode::data, fmt::format(".npy file has {} bytes after the {} bytes of its shape {} of '{}'",
                                             have - need, need, shape_text(h.shape), h.descr), {file});

  // Fortran order stores the transposed array in C order: read it with the reversed shape, then reverse the axes.
  std::vector<std::int64_t> stored = h.shape;
  if (h.fortran_order) std::reverse(stored.begin(), stored.end());
  at::Tensor out = at::empty(stored, at::TensorOptions().dtype(t.type));
  convert_elements(data + prefix + header_len, count, t, out, file);
  if (h.fortran_order && stored.size() > 1) {
    std::vector<std::int64_t> axes(stored.size());
    for (std::size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<std::int64_t>(axes.size() - 1 - i);
    out = out.permute(axes).contiguous();
  }
  return out;
}

at::Tensor read_npy(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

}  // namespace compaudit::engine
