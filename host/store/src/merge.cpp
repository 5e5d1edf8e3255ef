// Scale-out at the store level: merging shard stores into one run, and stores as bytes (see merge.h and
// docs/scaling.md). Validation reads every store through the public API first; only when the stores agree and cover
// the run exactly once is the output created and filled, table by table, with SQL over ATTACHed shard files.
#include <compaudit/store/merge.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "lock.h"
#include "store_impl.h"

namespace compaudit::store {

namespace fs = std::filesystem;
using detail::Stmt;
using nlohmann::json;

namespace {

[[noreturn]] void mismatch(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::pipeline, what, SourceLocation{where, 0, 0});
}

std::string canonical(const std::string& dir) {
  std::error_code ec;
  auto p = fs::weakly_canonical(fs::absolute(dir), ec);
  return (ec ? fs::absolute(dir) : p).lexically_normal().string();
}

// What one shard store says about itself, read before anything is written.
struct ShardView {
  std::string dir, path;
  RunInfo run;
  std::vector<ArmInfo> arms;
  std::optional<DataInfo> data;
  std::vector<Cell> cells;
  bool memorization = false;
  int lock_fd = -1;
};

// The first top-level key (or "model.<key>", "training.<key>") where two settings differ, for the error message.
std::string first_difference(const json& a, const json& b, const std::string& prefix = "") {
  std::set<std::string> keys;
  if (a.is_object())
    for (const auto& [k, v] : a.items()) keys.insert(k);
  if (b.is_object())
    for (const auto& [k, v] : b.items()) keys.insert(k);
  for (const auto& k : keys) {
    const json va = a.contains(k) ? a[k] : json(), vb = b.contains(k) ? b[k] : json();
    if (va == vb) continue;
    if (va.is_object() && vb.is_object()) return first_difference(va, vb, prefix + k + ".");
    return fmt::format("{}{} is {} here but {} there", prefix, k, va.dump(), vb.dump());
  }
  return "they differ";
}

bool same_arm(const ArmInfo& a, const ArmInfo& b) {
  return a.name == b.name && a.base_name == b.base_name && a.level == b.level && a.sweep == b.sweep &&
         a.steps == b.steps && a.finetune_epochs == b.finetune_epochs && a.reference == b.reference;
}

// Every way two stores can be of different runs; `s` is compared with the first store `ref`.
void check_same_run(const ShardView& s, const ShardView& ref) {
  const std::string there = fmt::format(" (compared with {})", ref.dir);
  if (s.run.pipeline_toml != ref.run.pipeline_toml)
    mismatch(s.path, "this store is of another pipeline: its pipeline text differs" + there);
  const json a = comparable_settings(s.run.settings), b = comparable_settings(ref.run.settings);
  if (a != b) mismatch(s.path, "this store's run settings differ: " + first_difference(a, b) + there);
  if (s.arms.size() != ref.arms.size() || !std::equal(s.arms.begin(), s.arms.end(), ref.arms.begin(), same_arm))
    mismatch(s.path, "this store's arms differ" + there);
  if (!s.data || !ref.data)
    mismatch(s.data ? ref.path : s.path, "this store does not describe its data: the shard never started");
  const DataInfo &d = *s.data, &e = *ref.data;
  if (d.kind != e.kind || d.num_classes != e.num_classes || d.class_names != e.class_names ||
      d.input_shape != e.input_shape || d.splits.size() != e.splits.size())
    mismatch(s.path, "this store's data description differs" + there);
  for (std::size_t i = 0; i < d.splits.size(); ++i)
    if (d.splits[i].name != e.splits[i].name || d.splits[i].n != e.splits[i].n ||
        d.splits[i].targets != e.splits[i].targets)
      mismatch(s.path, fmt::format("this store's {} split differs (other data or split seed){}", d.splits[i].name,
                                   there));
}

ShardView read_shard(const std::string& dir) {
  ShardView v;
  v.dir = dir;
  v.path = (fs::path(dir) / kStoreFile).string();
  if (!Store::exists(dir)) throw Error(ErrorCode::io, "no results store here (not a shard's run directory?)",
                                       SourceLocation{v.path, 0, 0});
  // Held until the merge is over: a shard that is still being written (or resumed meanwhile) is refused.
  v.lock_fd = detail::acquire_run_lock(dir);
  try {
    const Store s = Store::open(dir, Store::Access::read_only);
    v.run = s.run();
    if (v.run.schema_version != kSchemaVersion)
      throw Error(ErrorCode::io, fmt::format("schema version {} cannot be merged by this compaudit (schema {})",
                                             v.run.schema_version, kSchemaVersion),
                  SourceLocation{v.path, 0, 0});
    v.arms = s.arms();
    v.data = s.data();
    v.cells = s.cells();
    v.memorization = s.memorization("train").has_value();
  } catch (...) {
    detail::release_run_lock(v.lock_fd);
    throw;
  }
  return v;
}

struct Locks {  // releases every shard lock however merge_stores ends
  std::vector<ShardView>& views;
  ~Locks() {
    for (auto& v : views) detail::release_run_lock(v.lock_fd);
  }
};

// The cells each store must (together) hold: every arm of every seed in the run's settings.
std::vector<std::pair<std::string, std::int64_t>> expected_cells(const ShardView& ref) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& seed : ref.run.settings.value("seeds", json::array()))
    for (const auto& arm : ref.arms) out.emplace_back(arm.name, seed.get<std::int64_t>());
  return out;
}

void check_coverage(const std::vector<ShardView>& views) {
  const auto expected = expected_cells(views.front());
  std::set<std::pair<std::string, std::int64_t>> wanted(expected.begin(), expected.end());
  std::map<std::pair<std::string, std::int64_t>, const ShardView*> owner;
  for (const auto& v : views) {
    for (const auto& c : v.cells) {
      const auto key = std::make_pair(c.arm, c.seed);
      if (!wanted.count(key))
        mismatch(v.path, fmt::format("this store holds cell {} seed {}, which is not a cell of the run", c.arm, c.seed));
      if (c.status == CellStatus::pending || c.status == CellStatus::running)
        mismatch(v.path, fmt::format("this shard is not finished: cell {} seed {} is {}; finish it with "
                                     "`compaudit run --resume {}`",
                                     c.arm, c.seed, to_string(c.status), v.dir));
      if (auto [it, fresh] = owner.emplace(key, &v); !fresh)
        mismatch(v.path, fmt::format("cell {} seed {} is also in {}: the shards overlap (were they run with "
                                     "different --shard counts?)",
                                     c.arm, c.seed, it->second->dir));
    }
  }
  std::vector<std::string> missing;
  std::set<std::int64_t> missing_seeds;
  for (const auto& key : expected)
    if (!owner.count(key)) {
      if (missing.size() < 5) missing.push_back(fmt::format("{} seed {}", key.first, key.second));
      missing_seeds.insert(key.second);
    }
  if (missing.empty()) return;
  // Name the absent shards when the stores say how the run was split.
  std::string hint;
  const json shard = views.front().run.settings.value("shard", json());
  if (shard.is_object()) {
    const int count = shard.value("count", 0);
    std::set<int> present;
    for (const auto& v : views)
      if (v.run.settings.contains("shard")) present.insert(v.run.settings["shard"].value("index", -1));
    std::vector<std::string> absent;
    for (int i = 0; i < count; ++i)
      if (!present.count(i)) absent.push_back(fmt::format("{}/{}", i, count));
    if (!absent.empty()) hint = fmt::format("; no store of shard {} was given", fmt::join(absent, ", "));
  }
  throw Error(ErrorCode::pipeline,
              fmt::format("the shard stores do not cover the run: {} cells of seeds {} are in none of them (first: "
                          "{}){}",
                          [&] {
                            int n = 0;
                            for (const auto& key : expected) n += owner.count(key) ? 0 : 1;
                            return n;
                          }(),
                          fmt::join(missing_seeds, ", "), fmt::join(missing, ", "), hint),
              SourceLocation{views.front().dir, 0, 0});
}

// Copies one shard's rows into the merged store. ATTACH must happen outside a transaction; the copy is one.
void copy_shard(Store& out, const ShardView& v, bool first, bool take_memorization) {
  auto& impl = detail::RawAccess::impl(out);
  Stmt(impl.db, impl.path, "ATTACH DATABASE ? AS shard").bind(1, v.path).run();
  try {
    out.transaction([&] {
      if (first)
        impl.exec("INSERT INTO main.arms SELECT * FROM shard.arms; INSERT INTO main.data SELECT * FROM shard.data; "
                  "INSERT INTO main.splits SELECT * FROM shard.splits; "
                  "INSERT INTO main.thumbnails SELECT * FROM shard.thumbnails");
      impl.exec("INSERT INTO main.cells SELECT * FROM shard.cells; "
                "INSERT INTO main.predictions SELECT * FROM shard.predictions; "
                "INSERT OR IGNORE INTO main.blobs SELECT * FROM shard.blobs; "
                "INSERT INTO main.log(time, level, text) SELECT time, level, text FROM shard.log ORDER BY id");
      if (take_memorization) impl.exec("INSERT INTO main.memorization SELECT * FROM shard.memorization");
    });
  } catch (...) {
    sqlite3_exec(impl.db, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  impl.exec("DETACH DATABASE shard");
}

void remove_store_files(const std::string& dir) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    fs::remove(fs::path(dir) / (std::string(kStoreFile) + suffix), ec);
}

}  // namespace

json comparable_settings(json settings) {
  if (!settings.is_object()) return settings;
  settings.erase("shard");
  settings.erase("blas");  // provenance, not settings: shards on different machines may use other BLAS kernels...
  settings.erase("gemm");  // ...and other oneDNN instruction sets
  settings.erase("pipeline_dir");
  // Input digests (engine api/input_digests.h): the data and model contents must agree, not where each machine
  // keeps them; plugin libraries may be builds of their own on each machine.
  if (settings.contains("inputs") && settings["inputs"].is_array()) {
    json same = json::array();
    for (const auto& in : settings["inputs"])
      if (in.is_object() && in.value("role", "").rfind("plugin library ", 0) != 0)
        same.push_back({{"role", in.value("role", "")}, {"sha256", in.value("sha256", "")}});
    settings["inputs"] = same;
  }
  if (settings.contains("model") && settings["model"].is_object()) settings["model"].erase("path");
  return settings;
}

MergeSummary merge_stores(const std::string& out_dir, const std::vector<std::string>& shard_dirs) {
  if (shard_dirs.empty()) throw Error(ErrorCode::pipeline, "no shard stores to merge");
  const std::string out = canonical(out_dir);
  if (Store::exists(out))
    throw Error(ErrorCode::io, "this directory already holds a results store; merge into a new directory",
                SourceLocation{(fs::path(out) / kStoreFile).string(), 0, 0});
  std::vector<ShardView> views;
  Locks locks{views};
  views.reserve(shard_dirs.size());  // never reallocated: check_coverage keeps pointers into it
  std::set<std::string> seen;
  for (const auto& dir : shard_dirs) {
    const std::string c = canonical(dir);
    if (c == out) throw Error(ErrorCode::pipeline, "the output directory is also given as a shard", {dir});
    if (!seen.insert(c).second) throw Error(ErrorCode::pipeline, "this shard store is given twice", {dir});
    views.push_back(read_shard(dir));
  }
  for (std::size_t i = 1; i < views.size(); ++i) check_same_run(views[i], views.front());
  if (!views.front().data) mismatch(views.front().path, "this store does not describe its data: the shard never started");
  check_coverage(views);

  MergeSummary summary;
  summary.stores = static_cast<int>(views.size());
  RunInfo info = views.front().run;
  info.settings.erase("shard");  // the merged run is the whole run: its settings are a single run's
  for (const char* key : {"blas", "gemm"}) {  // provenance (docs/engine.md): shards on other machines may have used
    std::set<std::string> kernels;             // other kernels; keep each of them
    for (const auto& v : views) kernels.insert(v.run.settings.value(key, std::string()));
    if (kernels.size() > 1) {
      std::string all = "mixed:";
      for (const auto& k : kernels) all += " " + (k.empty() ? std::string("unrecorded") : k) + ";";
      all.pop_back();
      info.settings[key] = all;
    }
  }
  // Built in a staging directory and renamed into out_dir when complete, under out_dir's writer lock: a merge
  // killed half-way leaves no store in out_dir (only the staging directory, which the next merge replaces).
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) detail::fail(out, "cannot create the run directory (" + ec.message() + ")");
  const int out_lock = detail::acquire_run_lock(out);
  const fs::path staging = fs::path(out) / ".merging";
  try {
    fs::remove_all(staging);
    {
      Store merged = Store::create(staging.string(), info);
      bool memorization_taken = false;
      for (std::size_t i = 0; i < views.size(); ++i) {
        const bool take = views[i].memorization && !memorization_taken;
        copy_shard(merged, views[i], i == 0, take);
        memorization_taken = memorization_taken || take;
      }
      summary.memorization = memorization_taken;
      std::vector<std::string> dirs;
      for (const auto& v : views) dirs.push_back(v.dir);
      merged.log("info", fmt::format("merged from {} shard stores: {}", views.size(), fmt::join(dirs, ", ")));
      for (const auto& c : merged.cells()) {
        ++summary.cells;
        summary.done += c.status == CellStatus::done;
        summary.failed += c.status == CellStatus::failed;
      }
      detail::RawAccess::impl(merged).exec("PRAGMA journal_mode=DELETE");  // one self-contained file to move
    }
    if (Store::exists(out)) detail::fail(out, "a results store appeared here during the merge");
    fs::rename(staging / kStoreFile, fs::path(out) / kStoreFile);
    fs::remove_all(staging, ec);
  } catch (...) {
    fs::remove_all(staging, ec);
    detail::release_run_lock(out_lock);
    throw;
  }
  detail::release_run_lock(out_lock);
  return summary;
}

std::vector<std::uint8_t> store_snapshot(const std::string& run_dir) {
  Store s = Store::open(run_dir, Store::Access::read_write);  // the lock: nobody writes while we copy
  auto& impl = detail::RawAccess::impl(s);
  const fs::path tmp = fs::path(run_dir) / fmt::format(".snapshot-{}.sqlite", ::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  Stmt(impl.db, impl.path, "VACUUM INTO ?").bind(1, tmp.string()).run();
  std::ifstream in(tmp, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const bool ok = static_cast<bool>(in) || in.eof();
  in.close();
  fs::remove(tmp, ec);
  if (!ok || bytes.empty()) detail::fail(tmp.string(), "cannot read the store snapshot");
  return bytes;
}

void write_store_snapshot(const std::string& run_dir, const std::vector<std::uint8_t>& bytes) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) detail::fail(run_dir, "cannot create the run directory (" + ec.message() + ")");
  const int lock = detail::acquire_run_lock(run_dir);
  const fs::path tmp = fs::path(run_dir) / fmt::format(".incoming-{}.sqlite", ::getpid());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (!out) detail::fail(tmp.string(), "cannot write the received store");
    }
    remove_store_files(run_dir);
    fs::rename(tmp, fs::path(run_dir) / kStoreFile, ec);
    if (ec) detail::fail(tmp.string(), "cannot move the received store into place (" + ec.message() + ")");
  } catch (...) {
    fs::remove(tmp, ec);
    detail::release_run_lock(lock);
    throw;
  }
  detail::release_run_lock(lock);
  Store::open(run_dir, Store::Access::read_only).run();  // throws Error(io) when the bytes are not a store
}

}  // namespace compaudit::store
