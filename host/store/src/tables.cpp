// The store's reads and writes, one section per table. Every write runs in transaction(); every read holds the mutex.
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

#include "store_impl.h"

namespace compaudit::store {

using detail::Stmt;
using nlohmann::json;

namespace {
json parse_json(const std::string& text, const std::string& file) {
  try {
    return text.empty() ? json() : json::parse(text);
  } catch (const std::exception& e) {
    detail::fail(file, std::string("corrupt JSON in the results store (") + e.what() + ")");
  }
}
/// JSON as stored text. Invalid UTF-8 inside strings (a plugin's message, say) is replaced, not thrown on: a result
/// must never be lost to its encoding.
std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
template <class T>
void bind_vec(Stmt& q, int i, const std::vector<T>& v) {
  q.bind_blob(i, v.data(), v.size() * sizeof(T));
}
std::int64_t crc32_of(const std::vector<std::uint8_t>& bytes) {
  return static_cast<std::int64_t>(::crc32_z(::crc32_z(0L, Z_NULL, 0), bytes.data(), bytes.size()));
}
}  // namespace

#define LOCKED std::lock_guard<std::recursive_mutex> guard(impl_->mutex)

// --- run -----------------------------------------------------------------------------------------------------------

RunInfo Store::run() const {
  LOCKED;
  Stmt q(impl_->db, impl_->path,
         "SELECT name, pipeline_path, pipeline_toml, created_at, compaudit_version, schema_version, settings FROM run");
  if (!q.step()) detail::fail(impl_->path, "results store has no run record");
  RunInfo r;
  r.name = q.text(0);
  r.pipeline_path = q.text(1);
  r.pipeline_toml = q.text(2);
  r.created_at = q.text(3);
  r.compaudit_version = q.text(4);
  r.schema_version = static_cast<int>(q.i64(5));
  r.settings = parse_json(q.text(6), impl_->path);
  return r;
}

void Store::put_run_settings(const json& settings) {
  transaction([&] { Stmt(impl_->db, impl_->path, "UPDATE run SET settings = ?").bind(1, json_text(settings)).run(); });
}

// --- arms ----------------------------------------------------------------------------------------------------------

void Store::put_arms(const std::vector<ArmInfo>& arms) {
  transaction([&] {
    impl_->exec("DELETE FROM arms");
    Stmt q(impl_->db, impl_->path,
           "INSERT INTO arms(position, name, base_name, level, sweep, steps, finetune_epochs, reference) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    int pos = 0;
    for (const auto& a : arms) {
      q.bind(1, pos++).bind(2, a.name).bind(3, a.base_name).bind(4, a.level).bind(5, json_text(json(a.sweep)));
      q.bind(6, json_text(a.steps)).bind(7, a.finetune_epochs).bind(8, a.reference);
      q.run();
    }
  });
}

std::vector<ArmInfo> Store::arms() const {
  LOCKED;
  Stmt q(impl_->db, impl_->path,
         "SELECT name, base_name, level, sweep, steps, finetune_epochs, reference FROM arms ORDER BY position");
  std::vector<ArmInfo> out;
  while (q.step()) {
    ArmInfo a;
    a.name = q.text(0);
    a.base_name = q.text(1);
    a.level = q.f64(2);
    a.sweep = parse_json(q.text(3), impl_->path).get<std::map<std::string, std::string>>();
    a.steps = parse_json(q.text(4), impl_->path);
    a.finetune_epochs = static_cast<int>(q.i64(5));
    a.reference = q.text(6);
    out.push_back(std::move(a));
  }
  return out;
}

// --- data ----------------------------------------------------------------------------------------------------------

void Store::put_data(const DataInfo& d) {
  transaction([&] {
    impl_->exec("DELETE FROM data; DELETE FROM splits");
    Stmt q(impl_->db, impl_->path,
           "INSERT INTO data(id, kind, num_classes, class_names, input_shape) VALUES(1, ?, ?, ?, ?)");
    q.bind(1, d.kind).bind(2, d.num_classes).bind(3, json_text(json(d.class_names)));
    q.bind(4, json_text(json(d.input_shape)));
    q.run();
    Stmt s(impl_->db, impl_->path, "INSERT INTO splits(name, position, n, targets) VALUES(?, ?, ?, ?)");
    int pos = 0;
    for (const auto& sp : d.splits) {
      if (!sp.targets.empty() && static_cast<std::int64_t>(sp.targets.size()) != sp.n)
        detail::fail(impl_->path, "split " + sp.name + ": targets length differs from n");
      s.bind(1, sp.name).bind(2, pos++).bind(3, sp.n);
      bind_vec(s, 4, sp.targets);
      s.run();
    }
  });
}

std::optional<DataInfo> Store::data() const {
  LOCKED;
  Stmt q(impl_->db, impl_->path, "SELECT kind, num_classes, class_names, input_shape FROM data");
  if (!q.step()) return std::nullopt;
  DataInfo d;
  d.kind = q.text(0);
  d.num_classes = static_cast<int>(q.i64(1));
  d.class_names = parse_json(q.text(2), impl_->path).get<std::vector<std::string>>();
  d.input_shape = parse_json(q.text(3), impl_->path).get<std::vector<std::int64_t>>();
  Stmt s(impl_->db, impl_->path, "SELECT name, n, targets FROM splits ORDER BY position");
  while (s.step()) d.splits.push_back(SplitInfo{s.text(0), s.i64(1), s.blob<std::int16_t>(2)});
  return d;
}

void Store::put_thumbnails(const std::vector<Thumbnail>& thumbs) {
  transaction([&] {
    Stmt q(impl_->db, impl_->path,
           "INSERT OR REPLACE INTO thumbnails(split, example_id, channels, height, width, pixels) "
           "VALUES(?, ?, ?, ?, ?, ?)");
    for (const auto& t : thumbs) {
      if (t.pixels.size() != static_cast<std::size_t>(t.channels) * t.height * t.width)
        detail::fail(impl_->path, "thumbnail " + std::to_string(t.example_id) + ": pixel count differs from shape");
      q.bind(1, t.split).bind(2, t.example_id).bind(3, t.channels).bind(4, t.height).bind(5, t.width);
      bind_vec(q, 6, t.pixels);
      q.run();
    }
  });
}

std::vector<Thumbnail> Store::thumbnails(const std::string& split, const std::vector<std::int64_t>& ids) const {
  LOCKED;
  std::vector<Thumbnail> out;
  auto read = [&](Stmt& q) {
    while (q.step())
      out.push_back(Thumbnail{split, q.i64(0), static_cast<int>(q.i64(1)), static_cast<int>(q.i64(2)),
                              static_cast<int>(q.i64(3)), q.blob<std::uint8_t>(4)});
  };
  if (ids.empty()) {
    Stmt q(impl_->db, impl_->path,
           "SELECT example_id, channels, height, width, pixels FROM thumbnails WHERE split = ? ORDER BY example_id");
    q.bind(1, split);
    read(q);
  } else {
    Stmt q(impl_->db, impl_->path,
           "SELECT example_id, channels, height, width, pixels FROM thumbnails WHERE split = ? AND example_id = ?");
    for (auto id : ids) {
      q.bind(1, split).bind(2, id);
      read(q);
      q.reset();
    }
  }
  return out;
}

// --- cells ---------------------------------------------------------------------------------------------------------

namespace {
constexpr const char* kCellColumns =
    "cells.arm, cells.seed, cells.status, cells.error, cells.started_at, cells.finished_at, cells.records, "
    "cells.size, cells.train_seconds, cells.eval_seconds, ";
// The failure column (schema 2); a version-1 store read without migrating has none.
const char* failure_column(int version) { return version >= 2 ? "cells.failure" : "''"; }

Cell read_cell(const Stmt& q, const std::string& file) {
  Cell c;
  c.arm = q.text(0);
  c.seed = q.i64(1);
  c.status = cell_status_from_string(q.text(2)).value_or(CellStatus::pending);
  c.error = q.text(3);
  c.started_at = q.text(4);
  c.finished_at = q.text(5);
  c.records = parse_json(q.text(6), file);
  c.size = parse_json(q.text(7), file);
  c.train_seconds = q.f64(8);
  c.eval_seconds = q.f64(9);
  c.failure = c.status == CellStatus::failed
                  ? (q.text(10).empty() ? classify_failure(c.error) : failure_kind_from_string(q.text(10)))
                  : FailureKind::none;
  return c;
}
}  // namespace

void Store::put_cell(const Cell& c) {
  transaction([&] {
    Stmt q(impl_->db, impl_->path,
           "INSERT OR REPLACE INTO cells(arm, seed, status, error, started_at, finished_at, records, size, "
           "train_seconds, eval_seconds, failure) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, c.arm).bind(2, c.seed).bind(3, to_string(c.status)).bind(4, c.error).bind(5, c.started_at);
    q.bind(6, c.finished_at).bind(7, json_text(c.records)).bind(8, json_text(c.size)).bind(9, c.train_seconds);
    q.bind(10, c.eval_seconds);
    q.bind(11, c.status == CellStatus::failed ? to_string(c.failure == FailureKind::none ? classify_failure(c.error)
                                                                                        : c.failure)
                                              : "");
    q.run();
  });
}

void Store::ensure_cells(const std::vector<std::pair<std::string, std::int64_t>>& arm_seeds) {
  transaction([&] {
    Stmt q(impl_->db, impl_->path,
           "INSERT OR IGNORE INTO cells(arm, seed, status, error, started_at, finished_at, records, size, "
           "train_seconds, eval_seconds) VALUES(?, ?, 'pending', '', '', '', '[]', '{}', 0, 0)");
    for (const auto& [arm, seed] : arm_seeds) {
      q.bind(1, arm).bind(2, seed);
      q.run();
    }
  });
}

void Store::start_cell(const std::string& arm, std::int64_t seed) {
  transaction([&] {
    ensure_cells({{arm, seed}});
    Stmt q(impl_->db, impl_->path,
           "UPDATE cells SET status = 'running', error = '', started_at = ?, finished_at = '' WHERE arm = ? AND "
           "seed = ?");
    q.bind(1, now_utc()).bind(2, arm).bind(3, seed);
    q.run();
  });
}

void Store::finish_cell(const Cell& cell, const std::vector<Predictions>& predictions) {
  transaction([&] {
    for (const auto& p : predictions) put_predictions(p);
    Cell c = cell;
    c.status = CellStatus::done;
    c.error.clear();
    c.failure = FailureKind::none;
    if (c.finished_at.empty()) c.finished_at = now_utc();
    if (c.started_at.empty())
      if (auto old = this->cell(c.arm, c.seed)) c.started_at = old->started_at;
    put_cell(c);
  });
}

void Store::fail_cell(const std::string& arm, std::int64_t seed, const std::string& error, FailureKind kind) {
  transaction([&] {
    ensure_cells({{arm, seed}});
    Stmt(impl_->db, impl_->path, "DELETE FROM predictions WHERE arm = ? AND seed = ?").bind(1, arm).bind(2, seed).run();
    Stmt q(impl_->db, impl_->path,
           "UPDATE cells SET status = 'failed', error = ?, finished_at = ?, failure = ? WHERE arm = ? AND seed = ?");
    q.bind(1, error).bind(2, now_utc()).bind(3, to_string(kind == FailureKind::none ? FailureKind::plugin : kind));
    q.bind(4, arm).bind(5, seed);
    q.run();
  });
}

void Store::reset_cell(const std::string& arm, std::int64_t seed) {
  transaction([&] {
    for (const char* sql : {"DELETE FROM predictions WHERE arm = ? AND seed = ?",
                            "DELETE FROM blobs WHERE arm = ? AND seed = ?",
                            "UPDATE cells SET status = 'pending', error = '', failure = '', started_at = '', "
                            "finished_at = '', records = '[]', size = '{}', train_seconds = 0, eval_seconds = 0 "
                            "WHERE arm = ? AND seed = ?"})
      Stmt(impl_->db, impl_->path, sql).bind(1, arm).bind(2, seed).run();
  });
}

std::optional<Cell> Store::cell(const std::string& arm, std::int64_t seed) const {
  LOCKED;
  Stmt q(impl_->db, impl_->path,
         (std::string("SELECT ") + kCellColumns + failure_column(impl_->version) +
          " FROM cells WHERE arm = ? AND seed = ?").c_str());
  q.bind(1, arm).bind(2, seed);
  if (!q.step()) return std::nullopt;
  return read_cell(q, impl_->path);
}

std::vector<Cell> Store::cells(std::optional<CellStatus> status) const {
  LOCKED;
  // Arms not (yet) in the arms table sort last, by name.
  std::string sql = std::string("SELECT ") + kCellColumns + failure_column(impl_->version) +
                    " FROM cells LEFT JOIN arms ON arms.name = cells.arm WHERE (? = '' OR cells.status = ?) "
                    "ORDER BY COALESCE(arms.position, 1000000000), cells.arm, cells.seed";
  Stmt q(impl_->db, impl_->path, sql.c_str());
  std::string s = status ? to_string(*status) : "";
  q.bind(1, s).bind(2, s);
  std::vector<Cell> out;
  while (q.step()) out.push_back(read_cell(q, impl_->path));
  return out;
}

int Store::reset_running_cells() {
  int changed = 0;
  transaction([&] {
    impl_->exec("UPDATE cells SET status = 'pending', started_at = '' WHERE status = 'running'");
    changed = sqlite3_changes(impl_->db);
  });
  return changed;
}

// --- predictions ---------------------------------------------------------------------------------------------------

void Store::put_predictions(const Predictions& p) {
  const std::size_t n = p.labels.size();
  if (!p.true_prob.empty() && p.true_prob.size() != n)
    detail::fail(impl_->path, "predictions of " + p.arm + ": true_prob length differs from labels");
  if (!p.probs.empty() && (p.num_classes <= 0 || p.probs.size() != n * static_cast<std::size_t>(p.num_classes)))
    detail::fail(impl_->path, "predictions of " + p.arm + ": probs is not N x num_classes");
  // int8 when every label fits: halves the largest table for the usual <= 127 classes.
  const bool narrow =
      std::all_of(p.labels.begin(), p.labels.end(), [](std::int16_t v) { return v >= -128 && v <= 127; });
  transaction([&] {
    Stmt q(
        impl_->db, impl_->path,
        "INSERT OR REPLACE INTO predictions(arm, seed, split, n, label_bytes, labels, true_prob, num_classes, probs) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, p.arm).bind(2, p.seed).bind(3, p.split).bind(4, static_cast<std::int64_t>(n)).bind(5, narrow ? 1 : 2);
    if (narrow) {
      std::vector<std::int8_t> bytes(p.labels.begin(), p.labels.end());
      bind_vec(q, 6, bytes);
    } else {
      bind_vec(q, 6, p.labels);
    }
    if (p.true_prob.empty())
      q.bind_null(7);
    else
      bind_vec(q, 7, p.true_prob);
    q.bind(8, p.num_classes);
    if (p.probs.empty())
      q.bind_null(9);
    else
      bind_vec(q, 9, p.probs);
    q.run();
  });
}

namespace {
Predictions read_predictions(const Stmt& q, bool with_probabilities) {
  Predictions p;
  p.arm = q.text(0);
  p.seed = q.i64(1);
  p.split = q.text(2);
  if (q.i64(4) == 1) {
    auto bytes = q.blob<std::int8_t>(5);
    p.labels.assign(bytes.begin(), bytes.end());
  } else {
    p.labels = q.blob<std::int16_t>(5);
  }
  p.num_classes = static_cast<int>(q.i64(7));
  if (with_probabilities) {
    if (!q.is_null(6)) p.true_prob = q.blob<std::uint16_t>(6);
    if (!q.is_null(8)) p.probs = q.blob<std::uint16_t>(8);
  }
  return p;
}
constexpr const char* kPredColumns = "arm, seed, split, n, label_bytes, labels, true_prob, num_classes, probs";
constexpr const char* kPredColumnsLight = "arm, seed, split, n, label_bytes, labels, NULL, num_classes, NULL";
}  // namespace

std::optional<Predictions> Store::predictions(const std::string& arm, std::int64_t seed, const std::string& split,
                                              bool with_probabilities) const {
  LOCKED;
  std::string sql = std::string("SELECT ") + (with_probabilities ? kPredColumns : kPredColumnsLight) +
                    " FROM predictions WHERE arm = ? AND seed = ? AND split = ?";
  Stmt q(impl_->db, impl_->path, sql.c_str());
  q.bind(1, arm).bind(2, seed).bind(3, split);
  if (!q.step()) return std::nullopt;
  return read_predictions(q, with_probabilities);
}

std::vector<Predictions> Store::arm_predictions(const std::string& arm, const std::string& split,
                                                bool with_probabilities) const {
  LOCKED;
  std::string sql = std::string("SELECT ") + (with_probabilities ? kPredColumns : kPredColumnsLight) +
                    " FROM predictions WHERE arm = ? AND split = ? ORDER BY seed";
  Stmt q(impl_->db, impl_->path, sql.c_str());
  q.bind(1, arm).bind(2, split);
  std::vector<Predictions> out;
  while (q.step()) out.push_back(read_predictions(q, with_probabilities));
  return out;
}

// --- metrics -------------------------------------------------------------------------------------------------------

void Store::put_metric(const MetricResult& r) {
  transaction([&] {
    Stmt q(impl_->db, impl_->path,
           "INSERT OR REPLACE INTO metrics(metric_index, metric_id, arm, reference, result, error) "
           "VALUES(?, ?, ?, ?, ?, ?)");
    q.bind(1, r.metric_index).bind(2, r.metric_id).bind(3, r.arm).bind(4, r.reference).bind(5, json_text(r.result));
    q.bind(6, r.error);
    q.run();
  });
}

std::vector<MetricResult> Store::metrics() const {
  LOCKED;
  Stmt q(
      impl_->db, impl_->path,
      "SELECT metrics.metric_index, metrics.metric_id, metrics.arm, metrics.reference, metrics.result, metrics.error "
      "FROM metrics LEFT JOIN arms ON arms.name = "
      "metrics.arm ORDER BY metrics.metric_index, COALESCE(arms.position, 1000000000), metrics.arm, metrics.reference");
  std::vector<MetricResult> out;
  while (q.step()) {
    MetricResult r;
    r.metric_index = static_cast<int>(q.i64(0));
    r.metric_id = q.text(1);
    r.arm = q.text(2);
    r.reference = q.text(3);
    r.result = parse_json(q.text(4), impl_->path);
    r.error = q.text(5);
    out.push_back(std::move(r));
  }
  return out;
}

void Store::clear_metrics() {
  transaction([&] { impl_->exec("DELETE FROM metrics"); });
}

// --- memorization, blobs, log --------------------------------------------------------------------------------------

void Store::put_memorization(const std::string& split, const std::vector<float>& scores) {
  transaction([&] {
    Stmt q(impl_->db, impl_->path, "INSERT OR REPLACE INTO memorization(split, n, scores) VALUES(?, ?, ?)");
    q.bind(1, split).bind(2, static_cast<std::int64_t>(scores.size()));
    bind_vec(q, 3, scores);
    q.run();
  });
}

std::optional<std::vector<float>> Store::memorization(const std::string& split) const {
  LOCKED;
  Stmt q(impl_->db, impl_->path, "SELECT scores FROM memorization WHERE split = ?");
  q.bind(1, split);
  if (!q.step()) return std::nullopt;
  return q.blob<float>(0);
}

void Store::put_blob(const std::string& arm, std::int64_t seed, const std::string& name,
                     const std::vector<std::uint8_t>& data) {
  transaction([&] {
    Stmt q(impl_->db, impl_->path,
           "INSERT OR REPLACE INTO blobs(arm, seed, name, data, crc32) VALUES(?, ?, ?, ?, ?)");
    q.bind(1, arm).bind(2, seed).bind(3, name);
    bind_vec(q, 4, data);
    q.bind(5, crc32_of(data));
    q.run();
  });
}

std::optional<std::vector<std::uint8_t>> Store::blob(const std::string& arm, std::int64_t seed,
                                                     const std::string& name) const {
  LOCKED;
  Stmt q(impl_->db, impl_->path,
         impl_->version >= 2 ? "SELECT data, crc32 FROM blobs WHERE arm = ? AND seed = ? AND name = ?"
                             : "SELECT data, NULL FROM blobs WHERE arm = ? AND seed = ? AND name = ?");
  q.bind(1, arm).bind(2, seed).bind(3, name);
  if (!q.step()) return std::nullopt;
  std::vector<std::uint8_t> data = q.blob<std::uint8_t>(0);
  // SQLite checks its pages' structure, not the bytes inside a blob: a flipped bit in a model state would load.
  if (!q.is_null(1) && q.i64(1) != crc32_of(data))
    detail::fail(impl_->path, fmt::format("stored blob '{}' of arm {} seed {} is corrupt (CRC-32 {:08x}, stored "
                                          "{:08x}); `compaudit run --resume` recomputes the cell",
                                          name, arm, seed, crc32_of(data), q.i64(1)));
  return data;
}

std::vector<BlobKey> Store::corrupt_blobs() const {
  LOCKED;
  std::vector<BlobKey> out;
  if (impl_->version < 2) return out;
  Stmt q(impl_->db, impl_->path, "SELECT arm, seed, name, data, crc32 FROM blobs WHERE crc32 IS NOT NULL");
  while (q.step())
    if (crc32_of(q.blob<std::uint8_t>(3)) != q.i64(4)) out.push_back(BlobKey{q.text(0), q.i64(1), q.text(2)});
  return out;
}

void Store::log(const std::string& level, const std::string& text) {
  transaction([&] {
    Stmt(impl_->db, impl_->path, "INSERT INTO log(time, level, text) VALUES(?, ?, ?)")
        .bind(1, now_utc())
        .bind(2, level)
        .bind(3, text)
        .run();
  });
}

std::vector<LogLine> Store::log_lines() const {
  LOCKED;
  Stmt q(impl_->db, impl_->path, "SELECT time, level, text FROM log ORDER BY id");
  std::vector<LogLine> out;
  while (q.step()) out.push_back(LogLine{q.text(0), q.text(1), q.text(2)});
  return out;
}

}  // namespace compaudit::store
