// torchscript_signature(): a TorchScript module's parameter names and shapes, read without LibTorch.
//
// A .pt archive (torch.jit.save) is a zip. PyTorch writes its entries STORED (uncompressed, so tensors can be
// mapped), among them "<name>/data.pkl": the module tree as a pickle (protocol 2). Each module is an object whose
// state is a dict of its attributes — submodules are objects again, tensors are
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) calls on a persistent storage id. A small
// pickle machine that builds only that (no code runs, storages are never read) recovers every tensor's name and
// shape. Anything it does not understand is an Error(data): the caller then skips the checks that need it.
#include <compaudit/host/model_signature.h>

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <memory>

namespace compaudit::host {
namespace {

constexpr std::uint64_t kMaxPickle = 64u << 20;  // data.pkl holds no tensor data; 64 MiB is far beyond any module

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::data, fmt::format("cannot read the TorchScript archive: {}", what), {path});
}

// ---- zip: find "<name>/data.pkl" through the central directory -------------------------------------------------
std::uint64_t le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string read_at(std::ifstream& in, std::uint64_t offset, std::uint64_t size, const std::string& path) {
  std::string out(size, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(out.data(), static_cast<std::streamsize>(size));
  if (!in) fail(path, "truncated zip file");
  return out;
}

std::string data_pkl(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open the file");
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
  const std::uint64_t tail_size = std::min<std::uint64_t>(file_size, 22 + 65535);
  const std::string tail = read_at(in, file_size - tail_size, tail_size, path);
  std::size_t eocd = std::string::npos;
  for (std::size_t i = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; i-- > 0;)
    if (le(&tail[i], 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) fail(path, "not a zip file (no end of central directory)");
  std::uint64_t cd_size = le(&tail[eocd + 12], 4), cd_offset = le(&tail[eocd + 16], 4);
  if (eocd >= 20 && le(&tail[eocd - 20], 4) == 0x07064b50) {  // zip64 locator: the real numbers are further up
    const std::string z = read_at(in, le(&tail[eocd - 20 + 8], 8), 56, path);
    if (le(z.data(), 4) != 0x06064b50) fail(path, "bad zip64 end of central directory");
    cd_size = le(&z[40], 8), cd_offset = le(&z[48], 8);
  }
  if (cd_offset > file_size || cd_size > file_size - cd_offset) fail(path, "bad central directory");
  const std::string cd = read_at(in, cd_offset, cd_size, path);
  for (std::size_t p = 0; p + 46 <= cd.size();) {
    if (le(&cd[p], 4) != 0x02014b50) fail(path, "bad central directory entry");
    const auto method = le(&cd[p + 10], 2), name_len = le(&cd[p + 28], 2), extra_len = le(&cd[p + 30], 2);
    const auto comment_len = le(&cd[p + 32], 2);
    std::uint64_t size = le(&cd[p + 24], 4), offset = le(&cd[p + 42], 4);
    if (p + 46 + name_len + extra_len > cd.size()) fail(path, "bad central directory entry");
    const std::string name = cd.substr(p + 46, name_len);
    // Zip64 sizes live in the extra field 0x0001, in this order, for the fields that say 0xFFFFFFFF.
    for (std::size_t e = p + 46 + name_len; e + 4 <= p + 46 + name_len + extra_len;) {
      const auto id = le(&cd[e], 2), len = le(&cd[e + 2], 2);
      if (id == 0x0001) {
        std::size_t f = e + 4;
        if (size == 0xFFFFFFFF && f + 8 <= cd.size()) size = le(&cd[f], 8), f += 8;
        if (le(&cd[p + 20], 4) == 0xFFFFFFFF) f += 8;  // compressed size: equal to size when stored
        if (offset == 0xFFFFFFFF && f + 8 <= cd.size()) offset = le(&cd[f], 8);
      }
      e += 4 + len;
    }
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (method != 0) fail(path, name + " is compressed (PyTorch writes it stored)");
      if (size > kMaxPickle) fail(path, name + " is implausibly large");
      const std::string local = read_at(in, offset, 30, path);
      if (le(local.data(), 4) != 0x04034b50) fail(path, "bad local header of " + name);
      return read_at(in, offset + 30 + le(&local[26], 2) + le(&local[28], 2), size, path);
    }
    p += 46 + name_len + extra_len + comment_len;
  }
  fail(path, "no <name>/data.pkl entry (is it a TorchScript module saved with torch.jit.save?)");
}

// ---- pickle: just enough of the machine to rebuild the module tree ---------------------------------------------
struct Value;
using Ref = std::shared_ptr<Value>;
struct Value {
  enum Kind { none, boolean, integer, real, string, tuple, list, dict, global, object, tensor, other } kind = none;
  std::int64_t i = 0;
  std::string s;                    // string; global "module name"; object class
  std::vector<Ref> items;           // tuple, list; dict as key, value, key, value...; object: its state
  std::vector<std::int64_t> shape;  // tensor
};

Ref make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

class Unpickler {
 public:
  Unpickler(const std::string& data, const std::string& path) : d_(data), path_(path) {}

  Ref run() {
    while (true) {
      const auto op = static_cast<unsigned char>(take(1)[0]);
      switch (op) {
        case 0x80: take(1); break;                           // PROTO
        case 0x95: take(8); break;                           // FRAME
        case '.': return pop();                              // STOP
        case '(': marks_.push_back(stack_.size()); break;    // MARK
        case 'N': push(make(Value::none)); break;
        case 0x88: case 0x89: {                              // NEWTRUE, NEWFALSE
          Ref v = make(Value::boolean);
          v->i = op == 0x88;
          push(v);
          break;
        }
        case 'K': push_int(static_cast<std::int64_t>(le(take(1), 1))); break;
        case 'M': push_int(static_cast<std::int64_t>(le(take(2), 2))); break;
        case 'J': push_int(static_cast<std::int32_t>(le(take(4), 4))); break;
        case 0x8a: {                                         // LONG1: little-endian two's complement
          const auto n = le(take(1), 1);
          if (n > 8) bad("integer wider than 64 bits");
          const char* p = take(n);
          std::uint64_t v = n ? le(p, static_cast<int>(n)) : 0;
          if (n && n < 8 && (static_cast<unsigned char>(p[n - 1]) & 0x80)) v |= ~0ull << (8 * n);
          push_int(static_cast<std::int64_t>(v));
          break;
        }
        case 'G': take(8), push(make(Value::real)); break;   // BINFLOAT: the value is never needed
        case 'X': case 'T': case 'B': push_string(le(take(4), 4)); break;  // BINUNICODE, BINSTRING, BINBYTES
        case 0x8c: case 'U': case 'C': push_string(le(take(1), 1)); break;  // SHORT_ variants
        case 0x8d: case 0x8e: push_string(le(take(8), 8)); break;           // BINUNICODE8, BINBYTES8
        case 'c': {                                          // GLOBAL "module\nname\n"
          Ref g = make(Value::global);
          g->s = line();
          g->s += " " + line();  // two statements: the operands of + are not sequenced
          push(g);
          break;
        }
        case 'q': memo(le(take(1), 1)) = top(); break;       // BINPUT
        case 'r': memo(le(take(4), 4)) = top(); break;       // LONG_BINPUT
        case 0x94: memo(memo_.size()) = top(); break;        // MEMOIZE
        case 'h': push(got(le(take(1), 1))); break;          // BINGET
        case 'j': push(got(le(take(4), 4))); break;          // LONG_BINGET
        case ')': push(make(Value::tuple)); break;
        case ']': push(make(Value::list)); break;
        case '}': push(make(Value::dict)); break;
        case 't': case 'l': case 'd': {                      // TUPLE, LIST, DICT from the mark
          Ref v = make(op == 't' ? Value::tuple : op == 'l' ? Value::list : Value::dict);
          v->items = since_mark();
          push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {                   // TUPLE1..3
          Ref v = make(Value::tuple);
          v->items.resize(op - 0x84);
          for (auto it = v->items.rbegin(); it != v->items.rend(); ++it) *it = pop();
          push(v);
          break;
        }
        case 'a': {                                          // APPEND
          Ref v = pop();
          top()->items.push_back(v);
          break;
        }
        case 'e': case 'u': {                                // APPENDS, SETITEMS
          std::vector<Ref> items = since_mark();
          Ref target = top();
          target->items.insert(target->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {                                          // SETITEM
          Ref value = pop(), key = pop();
          top()->items.push_back(key);
          top()->items.push_back(value);
          break;
        }
        case 'Q': pop(), push(make(Value::other)); break;    // BINPERSID: a storage, never read
        case 0x81: {                                         // NEWOBJ: an instance of a (module) class
          pop();
          Ref cls = pop(), obj = make(Value::object);
          obj->s = cls->s;
          push(obj);
          break;
        }
        case 'R': {                                          // REDUCE
          Ref args = pop(), callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 'b': {                                          // BUILD: the object's state
          Ref state = pop();
          if (top()->kind == Value::object) top()->items = {state};
          break;
        }
        default: bad(fmt::format("unsupported pickle opcode 0x{:02x}", op));
      }
    }
  }

 private:
  Ref reduce(const Value& callable, const Value& args) {
    const std::string& f = callable.s;
    if ((f == "torch._utils _rebuild_tensor_v2" || f == "torch._utils _rebuild_qtensor") && args.items.size() >= 3 &&
        args.items[2]->kind == Value::tuple) {
      Ref t = make(Value::tensor);
      for (const Ref& d : args.items[2]->items) t->shape.push_back(d->i);
      return t;
    }
    if (f == "torch._utils _rebuild_parameter" && !args.items.empty()) return args.items[0];
    if (f == "collections OrderedDict") return make(Value::dict);
    return make(Value::other);
  }

  const char* take(std::uint64_t n) {
    if (n > d_.size() - at_) bad("truncated pickle");
    const char* p = d_.data() + at_;
    at_ += n;
    return p;
  }
  std::string line() {
    const auto end = d_.find('\n', at_);
    if (end == std::string::npos) bad("truncated pickle");
    std::string s = d_.substr(at_, end - at_);
    at_ = end + 1;
    return s;
  }
  void push(Ref v) { stack_.push_back(std::move(v)); }
  void push_int(std::int64_t i) {
    Ref v = make(Value::integer);
    v->i = i;
    push(v);
  }
  void push_string(std::uint64_t n) {
    Ref v = make(Value::string);
    v->s = std::string(take(n), n);
    push(v);
  }
  Ref& top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) bad("stack underflow");
    return stack_.back();
  }
  Ref pop() {
    Ref v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<Ref> since_mark() {
    if (marks_.empty()) bad("no mark");
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Ref& memo(std::uint64_t key) {
    if (key > d_.size()) bad("bad memo index");  // every memo entry costs a byte of input
    if (key >= memo_.size()) memo_.resize(key + 1);
    return memo_[key];
  }
  Ref got(std::uint64_t key) {
    if (key >= memo_.size() || !memo_[key]) bad("memo entry read before it was written");
    return memo_[key];
  }
  [[noreturn]] void bad(const std::string& what) { fail(path_, fmt::format("data.pkl: {} at byte {}", what, at_)); }

  const std::string& d_;
  const std::string& path_;
  std::size_t at_ = 0;
  std::vector<Ref> stack_, memo_;
  std::vector<std::size_t> marks_;
};

// Module objects in attribute order: tensors become parameters, objects (submodules) are walked.
void walk(const Value& module, const std::string& prefix, int depth, ModelSignature& out) {
  if (depth > 64 || module.items.empty() || module.items[0]->kind != Value::dict) return;
  const auto& state = module.items[0]->items;
  for (std::size_t i = 0; i + 1 < state.size(); i += 2) {
    if (state[i]->kind != Value::string) continue;
    const std::string name = prefix + state[i]->s;
    const Value& v = *state[i + 1];
    if (v.kind == Value::tensor) out.parameters.emplace_back(name, v.shape);
    if (v.kind == Value::object) walk(v, name + ".", depth + 1, out);
  }
}

}  // namespace

ModelSignature torchscript_signature(const std::string& path) {
  const std::string pickle = data_pkl(path);
  const Ref root = Unpickler(pickle, path).run();
  if (root->kind != Value::object) fail(path, "data.pkl does not hold a module");
  ModelSignature sig;
  sig.arch = "torchscript";
  walk(*root, "", 0, sig);
  // Layers as the TorchScript wrapper (host/models) defines them: a "<path>.weight" of rank 2 or 4.
  const std::string suffix = ".weight";
  for (const auto& [name, shape] : sig.parameters) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    if (shape.size() != 2 && shape.size() != 4) continue;
    sig.layers.push_back({name.substr(0, name.size() - suffix.size()), shape.size() == 2 ? "linear" : "conv2d", shape});
  }
  return sig;
}

}  // namespace compaudit::host
