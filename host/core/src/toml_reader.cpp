#include "toml_reader.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace compaudit::host::detail {

SourceLocation location(const toml::source_region& region, const std::string& file) {
  return {file, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

std::string read_small_file(const std::string& path, ErrorCode code) {
  // O_NONBLOCK: opening a fifo must not wait for a writer; it is refused below like any other non-regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(code, fmt::format("cannot open file: {}", std::strerror(errno)), {path});
  // Manifests and pipelines are small text files. A device (`validate /dev/zero`), fifo or directory, or a
  // runaway file, would otherwise be read until memory runs out.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(code, S_ISDIR(st.st_mode) ? "is a directory, not a file" : "is not a regular file", {path});
  }
  if (st.st_size > static_cast<off_t>(kMaxTextFileBytes)) {
    ::close(fd);
    throw Error(code, fmt::format("file is {} bytes; a manifest or pipeline may have at most {} MiB", st.st_size,
                                  kMaxTextFileBytes >> 20), {path});
  }
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(code, fmt::format("cannot read file: {}", std::strerror(err)), {path});
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxTextFileBytes) {  // grew since fstat
      ::close(fd);
      throw Error(code, fmt::format("file is larger than {} MiB, the most a manifest or pipeline may have",
                                    kMaxTextFileBytes >> 20), {path});
    }
    if (n < static_cast<ssize_t>(sizeof(buffer))) break;  // a short read of a regular file is its end
  }
  ::close(fd);
  return text;
}

toml::table parse_toml_file(const std::string& path, ErrorCode code) {
  const std::string text = read_small_file(path, code);
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw Error(code, fmt::format("TOML syntax error: {}", e.description()), location(e.source(), path));
  }
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

std::optional<ParamValue> to_param_value(const toml::node& node) {
  if (auto v = node.as_boolean()) return v->get();
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_string()) return v->get();
  const toml::array* array = node.as_array();
  if (!array) return std::nullopt;
  if (array->empty()) return std::vector<std::int64_t>{};
  bool ints = true, numbers = true, strings = true;
  for (const auto& e : *array) {
    ints = ints && e.is_integer();
    numbers = numbers && (e.is_integer() || e.is_floating_point());
    strings = strings && e.is_string();
  }
  if (ints) {
    std::vector<std::int64_t> out;
    for (const auto& e : *array) out.push_back(e.as_integer()->get());
    return out;
  }
  if (numbers) {
    std::vector<double> out;
    for (const auto& e : *array) out.push_back(e.value<double>().value());
    return out;
  }
  if (strings) {
    std::vector<std::string> out;
    for (const auto& e : *array) out.push_back(e.as_string()->get());
    return out;
  }
  return std::nullopt;
}

TableReader::TableReader(const toml::table& table, std::string file, std::string what, ErrorCode code)
    : table_(table), file_(std::move(file)), what_(std::move(what)), code_(code) {}

SourceLocation TableReader::where(const std::string& key) const {
  for (const auto& [k, v] : table_)
    if (k.str() == key) return location(k.source().begin.line ? k.source() : v.source(), file_);
  return where();
}

void TableReader::fail(const std::string& key, const std::string& message) const {
  throw Error(code_, message, where(key));
}

void TableReader::fail_value(const toml::node& value, const std::string& message) const {
  throw Error(code_, message, location(value.source(), file_));
}

void TableReader::wrong_type(const std::string& key, const toml::node& value, const char* expected) const {
  fail_value(value, fmt::format("{}: '{}' must be {}, not {}", what_, key, expected, type_name(value)));
}

const toml::node* TableReader::node(const std::string& key) {
  used_.insert(key);
  return table_.get(key);
}

std::optional<std::string> TableReader::string(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (auto s = n->as_string()) return s->get();
  wrong_type(key, *n, "a string");
}

std::optional<std::int64_t> TableReader::integer(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (auto i = n->as_integer()) return i->get();
  wrong_type(key, *n, "an integer");
}

std::optional<double> TableReader::number(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (auto i = n->as_integer()) return static_cast<double>(i->get());
  if (auto f = n->as_floating_point()) return f->get();
  wrong_type(key, *n, "a number");
}

std::optional<bool> TableReader::boolean(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (auto b = n->as_boolean()) return b->get();
  wrong_type(key, *n, "true or false");
}

std::optional<std::vector<std::string>> TableReader::strings(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  const toml::array* a = n->as_array();
  if (!a) wrong_type(key, *n, "an array of strings");
  std::vector<std::string> out;
  for (const auto& e : *a) {
    if (!e.is_string()) wrong_type(key, e, "an array of strings, and this element");
    out.push_back(e.as_string()->get());
  }
  return out;
}

std::optional<std::vector<std::int64_t>> TableReader::integers(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  const toml::array* a = n->as_array();
  if (!a) wrong_type(key, *n, "an array of integers");
  std::vector<std::int64_t> out;
  for (const auto& e : *a) {
    if (!e.is_integer()) wrong_type(key, e, "an array of integers, and this element");
    out.push_back(e.as_integer()->get());
  }
  return out;
}

std::string TableReader::required_string(const std::string& key) {
  auto v = string(key);
  if (!v) throw Error(code_, fmt::format("{}: required key '{}' is missing", what_, key), where());
  return *v;
}

std::int64_t TableReader::required_integer(const std::string& key) {
  auto v = integer(key);
  if (!v) throw Error(code_, fmt::format("{}: required key '{}' is missing", what_, key), where());
  return *v;
}

void TableReader::finish() const {
  for (const auto& [k, v] : table_) {
    if (used_.count(std::string(k.str()))) continue;
    std::string known;
    for (const auto& u : used_) known += (known.empty() ? "" : ", ") + u;
    throw Error(code_, fmt::format("{}: unknown key '{}' (known keys: {})", what_, k.str(), known),
                location(k.source().begin.line ? k.source() : v.source(), file_));
  }
}

}  // namespace compaudit::host::detail
