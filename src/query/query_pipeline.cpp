// QueryPipeline: exact cache -> embed -> semantic cache -> search -> merge -> store in the cache.
#include "ragperf/query_pipeline.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "query/hit_codec.h"
#include "ragperf/async_embedding.h"
#include "ragperf/cross_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/filter.h"
#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"

namespace ragperf {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The text of every retrieve option that changes the hits, for the cache scope.
std::string options_key(const QueryTarget& t) {
  const RetrieveOptions& o = t.options;
  std::string key;
  auto add = [&key](const std::string& part) { key += (key.empty() ? "" : ";") + part; };
  if (o.exact) add("exact");
  if (!o.deduplicate) add("dedup=0");
  if (o.fusion != Fusion::kScore) add(std::string("fusion=") + to_string(o.fusion));
  if (o.fusion == Fusion::kRrf) add("rrf_k=" + std::to_string(o.rrf_k));
  if (o.ef_search != 0) add("ef_search=" + std::to_string(o.ef_search));
  if (o.candidates_per_table != 0) add("candidates=" + std::to_string(o.candidates_per_table));
  if (t.rerank.model) {
    add("rerank=" + t.rerank.model->id() + "/" + std::to_string(t.rerank.candidates));
  }
  // The filter's canonical text: filters that mean the same share entries.
  if (const Filter f = Filter::parse(o.where); !f.empty()) add("where=" + f.canonical());
  if (o.mode != SearchMode::kVector) add(std::string("mode=") + to_string(o.mode));
  if (o.mode == SearchMode::kHybrid) {
    add(std::string("hybrid=") + to_string(o.hybrid_fusion));
    if (o.hybrid_fusion == HybridFusion::kWeighted) {
      add("text_weight=" + std::to_string(o.text_weight));
    } else if (o.fusion != Fusion::kRrf) {
      add("rrf_k=" + std::to_string(o.rrf_k));  // hybrid RRF uses it even with score fusion
    }
  }
  return key;
}

// What the search fetches: the rerank candidates when reranking (at least top_k).
RetrieveOptions search_options(const QueryTarget& t) {
  RetrieveOptions o = t.options;
  if (t.rerank.model) o.top_k = std::max(o.top_k, t.rerank.candidates);
  return o;
}

void check_rerank(const RerankOptions& r) {
  if (r.model && (r.candidates == 0 || r.candidates > RerankOptions::kMaxCandidates)) {
    throw InputError("rerank candidates " + std::to_string(r.candidates) +
                     " is out of range; use 1 to " + std::to_string(RerankOptions::kMaxCandidates));
  }
}

bool all_zero(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
}

}  // namespace

const char* to_string(CacheOutcome outcome) {
  switch (outcome) {
    case CacheOutcome::kOff:
      return "off";
    case CacheOutcome::kMiss:
      return "miss";
    case CacheOutcome::kExactHit:
      return "exact";
    case CacheOutcome::kSemanticHit:
      return "semantic";
  }
  return "off";
}

std::string metric_of(const std::vector<CollectionInfo>& tables) {
  std::set<std::string> metrics;
  for (const CollectionInfo& c : tables) metrics.insert(to_string(c.metric));
  std::string out;
  for (const std::string& m : metrics) {
    if (!out.empty()) out += '+';
    out += m;
  }
  return out;
}

std::vector<Hit> to_hits(std::vector<RetrievedHit> hits) {
  std::vector<Hit> out;
  out.reserve(hits.size());
  for (RetrievedHit& h : hits) {
    out.push_back(Hit{std::move(h.id), std::move(h.text), h.similarity, std::move(h.metadata_json),
                      std::move(h.source), std::move(h.source_table)});
  }
  return out;
}

struct QueryPipeline::Impl {
  std::shared_ptr<VectorStore> store;
  std::shared_ptr<AsyncEmbedding> embedder;  // one of embedder / model
  std::shared_ptr<EmbeddingModel> model;
  QueryPipelineOptions options;
  std::shared_ptr<Runtime> runtime;
  std::string model_id;
  size_t dim = 0;

  std::mutex mutex;
  std::map<std::string, std::shared_ptr<ParallelRetriever>> retrievers;  // by table list

  std::shared_ptr<ParallelRetriever> retriever(const std::vector<std::string>& tables) {
    std::string key;
    for (const auto& t : tables) key += t + '\n';
    std::lock_guard lock(mutex);
    auto it = retrievers.find(key);
    if (it != retrievers.end()) return it->second;
    // Beyond the bound the map starts afresh; calls in flight keep their retrievers alive.
    if (retrievers.size() >= options.max_retrievers) retrievers.clear();
    ParallelRetrieverOptions o;
    o.monitor = options.monitor;
    o.runtime = runtime;
    o.open_location = options.open_location;
    auto r = embedder ? std::make_shared<ParallelRetriever>(store, embedder, tables, dim, o)
                      : std::make_shared<ParallelRetriever>(store, model, tables, dim, o);
    retrievers.emplace(std::move(key), r);
    return r;
  }

  CacheScope scope(const QueryTarget& t) const {
    return CacheScope{.tables = t.tables,
                      .top_k = t.options.top_k,
                      .model_id = model_id,
                      .metric = t.metric,
                      .filters = options_key(t)};
  }

  std::optional<QueryAnswer> from_cache(const std::optional<CacheHit>& hit,
                                        Clock::time_point start) const {
    if (!hit) return std::nullopt;
    std::optional<std::vector<RetrievedHit>> hits = query::decode_hits(hit->payload);
    if (!hits) return std::nullopt;  // not written by this pipeline: answer afresh
    QueryAnswer a;
    a.result.hits = std::move(*hits);
    a.cache =
        hit->kind == CacheHitKind::kExact ? CacheOutcome::kExactHit : CacheOutcome::kSemanticHit;
    a.cache_similarity = hit->similarity;
    a.result.timings.total_s = seconds_since(start);
    return a;
  }

  void check_vector(std::span<const float> vector) const {
    if (vector.size() != dim) {
      throw InputError("query vector has " + std::to_string(vector.size()) +
                       " floats but the model " + model_id + " has dimension " +
                       std::to_string(dim) + "; embed it with that model");
    }
    if (all_zero(vector)) {
      throw UnknownWordsError("no word of the query is known to the model " + model_id +
                              " (its embedding is all zeros, so nothing is similar to it); "
                              "rephrase the question with other words");
    }
  }

  // Offers a searched answer to the cache (under the epoch read before the search).
  void remember(const QueryTarget& t, uint64_t epoch, std::string_view text,
                std::span<const float> vector, const RetrieveResult& r) const {
    SemanticCache* cache = options.cache;
    if (!cache || !r.failures.empty()) return;
    try {
      cache->store_if_current(epoch, scope(t), text, vector, query::encode_hits(r.hits));
    } catch (...) {  // NOLINT(bugprone-empty-catch): good hits do not fail because caching did
    }
  }

  // Scores the searched candidates with the target's cross-encoder and keeps the top_k by that
  // score (ties keep the retrieval order). `t` and `r` outlive the call (awaited at once).
  boost::asio::awaitable<void> rerank(const QueryTarget& t, std::string_view text,
                                      RetrieveResult& r) const {
    if (!t.rerank.model) co_return;
    const Clock::time_point t0 = Clock::now();
    std::vector<RetrievedHit>& hits = r.hits;
    if (!hits.empty()) {
      std::vector<std::string> passages;
      passages.reserve(hits.size());
      for (const RetrievedHit& h : hits) passages.push_back(h.text);
      // A named local, not a temporary in the co_await expression (GCC 12). It points at the
      // model the target keeps alive, so no owner is released on the compute thread.
      const CrossEncoder* reranker = t.rerank.model.get();
      auto score = [reranker, query = std::string(text), p = std::move(passages)] {
        return reranker->score(query, p);
      };
      const std::vector<PairScore> scores = co_await runtime->on_compute(std::move(score));
      for (size_t i = 0; i < hits.size(); ++i) {
        hits[i].retrieval_score = hits[i].score;
        hits[i].score = scores[i].score;
      }
      std::stable_sort(hits.begin(), hits.end(), [](const RetrievedHit& a, const RetrievedHit& b) {
        return a.score > b.score;
      });
      if (hits.size() > t.options.top_k) hits.resize(t.options.top_k);
    }
    r.timings.rerank_s = seconds_since(t0);
    if (options.monitor) options.monitor->record("rerank", r.timings.rerank_s);
  }

  static boost::asio::awaitable<QueryAnswer> answer_embedded(std::shared_ptr<Impl> self,
                                                             QueryTarget target, std::string text,
                                                             std::vector<float> vector,
                                                             Clock::time_point start) {
    Impl& im = *self;
    im.check_vector(vector);
    check_rerank(target.rerank);
    SemanticCache* cache = im.options.cache;
    if (cache) {
      if (auto a = im.from_cache(cache->lookup(im.scope(target), text, vector), start)) {
        co_return std::move(*a);
      }
    }
    // Read before the tables are: see the cache rule in the header.
    const uint64_t epoch = cache ? cache->epoch() : 0;
    std::shared_ptr<ParallelRetriever> retriever = im.retriever(target.tables);
    QueryAnswer a;
    a.result = co_await retriever->async_retrieve_embedded(text, vector, search_options(target));
    co_await im.rerank(target, text, a.result);
    a.cache = cache ? CacheOutcome::kMiss : CacheOutcome::kOff;
    im.remember(target, epoch, text, vector, a.result);
    a.result.timings.total_s = seconds_since(start);
    co_return a;
  }

  static boost::asio::awaitable<QueryAnswer> run(std::shared_ptr<Impl> self, QueryTarget target,
                                                 std::string text) {
    const Clock::time_point start = Clock::now();
    Impl& im = *self;
    check_rerank(target.rerank);
    if (SemanticCache* cache = im.options.cache) {
      if (auto a = im.from_cache(cache->lookup_exact(im.scope(target), text), start)) {
        co_return std::move(*a);
      }
    }
    std::shared_ptr<ParallelRetriever> retriever = im.retriever(target.tables);
    const Clock::time_point embed_start = Clock::now();
    std::vector<float> vector = co_await retriever->async_embed(text);
    const double embed_s = seconds_since(embed_start);
    if (im.options.monitor) im.options.monitor->record("embed", embed_s);
    QueryAnswer a = co_await answer_embedded(self, std::move(target), std::move(text),
                                             std::move(vector), start);
    a.result.timings.embed_s = embed_s;
    co_return a;
  }

  // One plain table: the group's misses in one async_search_batch() call.
  static boost::asio::awaitable<std::vector<Outcome<QueryAnswer>>> answer_group(
      std::shared_ptr<Impl> self, QueryTarget target, std::vector<std::string> texts,
      std::vector<std::vector<float>> vectors) {
    const Clock::time_point start = Clock::now();
    Impl& im = *self;
    const size_t n = texts.size();
    std::vector<Outcome<QueryAnswer>> out(n);
    SemanticCache* cache = im.options.cache;
    std::vector<size_t> misses;
    for (size_t i = 0; i < n; ++i) {
      try {
        im.check_vector(vectors[i]);
        if (cache) {
          if (auto a =
                  im.from_cache(cache->lookup(im.scope(target), texts[i], vectors[i]), start)) {
            out[i].value = std::move(*a);
            continue;
          }
        }
        misses.push_back(i);
      } catch (...) {
        out[i].error = std::current_exception();
      }
    }
    if (misses.empty()) co_return out;
    check_rerank(target.rerank);
    const RetrieveOptions ro = search_options(target);
    const SearchOptions so = per_table_search_options(ro);
    std::vector<std::vector<float>> queries;
    queries.reserve(misses.size());
    for (size_t i : misses) queries.push_back(vectors[i]);
    const uint64_t epoch = cache ? cache->epoch() : 0;
    const Clock::time_point search_start = Clock::now();
    std::vector<SearchResult> results;
    std::exception_ptr failed;
    try {
      results =
          co_await im.store->async_search_batch(target.tables.front(), std::move(queries), so);
      if (results.size() != misses.size()) {
        throw Error(ErrorCode::kQuery, "the store " + im.store->describe() + " returned " +
                                           std::to_string(results.size()) + " results for " +
                                           std::to_string(misses.size()) +
                                           " queries of one search_batch() call (a store bug)");
      }
    } catch (...) {
      failed = std::current_exception();
    }
    const double query_s = seconds_since(search_start);
    const std::string& table = target.tables.front();
    for (size_t j = 0; j < misses.size(); ++j) {
      Outcome<QueryAnswer>& o = out[misses[j]];
      if (failed || results[j].error) {
        o.error = failed ? failed : results[j].error;
        continue;
      }
      try {
        const Clock::time_point m0 = Clock::now();
        std::vector<std::vector<Hit>> per_table;
        per_table.push_back(std::move(results[j].hits));
        o.value.result.hits = merge_hits(std::move(per_table), std::span(&table, 1), ro);
        o.value.result.timings.merge_s = seconds_since(m0);
        o.value.result.timings.query_s = query_s;
        o.value.result.timings.table_s = {query_s};
        co_await im.rerank(target, texts[misses[j]], o.value.result);
        o.value.cache = cache ? CacheOutcome::kMiss : CacheOutcome::kOff;
        im.remember(target, epoch, texts[misses[j]], vectors[misses[j]], o.value.result);
        o.value.result.timings.total_s = seconds_since(start);
      } catch (...) {
        o.error = std::current_exception();
      }
    }
    co_return out;
  }
};

QueryPipeline::QueryPipeline(std::shared_ptr<VectorStore> store,
                             std::shared_ptr<AsyncEmbedding> embedder, QueryPipelineOptions options)
    : QueryPipeline(
          std::move(store),
          embedder ? std::shared_ptr<EmbeddingModel>(embedder, &embedder->model()) : nullptr,
          std::move(options)) {
  impl_->embedder = std::move(embedder);
}

QueryPipeline::QueryPipeline(std::shared_ptr<VectorStore> store,
                             std::shared_ptr<EmbeddingModel> model, QueryPipelineOptions options)
    : impl_(std::make_shared<Impl>()) {
  if (!model) throw ConfigError("QueryPipeline needs an embedding model (got none)");
  if (options.max_retrievers == 0) {
    throw ConfigError("QueryPipeline max_retrievers=0: keep at least one retriever");
  }
  impl_->store = std::move(store);
  impl_->model = std::move(model);
  impl_->model_id = impl_->model->id();
  impl_->dim = impl_->model->dim();
  impl_->options = std::move(options);
  impl_->runtime = impl_->options.runtime ? impl_->options.runtime : Runtime::shared();
}

QueryPipeline::~QueryPipeline() = default;

boost::asio::awaitable<QueryAnswer> QueryPipeline::async_query(QueryTarget target,
                                                               std::string text) {
  return Impl::run(impl_, std::move(target), std::move(text));
}

std::vector<std::string> QueryPipeline::prepare(const std::vector<std::string>& tables) {
  return impl_->retriever(tables)->tables();
}

QueryAnswer QueryPipeline::query(QueryTarget target, std::string text) {
  return impl_->runtime->run_blocking(Impl::run(impl_, std::move(target), std::move(text)));
}

std::optional<QueryAnswer> QueryPipeline::lookup_exact(const QueryTarget& target,
                                                       std::string_view text) {
  SemanticCache* cache = impl_->options.cache;
  if (!cache) return std::nullopt;
  return impl_->from_cache(cache->lookup_exact(impl_->scope(target), text), Clock::now());
}

boost::asio::awaitable<QueryAnswer> QueryPipeline::async_answer_embedded(
    QueryTarget target, std::string text, std::vector<float> vector) {
  return Impl::answer_embedded(impl_, std::move(target), std::move(text), std::move(vector),
                               Clock::now());
}

boost::asio::awaitable<std::vector<Outcome<QueryAnswer>>> QueryPipeline::async_answer_group(
    QueryTarget target, std::vector<std::string> texts, std::vector<std::vector<float>> vectors) {
  if (texts.size() != vectors.size()) {
    throw InputError("async_answer_group: " + std::to_string(texts.size()) + " texts but " +
                     std::to_string(vectors.size()) + " vectors; give one vector per text");
  }
  const bool one_plain_table =
      target.tables.size() == 1 && TableRef::parse(target.tables.front()).location.empty();
  // Only vector searches have a batched form (VectorStore::async_search_batch).
  if (one_plain_table && impl_->store && target.options.mode == SearchMode::kVector) {
    return Impl::answer_group(impl_, std::move(target), std::move(texts), std::move(vectors));
  }
  std::vector<boost::asio::awaitable<QueryAnswer>> each;
  each.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    each.push_back(async_answer_embedded(target, std::move(texts[i]), std::move(vectors[i])));
  }
  return when_all(std::move(each));
}

CacheScope QueryPipeline::scope(const QueryTarget& target) const {
  return impl_->scope(target);
}

size_t QueryPipeline::dim() const {
  return impl_->dim;
}

const std::string& QueryPipeline::model_id() const {
  return impl_->model_id;
}

}  // namespace ragperf
