// LocalStore: SQLite for durability, a contiguous matrix for exact search, hnswlib above the ANN
// threshold. See ragperf/local_store.h for the contract.
#include "ragperf/local_store.h"
#include "store/chunk_checks.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "base/distance.h"
#include "base/utf8.h"
#include "ragperf/error.h"
#include "ragperf/filter.h"
#include "ragperf/runtime.h"
#include "store/filter_sql.h"
#include "store/hnswlib_private.h"
#include "store/sqlite.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;
namespace hnswlib = ragperf_store_hnsw::hnswlib;
using store::Sqlite;
using store::Statement;
using store::Transaction;

constexpr int kSchemaVersion = 1;
constexpr size_t kMaxDim = 65536;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ragperf_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections(
  name TEXT PRIMARY KEY, dim INTEGER NOT NULL, metric TEXT NOT NULL, model_id TEXT NOT NULL,
  n INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS chunks(
  rid INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, id TEXT NOT NULL,
  text TEXT NOT NULL, metadata TEXT NOT NULL, content_hash TEXT NOT NULL, source TEXT NOT NULL,
  embedding BLOB NOT NULL, UNIQUE(collection, id));
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(collection, source);
CREATE TABLE IF NOT EXISTS sources(
  collection TEXT NOT NULL, source TEXT NOT NULL, hash TEXT NOT NULL,
  PRIMARY KEY(collection, source));
CREATE TABLE IF NOT EXISTS text_search(collection TEXT PRIMARY KEY);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  text, content='chunks', content_rowid='rid', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks
  WHEN EXISTS (SELECT 1 FROM text_search WHERE collection = new.collection)
  BEGIN INSERT INTO chunks_fts(rowid, text) VALUES (new.rid, new.text); END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks
  WHEN EXISTS (SELECT 1 FROM text_search WHERE collection = old.collection)
  BEGIN INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.rid, old.text); END;
)sql";

/// The FTS5 query for `text`: each word (a run of ASCII letters and digits, or of non-ASCII
/// UTF-8 bytes) as a quoted string, OR-ed, at most 64 of them; "" when there is none. No text
/// can make a query FTS5 rejects.
std::string fts5_query(std::string_view text) {
  std::string out;
  size_t words = 0;
  auto word_byte = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
  for (size_t i = 0; i < text.size() && words < 64;) {
    if (!word_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && word_byte(static_cast<unsigned char>(text[end]))) ++end;
    if (words++) out += " OR ";
    out += '"';
    out.append(text.substr(i, end - i));
    out += '"';
    i = end;
  }
  return out;
}

std::string unknown_collection(const std::string& name) {
  return "table '" + name +
         "' does not exist in the local store; ingest into it first (ragperf ingest PATH --table " +
         name + ")";
}

float norm_of(std::span<const float> v) {
  return static_cast<float>(std::sqrt(base::squared_norm(v.data(), v.size())));
}

/// Row-major [rows, dim] vectors (normalised for cosine) and the SQLite rowid of each row.
struct Matrix {
  size_t dim = 0;
  std::vector<int64_t> rids;
  std::vector<float> data;
  std::unordered_map<int64_t, size_t> pos;

  void add(int64_t rid, const float* v) {
    pos[rid] = rids.size();
    rids.push_back(rid);
    data.insert(data.end(), v, v + dim);
  }
  void remove(int64_t rid) {
    auto it = pos.find(rid);
    if (it == pos.end()) return;
    size_t i = it->second;
    size_t last = rids.size() - 1;
    if (i != last) {
      std::memcpy(data.data() + i * dim, data.data() + last * dim, dim * sizeof(float));
      rids[i] = rids[last];
      pos[rids[i]] = i;
    }
    rids.pop_back();
    data.resize(last * dim);
    pos.erase(it);
  }
};

struct CollectionRow {
  CollectionInfo info;
  int64_t generation = 0;
};

/// In-memory structures of one collection. Guarded by Impl::mu.
struct State {
  size_t dim = 0;
  Metric metric = Metric::kCosine;
  int64_t generation = -1;  // generation of the store these structures reflect
  std::unique_ptr<Matrix> matrix;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  size_t hnsw_live = 0;     // points not marked deleted
  size_t hnsw_deleted = 0;  // points marked deleted
  bool hnsw_dirty = false;  // differs from the file on disk
};

struct Candidate {
  float score;
  int64_t rid;
};

}  // namespace

struct LocalStore::Impl {
  fs::path folder;
  LocalStoreOptions options;
  std::shared_ptr<Runtime> runtime;  // options.runtime or Runtime::shared()
  std::mutex db_mu;  // guards db (one connection, prepared statements are not shared)
  std::unique_ptr<Sqlite> db;
  std::shared_mutex mu;  // guards states; writers hold it exclusively for the whole write
  std::map<std::string, std::unique_ptr<State>> states;
  static constexpr size_t kMatchSets = 64;
  std::mutex match_mu;  // guards match_sets
  std::map<std::string, std::shared_ptr<const std::vector<int64_t>>> match_sets;  // matching()

  // ---- catalogue -------------------------------------------------------------------------

  std::optional<CollectionRow> read_collection(const std::string& name) {
    std::lock_guard lock(db_mu);
    auto st =
        db->prepare("SELECT dim, metric, model_id, n, generation FROM collections WHERE name=?");
    st.bind(1, name);
    if (!st.step()) return std::nullopt;
    CollectionRow row;
    row.info.name = name;
    row.info.dim = static_cast<size_t>(st.int64(0));
    row.info.metric = parse_metric(st.text(1));
    row.info.model_id = st.text(2);
    row.info.count = static_cast<size_t>(st.int64(3));
    row.generation = st.int64(4);
    return row;
  }

  CollectionRow require_collection(const std::string& name) {
    validate_identifier(name, "table");
    auto row = read_collection(name);
    if (!row) throw InputError(unknown_collection(name));
    return *row;
  }

  fs::path index_path(const std::string& name) const { return folder / (name + ".hnsw"); }
  fs::path index_meta_path(const std::string& name) const { return folder / (name + ".hnsw.json"); }

  // ---- in-memory structures --------------------------------------------------------------

  State& state_for(const CollectionRow& row) {
    auto& slot = states[row.info.name];
    if (!slot || slot->dim != row.info.dim || slot->metric != row.info.metric) {
      slot = std::make_unique<State>();
      slot->dim = row.info.dim;
      slot->metric = row.info.metric;
    }
    return *slot;
  }

  /// Copies `v` into `out`, normalised when the metric is cosine. False for a zero vector under
  /// cosine (it has no direction).
  static bool prepare_vector(Metric metric, std::span<const float> v, float* out) {
    std::copy(v.begin(), v.end(), out);
    if (metric != Metric::kCosine) return true;
    float n = norm_of(v);
    if (n == 0) return false;
    for (size_t i = 0; i < v.size(); ++i) out[i] /= n;
    return true;
  }

  void load_matrix(State& s, const std::string& name) {
    auto m = std::make_unique<Matrix>();
    m->dim = s.dim;
    std::vector<float> tmp(s.dim);
    std::lock_guard lock(db_mu);
    auto st = db->prepare("SELECT rid, embedding FROM chunks WHERE collection=? ORDER BY rid");
    st.bind(1, name);
    while (st.step()) {
      size_t n = 0;
      const float* v = st.floats(1, &n);
      if (n != s.dim) {
        throw InputError("local store " + db->path().string() + ": a vector of table '" + name +
                         "' has " + std::to_string(n) + " floats, expected " +
                         std::to_string(s.dim) + "; the store is damaged, re-ingest the table");
      }
      prepare_vector(s.metric, {v, n}, tmp.data());
      m->add(st.int64(0), tmp.data());
    }
    s.matrix = std::move(m);
  }

  std::unique_ptr<hnswlib::SpaceInterface<float>> make_space(const State& s) const {
    if (s.metric == Metric::kL2) return std::make_unique<hnswlib::L2Space>(s.dim);
    return std::make_unique<hnswlib::InnerProductSpace>(s.dim);
  }

  /// Every rowid of the collection with its vector, streamed to `fn(rid, prepared vector)`.
  template <typename Fn>
  void for_each_vector(const State& s, const std::string& name, const std::string& where,
                       int64_t bound, Fn&& fn) {
    std::vector<float> tmp(s.dim);
    std::lock_guard lock(db_mu);
    auto st = db->prepare("SELECT rid, embedding FROM chunks WHERE collection=?" + where);
    st.bind(1, name);
    if (!where.empty()) st.bind(2, bound);
    while (st.step()) {
      size_t n = 0;
      const float* v = st.floats(1, &n);
      if (n != s.dim) continue;  // load_matrix reports damage; the index skips the row
      prepare_vector(s.metric, {v, n}, tmp.data());
      fn(st.int64(0), tmp.data());
    }
  }

  void build_hnsw(State& s, const std::string& name, size_t n_hint) {
    // Gather first (under the db lock), then insert in parallel without it.
    std::vector<int64_t> rids;
    std::vector<float> data;
    rids.reserve(n_hint);
    data.reserve(n_hint * s.dim);
    for_each_vector(s, name, "", 0, [&](int64_t rid, const float* v) {
      rids.push_back(rid);
      data.insert(data.end(), v, v + s.dim);
    });
    s.space = make_space(s);
    size_t capacity = std::max<size_t>(rids.size() + rids.size() / 4, 1024);
    s.hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        s.space.get(), capacity, options.hnsw_m, options.hnsw_ef_construction, 100);
    insert_points(s, rids, data.data());
    s.hnsw->setEf(10);  // per-query ef is applied by asking searchKnn for max(k, ef) results
    s.hnsw_live = rids.size();
    s.hnsw_deleted = 0;
    s.hnsw_dirty = true;
  }

  /// Adds rows [n, dim] (labels `rids`) to the index, on every core when there are many.
  /// hnswlib's addPoint is thread-safe; exceptions are captured per thread and rethrown.
  void insert_points(State& s, const std::vector<int64_t>& rids, const float* data) {
    if (rids.empty()) return;
    reserve_hnsw(s, rids.size());
    size_t start = 0;
    if (s.hnsw->cur_element_count == 0) {
      // The first point alone, so that every thread starts from a non-empty graph.
      s.hnsw->addPoint(data, static_cast<hnswlib::labeltype>(rids[0]));
      start = 1;
    }
    // On the Runtime's compute pool (the caller included), never threads of our own.
    const size_t threads = rids.size() < 2000 ? 1 : runtime->compute_threads();
    std::atomic<size_t> next{start};
    std::exception_ptr error;
    std::mutex error_mu;
    auto work = [&] {
      try {
        for (size_t i = next++; i < rids.size(); i = next++) {
          s.hnsw->addPoint(data + i * s.dim, static_cast<hnswlib::labeltype>(rids[i]));
        }
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
      }
    };
    if (threads == 1) {
      work();
    } else {
      runtime->parallel_for(threads, [&](size_t) { work(); });
    }
    if (error) std::rethrow_exception(error);
  }

  /// Loads `<name>.hnsw` when its record matches, then reconciles it with the rows in SQLite
  /// (another process may have written since). False when there is nothing usable on disk.
  bool load_hnsw(State& s, const std::string& name) {
    fs::path file = index_path(name);
    fs::path meta_file = index_meta_path(name);
    std::error_code ec;
    if (!fs::exists(file, ec) || !fs::exists(meta_file, ec)) return false;
    try {
      std::ifstream in(meta_file);
      nlohmann::json meta = nlohmann::json::parse(in);
      if (meta.at("dim").get<size_t>() != s.dim ||
          meta.at("metric").get<std::string>() != to_string(s.metric) ||
          meta.at("bytes").get<uintmax_t>() != fs::file_size(file) ||
          meta.at("m").get<size_t>() != options.hnsw_m) {
        return false;
      }
      s.space = make_space(s);
      s.hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(s.space.get(), file.string());
    } catch (const std::exception&) {
      s.hnsw.reset();
      return false;  // unreadable or from another layout: rebuilt by the caller
    }
    s.hnsw->setEf(10);
    // Reconcile: drop points whose rows are gone, add rows the index lacks.
    std::unordered_set<int64_t> rows;
    {
      std::lock_guard lock(db_mu);
      auto st = db->prepare("SELECT rid FROM chunks WHERE collection=?");
      st.bind(1, name);
      while (st.step()) rows.insert(st.int64(0));
    }
    size_t live = 0, deleted = 0;
    bool changed = false;
    for (const auto& [label, internal] : s.hnsw->label_lookup_) {
      if (s.hnsw->isMarkedDeleted(internal)) {
        ++deleted;
      } else if (!rows.count(static_cast<int64_t>(label))) {
        s.hnsw->markDelete(label);
        ++deleted;
        changed = true;
      } else {
        ++live;
      }
    }
    std::vector<int64_t> missing;
    for (int64_t rid : rows) {
      if (!s.hnsw->label_lookup_.count(static_cast<hnswlib::labeltype>(rid)))
        missing.push_back(rid);
    }
    if (!missing.empty()) {
      std::sort(missing.begin(), missing.end());
      std::unordered_set<int64_t> wanted(missing.begin(), missing.end());
      std::vector<int64_t> rids;
      std::vector<float> data;
      for_each_vector(s, name, " AND rid>=?", missing.front(), [&](int64_t rid, const float* v) {
        if (wanted.count(rid)) {
          rids.push_back(rid);
          data.insert(data.end(), v, v + s.dim);
        }
      });
      insert_points(s, rids, data.data());
      live += rids.size();
      changed = true;
    }
    s.hnsw_live = live;
    s.hnsw_deleted = deleted;
    s.hnsw_dirty = changed;
    return true;
  }

  void reserve_hnsw(State& s, size_t extra) {
    size_t need = s.hnsw->cur_element_count + extra;
    if (need > s.hnsw->max_elements_) s.hnsw->resizeIndex(std::max(need, need + need / 2));
  }

  void save_hnsw(State& s, const std::string& name) {
    if (!s.hnsw || !s.hnsw_dirty || !options.persist_index) return;
    fs::path file = index_path(name);
    fs::path tmp = file;
    tmp += ".tmp";
    s.hnsw->saveIndex(tmp.string());
    nlohmann::json meta = {{"dim", s.dim},
                           {"metric", to_string(s.metric)},
                           {"m", options.hnsw_m},
                           {"generation", s.generation},
                           {"bytes", fs::file_size(tmp)}};
    fs::path meta_tmp = index_meta_path(name);
    meta_tmp += ".tmp";
    {
      std::ofstream out(meta_tmp, std::ios::trunc);
      out << meta.dump() << "\n";
      if (!out) throw InputError("cannot write " + meta_tmp.string() + ": disk full?");
    }
    // Meta first: a crash between the renames leaves a size mismatch, so the file is rebuilt.
    fs::remove(index_meta_path(name));
    fs::rename(tmp, file);
    fs::rename(meta_tmp, index_meta_path(name));
    s.hnsw_dirty = false;
  }

  /// Makes `s` reflect generation `row.generation`, with the structures a search needs.
  /// Caller holds `mu` exclusively.
  void sync(State& s, const CollectionRow& row, bool need_matrix, bool need_hnsw) {
    const std::string& name = row.info.name;
    if (s.generation != row.generation) {
      // Changed by another process (or first use): rebuild the matrix, reconcile the index.
      s.matrix.reset();
      if (s.hnsw) {
        s.hnsw.reset();
        s.space.reset();
      }
      s.generation = row.generation;
    }
    if (need_matrix && !s.matrix) load_matrix(s, name);
    if (need_hnsw && !s.hnsw) {
      if (!load_hnsw(s, name)) build_hnsw(s, name, row.info.count);
      if (s.hnsw_deleted > s.hnsw_live / 3) build_hnsw(s, name, row.info.count);
      save_hnsw(s, name);
    }
  }

  // ---- writes ----------------------------------------------------------------------------

  struct Change {
    std::vector<int64_t> removed;
    std::vector<std::pair<int64_t, size_t>> added;  // rid, index into chunks
  };

  void validate_chunks(const CollectionRow& row, std::span<const Chunk> chunks) {
    store::validate_chunks(row.info, chunks);
  }

  /// Inserts chunks inside an open transaction; records replaced and added rowids.
  void insert_chunks(const std::string& name, std::span<const Chunk> chunks,
                     const std::string* source_override, Change& change) {
    auto find = db->prepare("SELECT rid FROM chunks WHERE collection=? AND id=?");
    auto del = db->prepare("DELETE FROM chunks WHERE rid=?");
    auto ins = db->prepare(
        "INSERT INTO chunks(collection, id, text, metadata, content_hash, source, embedding) "
        "VALUES(?,?,?,?,?,?,?)");
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Chunk& c = chunks[i];
      find.bind(1, name);
      find.bind(2, c.id);
      if (find.step()) {
        int64_t old = find.int64(0);
        find.reset();
        del.bind(1, old);
        del.run();
        change.removed.push_back(old);
      } else {
        find.reset();
      }
      ins.bind(1, name);
      ins.bind(2, c.id);
      ins.bind(3, c.text);
      ins.bind(4, c.metadata_json.empty() ? std::string_view("{}") : c.metadata_json);
      ins.bind(5, c.content_hash);
      ins.bind(6, source_override ? *source_override : c.source);
      ins.bind_blob(7, c.embedding);
      ins.run();
      change.added.emplace_back(db->last_insert_rowid(), i);
    }
  }

  void bump(const std::string& name) {
    auto st = db->prepare(
        "UPDATE collections SET generation=generation+1, "
        "n=(SELECT count(*) FROM chunks WHERE collection=?1) WHERE name=?1");
    st.bind(1, name);
    st.run();
  }

  /// Applies a committed change to the in-memory structures when they were current.
  void apply(const CollectionRow& row, std::span<const Chunk> chunks, const Change& change) {
    auto it = states.find(row.info.name);
    if (it == states.end()) return;
    State& s = *it->second;
    if (s.generation != row.generation) return;  // stale anyway: the next search resyncs
    std::vector<float> tmp(s.dim);
    for (int64_t rid : change.removed) {
      if (s.matrix) s.matrix->remove(rid);
      if (s.hnsw) {
        auto f = s.hnsw->label_lookup_.find(static_cast<hnswlib::labeltype>(rid));
        if (f != s.hnsw->label_lookup_.end() && !s.hnsw->isMarkedDeleted(f->second)) {
          s.hnsw->markDelete(static_cast<hnswlib::labeltype>(rid));
          ++s.hnsw_deleted;
          --s.hnsw_live;
          s.hnsw_dirty = true;
        }
      }
    }
    std::vector<int64_t> rids;
    std::vector<float> data;
    for (const auto& [rid, index] : change.added) {
      prepare_vector(s.metric, chunks[index].embedding, tmp.data());
      if (s.matrix) s.matrix->add(rid, tmp.data());
      if (s.hnsw) {
        rids.push_back(rid);
        data.insert(data.end(), tmp.begin(), tmp.end());
      }
    }
    if (s.hnsw && !rids.empty()) {
      insert_points(s, rids, data.data());
      s.hnsw_live += rids.size();
      s.hnsw_dirty = true;
    }
    s.generation = row.generation + 1;
  }

  template <typename Body>
  void write(const std::string& name, std::span<const Chunk> chunks, Body&& body) {
    std::unique_lock lock(mu);
    CollectionRow row = require_collection(name);
    validate_chunks(row, chunks);
    Change change;
    {
      std::lock_guard db_lock(db_mu);
      Transaction tx(*db);
      // Re-read inside the transaction: another process may have written since.
      auto st = db->prepare("SELECT generation FROM collections WHERE name=?");
      st.bind(1, name);
      if (!st.step()) throw InputError(unknown_collection(name));
      row.generation = st.int64(0);
      st.reset();
      body(change);
      bump(name);
      tx.commit();
    }
    apply(row, chunks, change);
  }

  // ---- search ----------------------------------------------------------------------------

  /// The best k candidates offered, kept in a heap ordered by `better` (its front is the worst
  /// candidate kept so far).
  struct TopK {
    explicit TopK(size_t wanted) : k(wanted) { heap.reserve(wanted + 1); }
    static bool better(const Candidate& a, const Candidate& b) {
      return a.score > b.score || (a.score == b.score && a.rid < b.rid);
    }
    void offer(Candidate c) {
      if (heap.size() < k) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(c, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = c;
        std::push_heap(heap.begin(), heap.end(), better);
      }
    }
    size_t k;
    std::vector<Candidate> heap;
  };

  std::vector<Candidate> exact_search(const State& s, const float* q, size_t k) const {
    const Matrix& m = *s.matrix;
    TopK top(k);
    // Scores are computed a block of rows at a time by the distance kernels (base/distance.h),
    // then offered to the heap.
    constexpr size_t kBlock = 256;
    float scores[kBlock];
    const size_t n = m.rids.size();
    for (size_t start = 0; start < n; start += kBlock) {
      const size_t rows = std::min(kBlock, n - start);
      const float* block = m.data.data() + start * s.dim;
      if (s.metric == Metric::kL2) {
        base::l2_squared_rows(q, block, rows, s.dim, scores);
        for (size_t i = 0; i < rows; ++i) scores[i] = -std::sqrt(scores[i]);
      } else {
        base::dot_rows(q, block, rows, s.dim, scores);
      }
      for (size_t i = 0; i < rows; ++i) top.offer({scores[i], m.rids[start + i]});
    }
    return std::move(top.heap);
  }

  /// Exact search over the rows `rids` (sorted; rows no longer in the matrix are skipped).
  std::vector<Candidate> exact_subset(const State& s, const float* q, size_t k,
                                      const std::vector<int64_t>& rids) const {
    const Matrix& m = *s.matrix;
    TopK top(k);
    for (int64_t rid : rids) {
      auto it = m.pos.find(rid);
      if (it == m.pos.end()) continue;
      const float* row = m.data.data() + it->second * s.dim;
      const float score = s.metric == Metric::kL2 ? -std::sqrt(base::l2_squared(q, row, s.dim))
                                                  : base::dot(q, row, s.dim);
      top.offer({score, rid});
    }
    return std::move(top.heap);
  }

  /// HNSW search for a filter matching `rids` (sorted) of `total` rows: the index is asked for
  /// max(k, ef) candidates times the inverse selectivity (x1.5), and the matching ones are kept.
  /// When fewer than min(k, rids.size()) survive, exact search over `rids` answers instead, so a
  /// filtered search never comes back short.
  std::vector<Candidate> ann_filtered(const State& s, const float* q, size_t k, size_t ef,
                                      const std::vector<int64_t>& rids, size_t total) const {
    const double inverse = static_cast<double>(total) / static_cast<double>(rids.size());
    const auto want = static_cast<size_t>(
        std::min<double>(static_cast<double>(total),
                         std::ceil(static_cast<double>(std::max(k, ef)) * inverse * 1.5)));
    std::vector<Candidate> kept;
    for (const Candidate& c : ann_search(s, q, want, want)) {
      if (std::binary_search(rids.begin(), rids.end(), c.rid)) kept.push_back(c);
    }
    if (kept.size() < std::min(k, rids.size())) return exact_subset(s, q, k, rids);
    return kept;
  }

  // ---- filters ---------------------------------------------------------------------------

  /// The rowids (sorted) of `row`'s chunks that `filter` accepts, at the row's generation. The
  /// last kMatchSets sets are kept, so repeating a filter skips SQLite.
  std::shared_ptr<const std::vector<int64_t>> matching(const CollectionRow& row,
                                                       const Filter& filter) {
    const std::string key =
        row.info.name + '\n' + std::to_string(row.generation) + '\n' + filter.canonical();
    {
      std::lock_guard lock(match_mu);
      if (auto it = match_sets.find(key); it != match_sets.end()) return it->second;
    }
    const store::FilterSql sql = store::sqlite_filter(filter, 2);
    auto rids = std::make_shared<std::vector<int64_t>>();
    {
      std::lock_guard lock(db_mu);
      auto st = db->prepare("SELECT rid FROM chunks WHERE collection=?1 AND " + sql.condition +
                            " ORDER BY rid");
      st.bind(1, row.info.name);
      for (size_t i = 0; i < sql.params.size(); ++i) {
        const int at = static_cast<int>(i) + 2;
        if (sql.params[i].is_number) {
          st.bind_double(at, sql.params[i].number);
        } else {
          st.bind(at, sql.params[i].text);
        }
      }
      while (st.step()) rids->push_back(st.int64(0));
    }
    std::lock_guard lock(match_mu);
    if (match_sets.size() >= kMatchSets) match_sets.clear();
    match_sets.emplace(key, rids);
    return rids;
  }

  std::vector<Candidate> ann_search(const State& s, const float* q, size_t k, size_t ef) const {
    size_t want = std::max(k, ef);
    auto result = s.hnsw->searchKnn(q, want);
    std::vector<Candidate> out;
    out.reserve(result.size());
    while (!result.empty()) {
      auto [d, label] = result.top();
      result.pop();
      float score = s.metric == Metric::kL2 ? -std::sqrt(std::max(d, 0.0f)) : 1.0f - d;
      out.push_back({score, static_cast<int64_t>(label)});
    }
    return out;
  }

  std::vector<Hit> fetch_hits(const std::string& name, std::vector<Candidate> found, size_t k) {
    std::vector<Hit> hits;
    hits.reserve(found.size());
    {
      std::lock_guard lock(db_mu);
      auto st = db->prepare("SELECT id, text, metadata, source FROM chunks WHERE rid=?");
      for (const Candidate& c : found) {
        st.bind(1, c.rid);
        if (st.step()) {
          Hit h;
          h.id = st.text(0);
          h.text = st.text(1);
          h.metadata_json = st.text(2);
          h.source = st.text(3);
          h.score = c.score;
          h.source_table = name;
          hits.push_back(std::move(h));
        }
        st.reset();
      }
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      return a.score > b.score || (a.score == b.score && a.id < b.id);
    });
    if (hits.size() > k) hits.resize(k);
    return hits;
  }
};

LocalStore::LocalStore(const std::filesystem::path& folder, LocalStoreOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->folder = folder;
  impl_->options = options;
  impl_->runtime = options.runtime ? options.runtime : Runtime::shared();
  std::error_code ec;
  if (fs::exists(folder, ec) && !fs::is_directory(folder, ec)) {
    throw InputError("local store path " + folder.string() +
                     " is a file, not a folder; point RAGPERF_HOME elsewhere or move it aside");
  }
  fs::create_directories(folder, ec);
  if (ec) {
    throw InputError("cannot create local store folder " + folder.string() + ": " + ec.message() +
                     "; set RAGPERF_HOME to a writable folder");
  }
  fs::path file = folder / "store.sqlite3";
  impl_->db = std::make_unique<Sqlite>(file);
  Sqlite& db = *impl_->db;
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=FULL");
  db.exec("PRAGMA foreign_keys=ON");
  {
    Transaction tx(db);
    db.exec(kSchema);
    auto st = db.prepare("SELECT value FROM ragperf_meta WHERE key='schema_version'");
    if (st.step()) {
      std::string v = st.text(0);
      if (v != std::to_string(kSchemaVersion)) {
        throw InputError("local store " + file.string() + " has schema version " + v +
                         ", this ragperf reads version " + std::to_string(kSchemaVersion) +
                         "; use a matching ragperf or move the store aside");
      }
    } else {
      st.reset();
      db.exec("INSERT INTO ragperf_meta(key, value) VALUES('schema_version', '" +
              std::to_string(kSchemaVersion) + "')");
    }
    tx.commit();
  }
}

LocalStore::~LocalStore() {
  try {
    flush();
  } catch (...) {
    // The index is an accelerator: losing it costs a rebuild on the next open, never data.
  }
}

const std::filesystem::path& LocalStore::folder() const {
  return impl_->folder;
}

std::string LocalStore::describe() const {
  return "local store at " + impl_->folder.string();
}

CollectionInfo LocalStore::ensure_collection(const std::string& name, size_t dim, Metric metric,
                                             const std::string& model_id) {
  validate_identifier(name, "table");
  if (dim == 0 || dim > kMaxDim) {
    throw InputError("dimension " + std::to_string(dim) + " for table '" + name +
                     "' is out of range (1.." + std::to_string(kMaxDim) + ")");
  }
  std::unique_lock lock(impl_->mu);
  if (auto row = impl_->read_collection(name)) {
    const CollectionInfo& info = row->info;
    if (info.dim != dim || info.model_id != model_id) {
      throw InputError("table " + name + " was ingested with model " + info.model_id + " (dim " +
                       std::to_string(info.dim) + "); query it with --model " + info.model_id +
                       " or re-ingest (this model: " + model_id + ", dim " + std::to_string(dim) +
                       ")");
    }
    if (info.metric != metric) {
      throw InputError("table " + name + " uses metric " + to_string(info.metric) + ", not " +
                       to_string(metric) + "; use " + to_string(info.metric) + " or another table");
    }
    return info;
  }
  std::lock_guard db_lock(impl_->db_mu);
  auto st = impl_->db->prepare(
      "INSERT INTO collections(name, dim, metric, model_id) VALUES(?,?,?,?) "
      "ON CONFLICT(name) DO NOTHING");
  st.bind(1, name);
  st.bind(2, static_cast<int64_t>(dim));
  st.bind(3, to_string(metric));
  st.bind(4, model_id);
  st.run();
  return CollectionInfo{name, dim, metric, model_id, 0};
}

std::optional<CollectionInfo> LocalStore::collection(const std::string& name) {
  validate_identifier(name, "table");
  auto row = impl_->read_collection(name);
  if (!row) return std::nullopt;
  return row->info;
}

std::vector<CollectionInfo> LocalStore::collections() {
  std::vector<CollectionInfo> out;
  std::lock_guard lock(impl_->db_mu);
  auto st =
      impl_->db->prepare("SELECT name, dim, metric, model_id, n FROM collections ORDER BY name");
  while (st.step()) {
    out.push_back(CollectionInfo{st.text(0), static_cast<size_t>(st.int64(1)),
                                 parse_metric(st.text(2)), st.text(3),
                                 static_cast<size_t>(st.int64(4))});
  }
  return out;
}

std::optional<std::string> LocalStore::source_hash(const std::string& collection,
                                                   const std::string& source) {
  impl_->require_collection(collection);
  std::lock_guard lock(impl_->db_mu);
  auto st = impl_->db->prepare("SELECT hash FROM sources WHERE collection=? AND source=?");
  st.bind(1, collection);
  st.bind(2, source);
  if (!st.step()) return std::nullopt;
  return st.text(0);
}

void LocalStore::replace_source(const std::string& collection, const std::string& source,
                                const std::string& source_hash, std::span<const Chunk> chunks) {
  impl_->write(collection, chunks, [&](Impl::Change& change) {
    Sqlite& db = *impl_->db;
    auto old = db.prepare("SELECT rid FROM chunks WHERE collection=? AND source=?");
    old.bind(1, collection);
    old.bind(2, source);
    while (old.step()) change.removed.push_back(old.int64(0));
    old.reset();
    auto del = db.prepare("DELETE FROM chunks WHERE collection=? AND source=?");
    del.bind(1, collection);
    del.bind(2, source);
    del.run();
    impl_->insert_chunks(collection, chunks, &source, change);
    auto rec = db.prepare(
        "INSERT INTO sources(collection, source, hash) VALUES(?,?,?) "
        "ON CONFLICT(collection, source) DO UPDATE SET hash=excluded.hash");
    rec.bind(1, collection);
    rec.bind(2, source);
    rec.bind(3, source_hash);
    rec.run();
  });
}

size_t LocalStore::remove_source(const std::string& collection, const std::string& source) {
  size_t removed = 0;
  impl_->write(collection, {}, [&](Impl::Change& change) {
    Sqlite& db = *impl_->db;
    auto old = db.prepare("SELECT rid FROM chunks WHERE collection=? AND source=?");
    old.bind(1, collection);
    old.bind(2, source);
    while (old.step()) change.removed.push_back(old.int64(0));
    old.reset();
    auto del = db.prepare("DELETE FROM chunks WHERE collection=? AND source=?");
    del.bind(1, collection);
    del.bind(2, source);
    del.run();
    auto rec = db.prepare("DELETE FROM sources WHERE collection=? AND source=?");
    rec.bind(1, collection);
    rec.bind(2, source);
    rec.run();
    removed = change.removed.size();
  });
  return removed;
}

std::vector<std::string> LocalStore::list_sources(const std::string& collection) {
  validate_identifier(collection, "table");
  if (!impl_->read_collection(collection)) return {};
  std::vector<std::string> out;
  std::lock_guard lock(impl_->db_mu);
  auto st = impl_->db->prepare(
      "SELECT source FROM sources WHERE collection=?1 AND source<>'' UNION "
      "SELECT DISTINCT source FROM chunks WHERE collection=?1 AND source<>''");
  st.bind(1, collection);
  while (st.step()) out.push_back(st.text(0));
  std::sort(out.begin(), out.end());
  return out;
}

void LocalStore::add(const std::string& collection, std::span<const Chunk> chunks) {
  if (chunks.empty()) {
    impl_->require_collection(collection);
    return;
  }
  impl_->write(collection, chunks, [&](Impl::Change& change) {
    impl_->insert_chunks(collection, chunks, nullptr, change);
  });
}

boost::asio::awaitable<std::vector<Hit>> LocalStore::async_search(std::string collection,
                                                                  std::vector<float> query,
                                                                  SearchOptions options) {
  auto scan = [this, c = std::move(collection), q = std::move(query), options] {
    return search(c, q, options);
  };
  co_return co_await impl_->runtime->on_compute(std::move(scan));
}

boost::asio::awaitable<std::vector<SearchResult>> LocalStore::async_search_batch(
    std::string collection, std::vector<std::vector<float>> queries, SearchOptions options) {
  if (queries.empty()) co_return std::vector<SearchResult>{};
  auto scan = [this, c = std::move(collection), qs = std::move(queries), options] {
    std::vector<std::span<const float>> spans(qs.begin(), qs.end());
    return search_each(c, spans, options);
  };
  co_return co_await impl_->runtime->on_compute(std::move(scan));
}

std::vector<SearchResult> LocalStore::search_batch(const std::string& collection,
                                                   std::span<const std::span<const float>> queries,
                                                   const SearchOptions& options) {
  return search_each(collection, queries, options);
}

std::vector<Hit> LocalStore::search(const std::string& collection, std::span<const float> query,
                                    const SearchOptions& options) {
  CollectionRow row = impl_->require_collection(collection);
  if (options.top_k == 0) throw InputError("top_k must be at least 1");
  if (query.size() != row.info.dim) {
    throw InputError("query vector has dim " + std::to_string(query.size()) + " but table " +
                     collection + " was ingested with model " + row.info.model_id + " (dim " +
                     std::to_string(row.info.dim) + "); query it with --model " +
                     row.info.model_id + " or re-ingest");
  }
  store::check_finite(query, "query vector");
  if (options.ef_search < 0) throw InputError("ef_search must be >= 0");
  std::vector<float> q(row.info.dim);
  if (!Impl::prepare_vector(row.info.metric, query, q.data())) return {};  // zero under cosine
  if (row.info.count == 0) return {};

  // A filter: its matching rows first (SQLite), then exact search over them when they are few
  // (filter_exact_max) or the search is exact, else the HNSW index with over-fetching.
  const Filter filter = Filter::parse(options.where);
  std::shared_ptr<const std::vector<int64_t>> matches;
  auto decide = [&] {
    if (!filter.empty()) matches = impl_->matching(row, filter);
    return !options.exact && row.info.count >= impl_->options.ann_threshold &&
           (!matches || matches->size() > impl_->options.filter_exact_max);
  };
  bool use_ann = decide();
  if (matches && matches->empty()) return {};
  size_t ef = options.ef_search > 0 ? static_cast<size_t>(options.ef_search)
                                    : impl_->options.hnsw_ef_search;
  std::vector<Candidate> found;
  bool done = false;
  // A filtered search may fall back to exact search over its matches: it needs the matrix too.
  auto need_matrix = [&] { return !use_ann || matches != nullptr; };
  auto ready = [&](const State* s) {
    return s && s->generation == row.generation && (!use_ann || s->hnsw) &&
           (!need_matrix() || s->matrix);
  };
  auto run = [&](const State& s) {
    if (!matches) {
      found = use_ann ? impl_->ann_search(s, q.data(), options.top_k, ef)
                      : impl_->exact_search(s, q.data(), options.top_k);
    } else {
      found = use_ann
                  ? impl_->ann_filtered(s, q.data(), options.top_k, ef, *matches, row.info.count)
                  : impl_->exact_subset(s, q.data(), options.top_k, *matches);
    }
    done = true;
  };
  {
    std::shared_lock lock(impl_->mu);
    auto it = impl_->states.find(collection);
    const State* s = it == impl_->states.end() ? nullptr : it->second.get();
    if (ready(s) && s->dim == row.info.dim) run(*s);
  }
  if (!done) {
    std::unique_lock lock(impl_->mu);
    // Re-read: a writer may have committed while we waited for the lock.
    const int64_t seen = row.generation;
    row = impl_->require_collection(collection);
    if (row.info.count == 0) return {};
    if (row.generation != seen) use_ann = decide();
    if (matches && matches->empty()) return {};
    State& s = impl_->state_for(row);
    impl_->sync(s, row, need_matrix(), use_ann);
    run(s);
  }
  return impl_->fetch_hits(collection, std::move(found), options.top_k);
}

boost::asio::awaitable<std::vector<Hit>> LocalStore::async_text_search(std::string collection,
                                                                       std::string text,
                                                                       SearchOptions options) {
  auto scan = [this, c = std::move(collection), t = std::move(text), options] {
    return text_search(c, t, options);
  };
  co_return co_await impl_->runtime->on_compute(std::move(scan));
}

std::vector<Hit> LocalStore::text_search(const std::string& collection, const std::string& text,
                                         const SearchOptions& options) {
  CollectionRow row = impl_->require_collection(collection);
  if (options.top_k == 0) throw InputError("top_k must be at least 1");
  if (auto at = base::invalid_utf8_offset(text)) {
    throw InputError("query text is not valid UTF-8 (byte " + std::to_string(*at) + ")");
  }
  if (!has_text_search(collection)) {
    store::throw_no_text_search(collection);
  }
  const Filter filter = Filter::parse(options.where);
  const std::string match = fts5_query(text);
  if (match.empty()) return {};
  const store::FilterSql f = filter.empty() ? store::FilterSql{} : store::sqlite_filter(filter, 4);
  std::vector<Candidate> found;
  {
    std::lock_guard lock(impl_->db_mu);
    auto st = impl_->db->prepare(
        "SELECT c.rid, bm25(chunks_fts) FROM chunks_fts JOIN chunks c ON c.rid = chunks_fts.rowid "
        "WHERE chunks_fts MATCH ?1 AND c.collection = ?2" +
        (f.condition.empty() ? std::string() : " AND " + f.condition) +
        " ORDER BY 2, c.rid LIMIT ?3");
    st.bind(1, match);
    st.bind(2, collection);
    const size_t limit = std::min<size_t>(options.top_k, 1u << 30);
    st.bind(3, static_cast<int64_t>(limit));
    for (size_t i = 0; i < f.params.size(); ++i) {
      const int at = static_cast<int>(i) + 4;
      if (f.params[i].is_number) {
        st.bind_double(at, f.params[i].number);
      } else {
        st.bind(at, f.params[i].text);
      }
    }
    while (st.step()) found.push_back({static_cast<float>(-st.real(1)), st.int64(0)});
  }
  return impl_->fetch_hits(collection, std::move(found), options.top_k);
}

bool LocalStore::enable_text_search(const std::string& collection) {
  impl_->require_collection(collection);
  std::unique_lock lock(impl_->mu);
  std::lock_guard db_lock(impl_->db_mu);
  Transaction tx(*impl_->db);
  auto add = impl_->db->prepare("INSERT OR IGNORE INTO text_search(collection) VALUES(?)");
  add.bind(1, collection);
  add.run();
  if (impl_->db->changes() == 0) return false;  // had it
  auto fill = impl_->db->prepare(
      "INSERT INTO chunks_fts(rowid, text) SELECT rid, text FROM chunks WHERE collection=?");
  fill.bind(1, collection);
  fill.run();
  tx.commit();
  return true;
}

bool LocalStore::has_text_search(const std::string& collection) {
  validate_identifier(collection, "table");
  std::lock_guard lock(impl_->db_mu);
  auto st = impl_->db->prepare("SELECT 1 FROM text_search WHERE collection=?");
  st.bind(1, collection);
  return st.step();
}

size_t LocalStore::count(const std::string& collection) {
  return impl_->require_collection(collection).info.count;
}

void LocalStore::drop(const std::string& collection) {
  validate_identifier(collection, "table");
  std::unique_lock lock(impl_->mu);
  {
    std::lock_guard db_lock(impl_->db_mu);
    Transaction tx(*impl_->db);
    for (const char* sql :
         {"DELETE FROM chunks WHERE collection=?", "DELETE FROM sources WHERE collection=?",
          "DELETE FROM collections WHERE name=?", "DELETE FROM text_search WHERE collection=?"}) {
      auto st = impl_->db->prepare(sql);
      st.bind(1, collection);
      st.run();
    }
    tx.commit();
  }
  impl_->states.erase(collection);
  std::error_code ec;
  fs::remove(impl_->index_meta_path(collection), ec);
  fs::remove(impl_->index_path(collection), ec);
}

void LocalStore::warm(const std::string& collection) {
  std::unique_lock lock(impl_->mu);
  CollectionRow row = impl_->require_collection(collection);
  bool use_ann = row.info.count >= impl_->options.ann_threshold;
  State& s = impl_->state_for(row);
  impl_->sync(s, row, true, use_ann);
}

void LocalStore::flush() {
  std::unique_lock lock(impl_->mu);
  for (auto& [name, s] : impl_->states) {
    // Only an index that reflects the committed state may be written with its generation.
    auto row = impl_->read_collection(name);
    if (row && row->generation == s->generation) impl_->save_hnsw(*s, name);
  }
}

}  // namespace ragperf
