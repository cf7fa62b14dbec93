// PgVectorStore: collections as pgvector tables, through DatabaseConnectionPool. See
// ragperf/pgvector_store.h for the layout and the contract.
#include "ragperf/pgvector_store.h"
#include "store/chunk_checks.h"

// GCC 12 (RelWithDebInfo + sanitizers) reports Asio's awaitable frame deallocation as
// -Wmismatched-new-delete: Asio pairs its own operator new/delete for coroutine frames, a false
// positive. Silenced for this file's coroutines only.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/filter.h"
#include "ragperf/pg_copy.h"
#include "ragperf/pgvector.h"
#include "store/filter_sql.h"

namespace ragperf {
namespace {

using db::awaitable;

/// "name" with embedded quotes doubled. Callers validate identifiers first; quoting is the
/// second line of defence.
std::string quote(const std::string& ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

const char* op_of(Metric m) {
  switch (m) {
    case Metric::kCosine:
      return "<=>";
    case Metric::kInnerProduct:
      return "<#>";
    case Metric::kL2:
      return "<->";
  }
  return "<=>";
}

/// The HNSW operator class for `metric` over a column of `type` ("vector" or "halfvec").
std::string opclass_of(Metric m, const std::string& type) {
  switch (m) {
    case Metric::kInnerProduct:
      return type + "_ip_ops";
    case Metric::kL2:
      return type + "_l2_ops";
    case Metric::kCosine:
      break;
  }
  return type + "_cosine_ops";
}

/// Distance from pgvector's operator -> score (higher is better).
float score_of(Metric m, double d) {
  switch (m) {
    case Metric::kCosine:
      return static_cast<float>(1.0 - d);
    case Metric::kInnerProduct:
      return static_cast<float>(-d);  // <#> is the negative inner product
    case Metric::kL2:
      return static_cast<float>(-d);
  }
  return 0;
}

/// A registered collection.
struct Entry {
  CollectionInfo info;
  PgColumns cols;
  bool owned = true;        // created by ragperf (drop() may drop the table)
  std::string text_config;  // text search configuration of its ragperf_tsv column; "": none
  std::string vector_type = "vector";  // the embedding column's type: vector or halfvec
};

/// The tsvector column enable_text_search() adds.
constexpr const char* kTsvColumn = "ragperf_tsv";

void validate_columns(const PgColumns& c) {
  validate_identifier(c.id, "column");
  validate_identifier(c.text, "column");
  validate_identifier(c.embedding, "column");
  for (const std::string* opt : {&c.metadata, &c.content_hash, &c.source}) {
    if (!opt->empty()) validate_identifier(*opt, "column");
  }
}

std::string unknown(const std::string& name) {
  return "table '" + name +
         "' is not a ragperf collection in this database; ingest into it first (ragperf ingest "
         "PATH --table " +
         name + ")";
}

/// The start of the names of the indexes ragperf adds to `table`: the table's name (cut to 40
/// bytes) and a hash of the whole name, so two long names that share 40 bytes do not share
/// indexes.
std::string index_stem(const std::string& table) {
  uint32_t h = 2166136261u;
  for (unsigned char c : table) h = (h ^ c) * 16777619u;
  char hash[9];
  std::snprintf(hash, sizeof hash, "%08x", h);
  return table.substr(0, 40) + "_" + hash;
}

}  // namespace

struct PgVectorStore::Impl {
  std::shared_ptr<DatabaseConnectionPool> pool;
  PgVectorStoreOptions options;
  std::mutex mu;
  std::unordered_map<std::string, Entry> cache;  // guarded by mu
  /// The server's pgvector has iterative index scans (0.8+): a filtered ANN search keeps
  /// scanning the HNSW index until enough rows pass the filter. Set by open_schema().
  bool iterative_scan = false;

  // ---- registry --------------------------------------------------------------------------

  /// Creates the `vector` extension and the registry tables when missing. Safe when several
  /// processes open stores at once: the usual case (everything exists) takes no lock; creation
  /// runs under an advisory lock every ragperf process takes, and a creation race with a
  /// creator that does not take it (CREATE ... IF NOT EXISTS is not atomic: a concurrent twin
  /// fails with unique_violation on pg_type, duplicate_table or duplicate_object) is retried.
  awaitable<void> open_schema() {
    co_await init_schema();
    auto conn = co_await pool->acquire();
    auto row = co_await conn.fetchrow(
        "SELECT string_to_array(extversion, '.')::int[] >= '{0,8}' FROM pg_extension "
        "WHERE extname = 'vector'");
    iterative_scan = row && (*row)[0].as_bool();
  }

  awaitable<void> init_schema() {
    for (int attempt = 1;; ++attempt) {
      auto conn = co_await pool->acquire();
      auto ready = co_await conn.fetchrow(
          "SELECT to_regclass('ragperf_collections') IS NOT NULL AND "
          "to_regclass('ragperf_sources') IS NOT NULL AND "
          "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
          "to_regclass('ragperf_collections') AND attname = 'text_config' AND NOT attisdropped) "
          "AND "
          "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')");
      if (ready && (*ready)[0].as_bool()) co_return;
      bool raced = false;
      try {
        co_await create_registry(conn);
      } catch (const QueryError& e) {
        const std::string& state = e.sqlstate();
        bool race = state == "23505" || state == "42P07" || state == "42710";
        if (!race || attempt >= kRegistryAttempts) throw;
        raced = true;
      }
      if (!raced) co_return;
      co_await conn.execute("ROLLBACK");
    }
  }

  static constexpr int kRegistryAttempts = 5;

  static awaitable<void> create_registry(PooledConnection& conn) {
    co_await conn.execute("BEGIN");
    co_await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ragperf_collections'))");
    auto ext = co_await conn.fetch("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
    if (ext.empty()) co_await conn.execute("CREATE EXTENSION IF NOT EXISTS vector");
    co_await conn.execute(
        "CREATE TABLE IF NOT EXISTS ragperf_collections ("
        "name text PRIMARY KEY, dim integer NOT NULL, metric text NOT NULL, "
        "model_id text NOT NULL, owned boolean NOT NULL DEFAULT true, "
        "id_col text NOT NULL DEFAULT 'id', text_col text NOT NULL DEFAULT 'text', "
        "metadata_col text NOT NULL DEFAULT 'metadata', "
        "hash_col text NOT NULL DEFAULT 'content_hash', "
        "source_col text NOT NULL DEFAULT 'source', "
        "embedding_col text NOT NULL DEFAULT 'embedding')");
    // Added in the registry of ragperf 0.2 (full-text search); NULL: the table has none.
    co_await conn.execute(
        "ALTER TABLE ragperf_collections ADD COLUMN IF NOT EXISTS text_config text");
    co_await conn.execute(
        "CREATE TABLE IF NOT EXISTS ragperf_sources (collection text NOT NULL, "
        "source text NOT NULL, hash text NOT NULL, PRIMARY KEY (collection, source))");
    co_await conn.execute("COMMIT");
  }

  static Entry entry_from(const db::Row& r) {
    Entry e;
    e.info.name = r["name"].as_text();
    e.info.dim = static_cast<size_t>(r["dim"].as_int());
    e.info.metric = parse_metric(r["metric"].as_text());
    e.info.model_id = r["model_id"].as_text();
    e.owned = r["owned"].as_bool();
    e.cols.id = r["id_col"].as_text();
    e.cols.text = r["text_col"].as_text();
    e.cols.metadata = r["metadata_col"].as_text();
    e.cols.content_hash = r["hash_col"].as_text();
    e.cols.source = r["source_col"].as_text();
    e.cols.embedding = r["embedding_col"].as_text();
    if (!r["text_config"].is_null()) e.text_config = r["text_config"].as_text();
    if (!r["vector_type"].is_null() && r["vector_type"].as_text() == "halfvec") {
      e.vector_type = "halfvec";
    }
    validate_columns(e.cols);  // the registry is data too: never trusted blindly
    if (!e.text_config.empty()) validate_identifier(e.text_config, "text search configuration");
    return e;
  }

  static constexpr const char* kRegistrySelect =
      "SELECT name, dim, metric, model_id, owned, id_col, text_col, metadata_col, hash_col, "
      "source_col, embedding_col, text_config, (SELECT t.typname::text FROM pg_attribute a JOIN "
      "pg_type t ON t.oid = a.atttypid WHERE a.attrelid = to_regclass(quote_ident(name)) AND "
      "a.attname = embedding_col AND NOT a.attisdropped) AS vector_type FROM ragperf_collections";

  /// The registry entry (from the cache unless `refresh`), or nullopt.
  awaitable<std::optional<Entry>> lookup(std::string name, bool refresh) {
    validate_identifier(name, "table");
    if (!refresh) {
      std::lock_guard lock(mu);
      auto it = cache.find(name);
      if (it != cache.end()) co_return it->second;
    }
    auto row = co_await pool->fetchrow(std::string(kRegistrySelect) + " WHERE name = $1", name);
    if (!row) {
      std::lock_guard lock(mu);
      cache.erase(name);
      co_return std::nullopt;
    }
    Entry e = entry_from(*row);
    std::lock_guard lock(mu);
    cache[name] = e;
    co_return e;
  }

  awaitable<Entry> require(std::string name) {
    auto e = co_await lookup(name, false);
    if (!e) throw InputError(unknown(name));
    co_return *e;
  }

  awaitable<size_t> count_rows(const Entry& e) {
    auto r = co_await pool->fetchrow("SELECT count(*) FROM " + quote(e.info.name));
    co_return static_cast<size_t>((*r)[0].as_int());
  }

  // ---- writes ----------------------------------------------------------------------------

  void validate_chunks(const Entry& e, std::span<const Chunk> chunks) const {
    store::validate_chunks(e.info, chunks);
  }

  /// COPYs `chunks` (last copy of each id wins) into a temp table and upserts them into the
  /// collection, on `conn` inside its open transaction.
  awaitable<void> load(PooledConnection& conn, const Entry& e, std::span<const Chunk> chunks,
                       const std::string* source) {
    if (chunks.empty()) co_return;
    std::vector<size_t> order;  // indices of the last occurrence of each id
    {
      std::unordered_map<std::string, size_t> last;
      for (size_t i = 0; i < chunks.size(); ++i) last[chunks[i].id] = i;
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (last[chunks[i].id] == i) order.push_back(i);
      }
    }
    const PgColumns& c = e.cols;
    std::vector<std::string> names{c.id, c.text};
    if (!c.metadata.empty()) names.push_back(c.metadata);
    if (!c.content_hash.empty()) names.push_back(c.content_hash);
    if (!c.source.empty()) names.push_back(c.source);
    names.push_back(c.embedding);
    std::string list, updates;
    for (size_t i = 0; i < names.size(); ++i) {
      list += (i ? ", " : "") + quote(names[i]);
      if (i > 0)
        updates += (i > 1 ? ", " : "") + quote(names[i]) + " = EXCLUDED." + quote(names[i]);
    }
    co_await conn.execute("CREATE TEMP TABLE ragperf_load (LIKE " + quote(e.info.name) +
                          " INCLUDING DEFAULTS) ON COMMIT DROP");
    if (e.vector_type == "halfvec") {
      // COPY writes pgvector's binary `vector`; the upsert below casts it to halfvec.
      co_await conn.execute("ALTER TABLE ragperf_load ALTER COLUMN " + quote(c.embedding) +
                            " TYPE vector(" + std::to_string(e.info.dim) + ")");
    }
    db::BinaryCopyWriter w;
    for (size_t i : order) {
      const Chunk& ch = chunks[i];
      w.begin_row(static_cast<int>(names.size()));
      w.add_text(ch.id);
      w.add_text(ch.text);
      if (!c.metadata.empty()) w.add_jsonb(ch.metadata_json.empty() ? "{}" : ch.metadata_json);
      if (!c.content_hash.empty()) w.add_text(ch.content_hash);
      if (!c.source.empty()) w.add_text(source ? *source : ch.source);
      w.add_vector(ch.embedding);
    }
    w.finish();
    co_await conn.copy_from("COPY ragperf_load (" + list + ") FROM STDIN (FORMAT BINARY)",
                            w.data());
    co_await conn.execute("INSERT INTO " + quote(e.info.name) + " (" + list + ") SELECT " + list +
                          " FROM ragperf_load ON CONFLICT (" + quote(c.id) + ") DO UPDATE SET " +
                          updates);
  }

  // ---- search ----------------------------------------------------------------------------

  /// "SELECT id, text, metadata, source, " (as text) of `e`'s columns: the hit columns every
  /// search selects before its score (hit_of() reads them).
  static std::string hit_columns(const Entry& e) {
    const PgColumns& c = e.cols;
    return "SELECT " + quote(c.id) + "::text, " + quote(c.text) + "::text, " +
           (c.metadata.empty() ? std::string("'{}'") : quote(c.metadata) + "::text") + ", " +
           (c.source.empty() ? std::string("''") : quote(c.source) + "::text") + ", ";
  }

  /// The hit of one row of a hit_columns() SELECT, with `score`.
  static Hit hit_of(const db::Row& row, const std::string& name, float score) {
    Hit h;
    h.id = row[0].as_text();
    h.text = row[1].as_text();
    h.metadata_json = row[2].as_text();
    h.source = row[3].as_text();
    h.score = score;
    h.source_table = name;
    return h;
  }

  /// A search's LIMIT ($2): top_k, a top_k beyond int8 being no limit at all.
  static long long limit_of(const SearchOptions& opts) {
    return static_cast<long long>(
        std::min<size_t>(opts.top_k, static_cast<size_t>(std::numeric_limits<long long>::max())));
  }

  /// The SELECT of search(): $1 the query vector, $2 the LIMIT, then the filter's parameters
  /// ($3...). ANN orders by the distance expression alone, which is what lets the planner use
  /// the HNSW index (an extra sort key such as the id rules the index out); exact search also
  /// orders by id and runs with index scans off, so it is a full sort (a filter may still be
  /// served by a bitmap scan of the metadata's GIN index, see create_filter_indexes()).
  static std::string search_sql(const Entry& e, bool exact, const store::FilterSql& filter) {
    const PgColumns& c = e.cols;
    // A halfvec column is compared with the query cast to halfvec, which its index serves.
    std::string dist = "(" + quote(c.embedding) + " " + op_of(e.info.metric) + " $1" +
                       (e.vector_type == "halfvec" ? "::vector::halfvec" : "") + ")";
    std::string where;
    if (!filter.condition.empty()) where = " WHERE " + filter.condition;
    return hit_columns(e) + dist + "::float8 FROM " + quote(e.info.name) + where + " ORDER BY " +
           dist + (exact ? ", " + quote(c.id) : std::string()) + " LIMIT $2";
  }

  /// The filter of `opts` compiled for `e`'s columns (parameters from $3); empty for none.
  static store::FilterSql filter_of(const Entry& e, const std::string& name,
                                    const SearchOptions& opts) {
    const Filter filter = Filter::parse(opts.where);
    if (filter.empty()) return {};
    // A metadata column of type json or text is compared as jsonb.
    const std::string meta = e.cols.metadata.empty() ? "" : quote(e.cols.metadata) + "::jsonb";
    const std::string source = e.cols.source.empty() ? "" : quote(e.cols.source);
    return store::postgres_filter(filter, meta, source, name, 3);
  }

  /// The checks search() makes on one query before any SQL, in its order (search_batch() makes
  /// the same, so both reject the same queries with the same messages). False when the query
  /// matches nothing without asking the server: a zero vector has no direction under cosine (as
  /// LocalStore).
  static bool check_query(const Entry& e, const std::string& name, std::span<const float> query,
                          const SearchOptions& opts) {
    if (opts.top_k == 0) throw InputError("top_k must be at least 1");
    if (opts.ef_search < 0) throw InputError("ef_search must be >= 0");
    if (query.size() != e.info.dim) {
      throw InputError("query vector has dim " + std::to_string(query.size()) + " but table " +
                       name + " was ingested with model " + e.info.model_id + " (dim " +
                       std::to_string(e.info.dim) + "); query it with --model " + e.info.model_id +
                       " or re-ingest");
    }
    store::check_finite(query, "query vector");
    return !(e.info.metric == Metric::kCosine &&
             std::all_of(query.begin(), query.end(), [](float x) { return x == 0.0f; }));
  }

  /// BEGIN and the search's statement_timeout (SET LOCAL: index builds and COPY are not bounded).
  std::vector<db::Statement> begin_with_timeout() const {
    std::vector<db::Statement> batch;
    batch.push_back({"BEGIN", {}});
    if (const double ms = options.search_timeout.count() * 1000; ms > 0) {
      // At least 1 ms: statement_timeout = 0 would mean no limit at all.
      const auto whole_ms = static_cast<long long>(std::min(std::max(ms, 1.0), 2147483647.0));
      batch.push_back({"SET LOCAL statement_timeout = " + std::to_string(whole_ms), {}});
    }
    return batch;
  }

  /// Runs a search's statements (BEGIN ... SELECT, COMMIT) in one round trip on a pooled
  /// connection and returns the SELECT's result; a search past search_timeout is a
  /// TimeoutError naming `name`, one of a dropped table an InputError (search_error()).
  awaitable<db::Result> run_select(std::string name, std::vector<db::Statement> batch) {
    std::vector<db::Result> results;
    std::exception_ptr error;
    {
      auto conn = co_await pool->acquire();
      try {
        results = co_await conn.pipeline(std::move(batch));
      } catch (...) {
        error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(search_error(error, name));
    co_return std::move(results[results.size() - 2]);
  }

  /// BEGIN and the planner settings of a search with `opts` (hnsw.ef_search and, when
  /// `filtered`, iterative index scans; or index scans off for an exact search); the SELECTs and
  /// a COMMIT follow.
  std::vector<db::Statement> search_prologue(const SearchOptions& opts, bool filtered) const {
    int ef = opts.ef_search > 0 ? opts.ef_search
             : filtered         ? options.filtered_ef_search
                                : options.ef_search;
    ef = std::max<int>(ef, static_cast<int>(std::min<size_t>(opts.top_k, 1000)));
    std::vector<db::Statement> batch = begin_with_timeout();
    if (opts.exact) {
      batch.push_back({"SET LOCAL enable_indexscan = off", {}});
    } else {
      batch.push_back({"SET LOCAL hnsw.ef_search = " + std::to_string(std::min(ef, 1000)), {}});
      // A filter is applied to the rows the index scan yields: without iterative scans a
      // selective filter leaves fewer than LIMIT rows (short answers are completed by an exact
      // search, see search()). Relaxed order: hits_of() sorts the rows anyway.
      if (filtered && iterative_scan) {
        batch.push_back({"SET LOCAL hnsw.iterative_scan = relaxed_order", {}});
      }
    }
    return batch;
  }

  /// The SELECT of one query ($1 vector, $2 LIMIT; a top_k beyond int8 is no limit at all; the
  /// filter's parameters after them).
  static db::Statement select_of(const std::string& sql, std::span<const float> query,
                                 const SearchOptions& opts, const store::FilterSql& filter) {
    db::Params params = db::make_params(query, limit_of(opts));
    append_params(params, filter);
    return {sql, std::move(params)};
  }

  /// The filter's parameters after a search's own ($1, $2).
  static void append_params(db::Params& params, const store::FilterSql& filter) {
    for (const store::FilterParam& p : filter.params) {
      if (p.is_number) {
        params.emplace_back(p.number);
      } else {
        params.emplace_back(p.text);
      }
    }
  }

  /// The hits of one SELECT of search_sql(), best first (ANN ties broken by id here).
  static std::vector<Hit> hits_of(const db::Result& r, const Entry& e, const std::string& name,
                                  const SearchOptions& opts) {
    std::vector<Hit> hits;
    hits.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      db::Row row = r[i];
      hits.push_back(hit_of(row, name, score_of(e.info.metric, row[4].as_double())));
    }
    if (!opts.exact) {
      // The ANN query orders by distance alone (so the HNSW index can serve it); ties by id.
      std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
        return a.score > b.score || (a.score == b.score && a.id < b.id);
      });
    }
    return hits;
  }

  awaitable<std::vector<Hit>> search(std::string name, std::vector<float> query,
                                     SearchOptions opts) {
    Entry e = co_await require(name);
    if (!check_query(e, name, query, opts)) co_return std::vector<Hit>{};
    const store::FilterSql filter = filter_of(e, name, opts);
    std::vector<db::Statement> batch = search_prologue(opts, !filter.condition.empty());
    batch.push_back(select_of(search_sql(e, opts.exact, filter), query, opts, filter));
    batch.push_back({"COMMIT", {}});
    const db::Result r = co_await run_select(name, std::move(batch));
    std::vector<Hit> hits = hits_of(r, e, name, opts);
    if (short_answer(hits, opts, filter)) co_return co_await exact_search(name, query, opts);
    co_return hits;
  }

  /// A filtered ANN answer with fewer than top_k rows: the index scan stopped (the server's
  /// hnsw.max_scan_tuples, or a pgvector without iterative scans) before enough rows passed the
  /// filter. Exact search then returns top_k whenever that many rows match.
  static bool short_answer(const std::vector<Hit>& hits, const SearchOptions& opts,
                           const store::FilterSql& filter) {
    return !opts.exact && !filter.condition.empty() && hits.size() < opts.top_k;
  }

  awaitable<std::vector<Hit>> exact_search(std::string name, std::vector<float> query,
                                           SearchOptions opts) {
    opts.exact = true;
    co_return co_await search(std::move(name), std::move(query), std::move(opts));
  }

  /// Full-text search: websearch_to_tsquery() parses the text (quoted phrases stay phrases), its
  /// ANDs become ORs (a chunk needs one of the words; ts_rank_cd ranks chunks with more, and
  /// closer, matches higher), the GIN index on ragperf_tsv serves the @@.
  awaitable<std::vector<Hit>> text_search(std::string name, std::string text, SearchOptions opts) {
    Entry e = co_await require(name);
    if (opts.top_k == 0) throw InputError("top_k must be at least 1");
    if (e.text_config.empty()) {
      store::throw_no_text_search(name);
    }
    const store::FilterSql filter = filter_of(e, name, opts);
    const PgColumns& c = e.cols;
    const std::string config = "'" + e.text_config + "'::regconfig";
    const std::string sql =
        hit_columns(e) + "ts_rank_cd(" + kTsvColumn + ", w.q)::float8 FROM " + quote(e.info.name) +
        ", (SELECT replace(websearch_to_tsquery(" + config + ", $1)::text, '&', '|')::tsquery) " +
        "AS w(q) WHERE " + kTsvColumn + " @@ w.q" +
        (filter.condition.empty() ? std::string() : " AND " + filter.condition) +
        " ORDER BY 5 DESC, " + quote(c.id) + " LIMIT $2";
    // $1 the text, $2 the LIMIT, the filter's parameters from $3 (as a vector search's).
    db::Statement select{sql, db::make_params(text, limit_of(opts))};
    append_params(select.params, filter);
    std::vector<db::Statement> batch = begin_with_timeout();
    batch.push_back(std::move(select));
    batch.push_back({"COMMIT", {}});
    const db::Result r = co_await run_select(name, std::move(batch));
    std::vector<Hit> hits;
    hits.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      db::Row row = r[i];
      hits.push_back(hit_of(row, name, static_cast<float>(row[4].as_double())));
    }
    co_return hits;
  }

  /// `error`, or in its place an error naming `name` and what to do: a TimeoutError when it is the
  /// server cancelling a search that ran past search_timeout (SQLSTATE 57014), an InputError when
  /// the table is registered but was dropped outside ragperf (42P01), instead of the raw SQL.
  std::exception_ptr search_error(std::exception_ptr error, const std::string& name) const {
    try {
      std::rethrow_exception(error);
    } catch (const QueryError& q) {
      if (q.sqlstate() == "42P01") {
        return std::make_exception_ptr(InputError(
            "table " + name +
            " is registered but no longer exists in the database (dropped outside ragperf); "
            "ingest into it again (ragperf ingest --table " +
            name + ") to create it afresh, or drop its registration"));
      }
      if (q.sqlstate() != "57014") return error;
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g", options.search_timeout.count());
      return std::make_exception_ptr(TimeoutError(
          "search of table " + name + " ran past search_timeout=" + seconds +
          " s and was cancelled by the server; give it an index (or a smaller ef_search), or "
          "raise PgVectorStoreOptions::search_timeout"));
    } catch (...) {
      return error;
    }
  }

  /// search_batch(): the checks of search() per query, then every remaining SELECT in ONE
  /// transaction sent in one round trip (BEGIN, the settings, n SELECTs, COMMIT) on one pooled
  /// connection. A statement that fails on the server aborts the whole pipeline; then each query
  /// runs alone through search(), so that only the query at fault gets the error. `queries` and
  /// `out` must outlive the call (the blocking caller holds them).
  awaitable<void> search_batch(const std::string& name,
                               std::span<const std::span<const float>> queries,
                               const SearchOptions& opts, std::vector<SearchResult>& out) {
    auto fail_all = [&](const std::vector<size_t>& which, std::exception_ptr error) {
      for (size_t i : which) out[i].error = error;
    };
    std::vector<size_t> live;
    live.reserve(queries.size());
    Entry e;
    std::exception_ptr error;
    try {
      e = co_await require(name);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      for (auto& r : out) r.error = error;
      co_return;
    }
    for (size_t i = 0; i < queries.size(); ++i) {
      try {
        if (check_query(e, name, queries[i], opts)) live.push_back(i);
      } catch (...) {
        out[i].error = std::current_exception();
      }
    }
    if (live.empty()) co_return;

    store::FilterSql filter;
    try {
      filter = filter_of(e, name, opts);
    } catch (...) {
      error = std::current_exception();  // the same filter for every query
    }
    if (error) {
      fail_all(live, error);
      co_return;
    }
    std::vector<db::Statement> batch = search_prologue(opts, !filter.condition.empty());
    const size_t first = batch.size();
    const std::string sql = search_sql(e, opts.exact, filter);
    for (size_t i : live) batch.push_back(select_of(sql, queries[i], opts, filter));
    batch.push_back({"COMMIT", {}});
    PooledConnection conn;
    try {
      conn = co_await pool->acquire();
    } catch (...) {
      error = std::current_exception();  // no connection: the same for every query
    }
    if (error) {
      fail_all(live, error);
      co_return;
    }
    std::vector<db::Result> results;
    try {
      results = co_await conn.pipeline(std::move(batch));
    } catch (...) {
      error = std::current_exception();
    }
    conn.release();
    if (error) {
      // Past search_timeout (or the table gone): running each query alone would take as long
      // again, n times (or fail the same way).
      std::exception_ptr known = search_error(error, name);
      if (known != error) {
        fail_all(live, known);
        co_return;
      }
    }
    if (!error) {
      std::vector<size_t> short_ones;
      for (size_t j = 0; j < live.size(); ++j) {
        try {
          out[live[j]].hits = hits_of(results[first + j], e, name, opts);
          if (short_answer(out[live[j]].hits, opts, filter)) short_ones.push_back(live[j]);
        } catch (...) {
          out[live[j]].error = std::current_exception();
        }
      }
      for (size_t i : short_ones) {
        try {
          out[i].hits = co_await exact_search(
              name, std::vector<float>(queries[i].begin(), queries[i].end()), opts);
        } catch (...) {
          out[i].error = std::current_exception();
        }
      }
      co_return;
    }
    // One statement failed (or the connection was lost) and took the batch's transaction with
    // it: run each query alone, as search() would, so that each gets its own answer or error.
    for (size_t i : live) {
      try {
        out[i].hits =
            co_await search(name, std::vector<float>(queries[i].begin(), queries[i].end()), opts);
      } catch (...) {
        out[i].error = std::current_exception();
      }
    }
  }
};

PgVectorStore::PgVectorStore(std::shared_ptr<DatabaseConnectionPool> pool,
                             PgVectorStoreOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (!pool) throw ConfigError("PgVectorStore needs a connection pool (got none: `pool` is null)");
  if (options.storage != "vector" && options.storage != "halfvec") {
    throw ConfigError("PgVectorStore storage '" + options.storage +
                      "' is not known; use vector (float32) or halfvec (float16, half the memory)");
  }
  impl_->pool = std::move(pool);
  impl_->options = options;
  impl_->pool->initialize();
  impl_->pool->run(impl_->open_schema());
}

PgVectorStore::~PgVectorStore() = default;

DatabaseConnectionPool& PgVectorStore::pool() {
  return *impl_->pool;
}

std::string PgVectorStore::describe() const {
  return "postgresql://" + impl_->pool->config().user + "@" + impl_->pool->config().describe();
}

CollectionInfo PgVectorStore::ensure_collection(const std::string& name, size_t dim, Metric metric,
                                                const std::string& model_id) {
  validate_identifier(name, "table");
  if (dim == 0 || dim > pgvector::kMaxDim) {
    throw InputError("dimension " + std::to_string(dim) + " for table '" + name +
                     "' is out of range (1.." + std::to_string(pgvector::kMaxDim) + ")");
  }
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<CollectionInfo> {
    auto conn = co_await im.pool->acquire();
    co_await conn.execute("BEGIN");
    co_await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ragperf_collections'))");
    auto row =
        co_await conn.fetchrow(std::string(Impl::kRegistrySelect) + " WHERE name = $1", name);
    bool stale = false;  // registered, but its table was dropped outside ragperf
    if (row) {
      Entry e = Impl::entry_from(*row);
      auto present = co_await conn.fetchrow("SELECT to_regclass($1) IS NOT NULL", quote(name));
      stale = !(present && (*present)[0].as_bool());
      if (stale && !e.owned) {
        co_await conn.execute("ROLLBACK");
        throw InputError("table " + name +
                         " is registered (adopted) but no longer exists in the database; create "
                         "it again and adopt it, or drop its registration (VectorStore::drop)");
      }
    }
    if (row && stale) {
      // Created by ragperf and dropped outside it: forget the old registration and its sources,
      // and create the table afresh below (its rows are gone with it).
      co_await conn.execute("DELETE FROM ragperf_sources WHERE collection = $1", name);
      co_await conn.execute("DELETE FROM ragperf_collections WHERE name = $1", name);
    } else if (row) {
      Entry e = Impl::entry_from(*row);
      co_await conn.execute("COMMIT");
      if (e.info.dim != dim || e.info.model_id != model_id) {
        throw InputError("table " + name + " was ingested with model " + e.info.model_id +
                         " (dim " + std::to_string(e.info.dim) + "); query it with --model " +
                         e.info.model_id + " or re-ingest (this model: " + model_id + ", dim " +
                         std::to_string(dim) + ")");
      }
      if (e.info.metric != metric) {
        throw InputError("table " + name + " uses metric " + to_string(e.info.metric) + ", not " +
                         to_string(metric) + "; use " + to_string(e.info.metric) +
                         " or another table");
      }
      co_return e.info;
    }
    auto exists = co_await conn.fetchrow("SELECT to_regclass($1) IS NOT NULL", quote(name));
    if (exists && (*exists)[0].as_bool()) {
      throw InputError("table " + name +
                       " already exists but was not created by ragperf; choose another --table "
                       "or register it with its column names (PgVectorStore::adopt)");
    }
    std::string t = quote(name);
    co_await conn.execute("CREATE TABLE " + t +
                          " (id text PRIMARY KEY, text text NOT NULL, metadata jsonb NOT NULL "
                          "DEFAULT '{}', content_hash text NOT NULL DEFAULT '', source text NOT "
                          "NULL DEFAULT '', embedding " +
                          im.options.storage + "(" + std::to_string(dim) + ") NOT NULL)");
    co_await conn.execute("CREATE INDEX ON " + t + " (source)");
    co_await conn.execute("CREATE INDEX ON " + t + " USING hnsw (embedding " +
                          opclass_of(metric, im.options.storage) +
                          ") WITH (m = " + std::to_string(im.options.hnsw_m) +
                          ", ef_construction = " + std::to_string(im.options.hnsw_ef_construction) +
                          ")");
    co_await conn.execute(
        "INSERT INTO ragperf_collections (name, dim, metric, model_id) VALUES ($1, $2, $3, $4)",
        name, static_cast<long long>(dim), std::string(to_string(metric)), model_id);
    co_await conn.execute("COMMIT");
    co_return CollectionInfo{name, dim, metric, model_id, 0};
  };
  CollectionInfo info = im.pool->run(body());
  std::lock_guard lock(im.mu);
  im.cache.erase(name);
  return info;
}

CollectionInfo PgVectorStore::adopt(const std::string& name, size_t dim, Metric metric,
                                    const std::string& model_id, const PgColumns& columns) {
  validate_identifier(name, "table");
  validate_columns(columns);
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<CollectionInfo> {
    auto conn = co_await im.pool->acquire();
    // Every named column must exist; the embedding column must be vector(dim).
    auto cols = co_await conn.fetch(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        quote(name));
    if (cols.empty()) throw InputError("table " + name + " does not exist in this database");
    std::unordered_map<std::string, std::string> types;
    for (int i = 0; i < cols.rows(); ++i) types[cols[i][0].as_text()] = cols[i][1].as_text();
    for (const std::string* col : {&columns.id, &columns.text, &columns.metadata,
                                   &columns.content_hash, &columns.source, &columns.embedding}) {
      if (!col->empty() && !types.count(*col)) {
        throw InputError("table " + name + " has no column '" + *col + "'; name the right column");
      }
    }
    std::string want = "vector(" + std::to_string(dim) + ")";
    if (types[columns.embedding] != want) {
      throw InputError("column " + name + "." + columns.embedding + " is " +
                       types[columns.embedding] + ", not " + want +
                       "; give the model that produced it");
    }
    co_await conn.execute(
        "INSERT INTO ragperf_collections (name, dim, metric, model_id, owned, id_col, text_col, "
        "metadata_col, hash_col, source_col, embedding_col) VALUES ($1, $2, $3, $4, false, $5, "
        "$6, $7, $8, $9, $10) ON CONFLICT (name) DO UPDATE SET dim = EXCLUDED.dim, metric = "
        "EXCLUDED.metric, model_id = EXCLUDED.model_id, id_col = EXCLUDED.id_col, text_col = "
        "EXCLUDED.text_col, metadata_col = EXCLUDED.metadata_col, hash_col = EXCLUDED.hash_col, "
        "source_col = EXCLUDED.source_col, embedding_col = EXCLUDED.embedding_col",
        name, static_cast<long long>(dim), std::string(to_string(metric)), model_id, columns.id,
        columns.text, columns.metadata, columns.content_hash, columns.source, columns.embedding);
    co_return CollectionInfo{name, dim, metric, model_id, 0};
  };
  CollectionInfo info = im.pool->run(body());
  info.count = count(name);
  return info;
}

std::optional<CollectionInfo> PgVectorStore::collection(const std::string& name) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<std::optional<CollectionInfo>> {
    auto e = co_await im.lookup(name, true);
    if (!e) co_return std::nullopt;
    e->info.count = co_await im.count_rows(*e);
    co_return e->info;
  };
  return im.pool->run(body());
}

std::vector<CollectionInfo> PgVectorStore::collections() {
  Impl& im = *impl_;
  // One query, no scan: the row counts are the planner's estimates (pg_class.reltuples, kept by
  // autovacuum and ANALYZE), so listing tables costs the same for a billion rows as for ten.
  // count() gives the exact number of one table.
  auto body = [&]() -> awaitable<std::vector<CollectionInfo>> {
    auto r = co_await im.pool->fetch(
        "SELECT r.name, r.dim, r.metric, r.model_id, r.owned, r.id_col, r.text_col, "
        "r.metadata_col, r.hash_col, r.source_col, r.embedding_col, r.text_config, "
        "NULL::text AS vector_type, "  // not needed for CollectionInfo
        "GREATEST(COALESCE(c.reltuples, 0), 0)::bigint FROM ragperf_collections r "
        "LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident(r.name)) ORDER BY r.name");
    std::vector<CollectionInfo> out;
    for (int i = 0; i < r.rows(); ++i) {
      Entry e = Impl::entry_from(r[i]);
      e.info.count = static_cast<size_t>(r[i][13].as_int());
      out.push_back(e.info);
    }
    co_return out;
  };
  return im.pool->run(body());
}

std::optional<std::string> PgVectorStore::source_hash(const std::string& collection,
                                                      const std::string& source) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<std::optional<std::string>> {
    co_await im.require(collection);
    auto row = co_await im.pool->fetchrow(
        "SELECT hash FROM ragperf_sources WHERE collection = $1 AND source = $2", collection,
        source);
    if (!row) co_return std::nullopt;
    co_return (*row)[0].as_text();
  };
  return im.pool->run(body());
}

void PgVectorStore::replace_source(const std::string& collection, const std::string& source,
                                   const std::string& source_hash, std::span<const Chunk> chunks) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<void> {
    Entry e = co_await im.require(collection);
    if (e.cols.source.empty()) {
      throw InputError("table " + collection +
                       " has no source column, so its chunks cannot be replaced per file");
    }
    im.validate_chunks(e, chunks);
    auto conn = co_await im.pool->acquire();
    co_await conn.execute("BEGIN");
    co_await conn.execute(
        "DELETE FROM " + quote(collection) + " WHERE " + quote(e.cols.source) + " = $1", source);
    co_await im.load(conn, e, chunks, &source);
    co_await conn.execute(
        "INSERT INTO ragperf_sources (collection, source, hash) VALUES ($1, $2, $3) "
        "ON CONFLICT (collection, source) DO UPDATE SET hash = EXCLUDED.hash",
        collection, source, source_hash);
    co_await conn.execute("COMMIT");
  };
  im.pool->run(body());
}

size_t PgVectorStore::remove_source(const std::string& collection, const std::string& source) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<size_t> {
    Entry e = co_await im.require(collection);
    if (e.cols.source.empty()) {
      throw InputError("table " + collection + " has no source column");
    }
    auto conn = co_await im.pool->acquire();
    co_await conn.execute("BEGIN");
    auto r = co_await conn.execute(
        "DELETE FROM " + quote(collection) + " WHERE " + quote(e.cols.source) + " = $1", source);
    co_await conn.execute("DELETE FROM ragperf_sources WHERE collection = $1 AND source = $2",
                          collection, source);
    co_await conn.execute("COMMIT");
    co_return static_cast<size_t>(r.affected());
  };
  return im.pool->run(body());
}

std::vector<std::string> PgVectorStore::list_sources(const std::string& collection) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<std::vector<std::string>> {
    auto e = co_await im.lookup(collection, true);
    std::vector<std::string> out;
    if (!e) co_return out;
    std::string sql = "SELECT source FROM ragperf_sources WHERE collection = $1 AND source <> ''";
    if (!e->cols.source.empty()) {
      const std::string col = quote(e->cols.source);
      sql += " UNION SELECT DISTINCT " + col + "::text FROM " + quote(collection) + " WHERE " +
             col + " IS NOT NULL AND " + col + "::text <> ''";
    }
    auto r = co_await im.pool->fetch(sql, collection);
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(r[i][0].as_text());
    std::sort(out.begin(), out.end());  // byte order, whatever the database collation
    co_return out;
  };
  return im.pool->run(body());
}

void PgVectorStore::add(const std::string& collection, std::span<const Chunk> chunks) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<void> {
    Entry e = co_await im.require(collection);
    im.validate_chunks(e, chunks);
    if (chunks.empty()) co_return;
    auto conn = co_await im.pool->acquire();
    co_await conn.execute("BEGIN");
    co_await im.load(conn, e, chunks, nullptr);
    co_await conn.execute("COMMIT");
  };
  im.pool->run(body());
}

boost::asio::awaitable<std::vector<Hit>> PgVectorStore::async_search(std::string collection,
                                                                     std::vector<float> query,
                                                                     SearchOptions options) {
  co_return co_await impl_->pool->async_run(
      impl_->search(std::move(collection), std::move(query), options));
}

boost::asio::awaitable<std::vector<SearchResult>> PgVectorStore::async_search_batch(
    std::string collection, std::vector<std::vector<float>> queries, SearchOptions options) {
  std::vector<SearchResult> out(queries.size());
  if (queries.empty()) co_return out;
  // `spans`, `queries` and `out` live in this frame until the pool's coroutine is done.
  const std::vector<std::span<const float>> spans(queries.begin(), queries.end());
  try {
    co_await impl_->pool->async_run(impl_->search_batch(collection, spans, options, out));
  } catch (...) {  // the pool is closed (or the call could not start): every query fails
    const auto error = std::current_exception();
    for (auto& r : out) {
      r.hits.clear();
      r.error = error;
    }
  }
  co_return out;
}

bool PgVectorStore::prefers_search_batch() const {
  return true;
}

std::string PgVectorStore::search_sql(const std::string& collection, bool exact) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<std::string> {
    Entry e = co_await im.require(collection);
    co_return Impl::search_sql(e, exact, {});
  };
  return im.pool->run(body());
}

std::string PgVectorStore::explain_search(const std::string& collection,
                                          std::span<const float> query,
                                          const SearchOptions& options) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<std::string> {
    Entry e = co_await im.require(collection);
    Impl::check_query(e, collection, query, options);
    const store::FilterSql filter = Impl::filter_of(e, collection, options);
    std::vector<db::Statement> batch = im.search_prologue(options, !filter.condition.empty());
    db::Statement select =
        Impl::select_of(Impl::search_sql(e, options.exact, filter), query, options, filter);
    select.sql = "EXPLAIN " + select.sql;
    batch.push_back(std::move(select));
    batch.push_back({"COMMIT", {}});
    auto conn = co_await im.pool->acquire();
    std::vector<db::Result> results = co_await conn.pipeline(std::move(batch));
    const db::Result& plan = results[results.size() - 2];
    std::string text;
    for (int i = 0; i < plan.rows(); ++i) text += plan[i][0].as_text() + "\n";
    co_return text;
  };
  return im.pool->run(body());
}

size_t PgVectorStore::count(const std::string& collection) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<size_t> {
    Entry e = co_await im.require(collection);
    co_return co_await im.count_rows(e);
  };
  return im.pool->run(body());
}

void PgVectorStore::drop(const std::string& collection) {
  validate_identifier(collection, "table");
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<void> {
    auto e = co_await im.lookup(collection, true);
    if (!e) co_return;
    auto conn = co_await im.pool->acquire();
    co_await conn.execute("BEGIN");
    if (e->owned) co_await conn.execute("DROP TABLE IF EXISTS " + quote(collection));
    co_await conn.execute("DELETE FROM ragperf_sources WHERE collection = $1", collection);
    co_await conn.execute("DELETE FROM ragperf_collections WHERE name = $1", collection);
    co_await conn.execute("COMMIT");
  };
  im.pool->run(body());
  std::lock_guard lock(im.mu);
  im.cache.erase(collection);
}

boost::asio::awaitable<std::vector<Hit>> PgVectorStore::async_text_search(std::string collection,
                                                                          std::string text,
                                                                          SearchOptions options) {
  co_return co_await impl_->text_search(std::move(collection), std::move(text), std::move(options));
}

bool PgVectorStore::enable_text_search(const std::string& collection) {
  Impl& im = *impl_;
  const std::string config = im.options.text_search_config;
  validate_identifier(config, "text search configuration");
  auto body = [&]() -> awaitable<bool> {
    Entry e = co_await im.require(collection);
    if (!e.text_config.empty()) co_return false;
    auto conn = co_await im.pool->acquire();
    auto known = co_await conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = $1)", config);
    if (!known || !(*known)[0].as_bool()) {
      throw InputError("text search configuration '" + config +
                       "' is not known to the server; pick one of SELECT cfgname FROM "
                       "pg_ts_config (e.g. english, simple)");
    }
    const std::string t = quote(collection);
    co_await conn.execute("BEGIN");
    co_await conn.execute("ALTER TABLE " + t + " ADD COLUMN IF NOT EXISTS " + kTsvColumn +
                          " tsvector GENERATED ALWAYS AS (to_tsvector('" + config +
                          "'::regconfig, coalesce(" + quote(e.cols.text) + ", ''))) STORED");
    co_await conn.execute("CREATE INDEX IF NOT EXISTS " + quote(index_stem(collection) + "_tsv") +
                          " ON " + t + " USING gin (" + kTsvColumn + ")");
    co_await conn.execute("UPDATE ragperf_collections SET text_config = $1 WHERE name = $2", config,
                          collection);
    co_await conn.execute("COMMIT");
    co_return true;
  };
  const bool added = im.pool->run(body());
  im.pool->run(im.lookup(collection, true));  // the cached entry learns its text_config
  return added;
}

bool PgVectorStore::has_text_search(const std::string& collection) {
  Impl& im = *impl_;
  auto e = im.pool->run(im.lookup(collection, true));
  return e && !e->text_config.empty();
}

std::vector<std::string> PgVectorStore::create_filter_indexes(const std::string& collection) {
  Impl& im = *impl_;
  auto body = [&]() -> awaitable<std::vector<std::string>> {
    Entry e = co_await im.require(collection);
    const std::string stem = index_stem(collection);
    std::vector<std::pair<std::string, std::string>> wanted;  // name, CREATE INDEX body
    if (!e.cols.metadata.empty()) {
      wanted.push_back(
          {stem + "_meta", "USING gin ((" + quote(e.cols.metadata) + "::jsonb) jsonb_path_ops)"});
    }
    if (!e.cols.source.empty()) {
      wanted.push_back({stem + "_prefix", "(" + quote(e.cols.source) + " text_pattern_ops)"});
    }
    std::vector<std::string> created;
    auto conn = co_await im.pool->acquire();
    for (const auto& [name, how] : wanted) {
      auto exists = co_await conn.fetchrow("SELECT to_regclass($1) IS NOT NULL", quote(name));
      if (exists && (*exists)[0].as_bool()) continue;
      co_await conn.execute("CREATE INDEX IF NOT EXISTS " + quote(name) + " ON " +
                            quote(collection) + " " + how);
      created.push_back(name);
    }
    // The planner's statistics of the table include the new indexes' selectivity from now on.
    if (!created.empty()) co_await conn.execute("ANALYZE " + quote(collection));
    co_return created;
  };
  return im.pool->run(body());
}

std::unique_ptr<VectorStore> open_pgvector_store(const Settings& settings) {
  auto pool = std::make_shared<DatabaseConnectionPool>(PoolConfig::from_settings(settings));
  PgVectorStoreOptions options;
  if (auto config = settings.lookup("RAGPERF_TEXT_SEARCH_CONFIG"); config && !config->empty()) {
    options.text_search_config = *config;
  }
  if (auto storage = settings.lookup("RAGPERF_PG_STORAGE"); storage && !storage->empty()) {
    options.storage = *storage;
  }
  return std::make_unique<PgVectorStore>(std::move(pool), options);
}

}  // namespace ragperf
