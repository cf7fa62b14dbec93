// ParallelRetriever and BatchProcessor for Python: both borrow an embedder and a store, which the
// wrappers keep alive; results are converted to lists of dicts in the completion (GIL held).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <boost/asio/co_spawn.hpp>
#include <optional>
#include <stop_token>
#include <type_traits>

#include "bindings.h"
#include "ragperf/batch_processor.h"
#include "ragperf/config.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/retriever.h"

namespace ragperf::python {

namespace {

py::object json_loads(const std::string& text) {
  if (text.empty()) return py::dict();
  static py::object* loads =
      new py::object(py::module_::import("json").attr("loads"));  // leaked on purpose
  return (*loads)(py::str(text));
}

// A store's Hit or a merged RetrievedHit (which adds similarity and source_tables) as a dict.
template <typename H>
py::dict hit_dict(const H& h) {
  py::dict d;
  d["id"] = h.id;
  d["text"] = h.text;
  d["score"] = h.score;
  if constexpr (std::is_same_v<H, RetrievedHit>) d["similarity"] = h.similarity;
  d["source_table"] = h.source_table;
  if constexpr (std::is_same_v<H, RetrievedHit>) d["source_tables"] = h.source_tables;
  d["source"] = h.source;
  d["metadata"] = json_loads(h.metadata_json);
  if (h.vector_rank) d["vector_rank"] = h.vector_rank;  // hybrid search: ranks in each list
  if (h.text_rank) d["text_rank"] = h.text_rank;
  return d;
}

template <typename H>
py::list hits_list(const std::vector<H>& hits) {
  py::list out;
  for (const H& h : hits) out.append(hit_dict(h));
  return out;
}

// ParallelRetriever for Python: the one query path (QueryPipeline) with a fixed table list, so
// that a SemanticCache, when given, answers repeated queries as it does for /query.
struct PyRetriever {
  std::shared_ptr<PyEmbedding> embedding;
  std::shared_ptr<PyStore> store;
  std::shared_ptr<PerformanceMonitor> monitor;
  std::shared_ptr<PyCache> cache;  // may be null
  std::unique_ptr<QueryPipeline> pipeline;
  QueryTarget target;  // tables and metric; each call sets its options
  size_t dim = 0;
  ~PyRetriever() { reset_without_gil(pipeline); }
};

// The plain tables' metric (QueryTarget::metric, as the server sets it); tables not registered
// (yet) and "name@location" ones add nothing.
std::string tables_metric(VectorStore& store, const std::vector<std::string>& tables) {
  std::vector<CollectionInfo> infos;
  for (const std::string& t : tables) {
    if (t.find('@') != std::string::npos) continue;
    if (std::optional<CollectionInfo> info = store.collection(t)) infos.push_back(*info);
  }
  return ragperf::metric_of(infos);
}

struct PyBatch {
  std::shared_ptr<PyEmbedding> embedding;
  std::shared_ptr<PyStore> store;
  std::shared_ptr<PerformanceMonitor> monitor;
  std::shared_ptr<PyCache> cache;  // may be null
  std::unique_ptr<BatchProcessor> processor;
  ~PyBatch() { reset_without_gil(processor); }  // finishes pending queries
};

/// Cancels one queued query (BatchProcessor drops it before spending work on it).
struct StopHandle {
  std::stop_source source;
};

py::dict batch_stats(const BatchStats& s) {
  py::dict d;
  d["queries"] = s.queries;
  d["completed"] = s.completed;
  d["failed"] = s.failed;
  d["cancelled"] = s.cancelled;
  d["rejected"] = s.rejected;
  d["batches"] = s.batches;
  d["batched_queries"] = s.batched_queries;
  d["largest_batch"] = s.largest_batch;
  d["cache_exact_hits"] = s.cache_exact_hits;
  d["cache_semantic_hits"] = s.cache_semantic_hits;
  d["mean_batch_size"] = s.mean_batch_size();
  d["queued"] = s.queued;
  d["in_flight"] = s.in_flight;
  return d;
}

}  // namespace

void bind_retrieve(py::module_& m) {
  py::class_<PyRetriever, std::shared_ptr<PyRetriever>>(m, "Retriever")
      .def(
          py::init([](std::shared_ptr<PyStore> store, std::shared_ptr<PyEmbedding> embedding,
                      std::vector<std::string> tables, std::optional<size_t> embed_dim,
                      std::shared_ptr<PerformanceMonitor> monitor, std::shared_ptr<PyCache> cache) {
            auto self = std::make_shared<PyRetriever>();
            self->embedding = embedding;
            self->store = store;
            self->monitor = monitor;
            self->cache = cache;
            self->dim = embedding->model->dim();
            if (embed_dim && *embed_dim != self->dim) {
              throw ConfigError("ParallelRetriever: embed_dim=" + std::to_string(*embed_dim) +
                                " but model " + embedding->model->id() + " has dimension " +
                                std::to_string(self->dim) +
                                "; pass embed_dim=" + std::to_string(self->dim) +
                                " (or leave it out) or a model of "
                                "dimension " +
                                std::to_string(*embed_dim));
            }
            without_gil([&] {
              QueryPipelineOptions options;
              options.monitor = monitor.get();
              options.cache = cache ? cache->cache.get() : nullptr;
              options.open_location = default_store_opener(load_settings());
              self->pipeline = std::make_unique<QueryPipeline>(store->store, embedding->embedder,
                                                               std::move(options));
              self->target.tables = self->pipeline->prepare(tables);
              self->target.metric = tables_metric(*store->store, self->target.tables);
            });
            return self;
          }),
          py::arg("store"), py::arg("embedding"), py::arg("tables"), py::arg("embed_dim"),
          py::arg("monitor") = nullptr, py::arg("cache") = nullptr)
      .def(
          "submit",
          [](std::shared_ptr<PyRetriever> self, py::handle query, size_t top_k, bool deduplicate,
             py::object resolve, py::handle where, py::handle mode) {
            std::string text = text_arg(query, "query");
            QueryTarget target = self->target;
            target.options.top_k = top_k;
            target.options.deduplicate = deduplicate;
            if (!where.is_none()) target.options.where = text_arg(where, "where");
            if (!mode.is_none()) target.options.mode = parse_search_mode(text_arg(mode, "mode"));
            auto done = make_callback<RetrieveResult>(
                std::move(resolve),
                [](RetrieveResult r) -> py::object { return hits_list(r.hits); });
            without_gil([&] {
              // The handler keeps this wrapper (the cache and monitor the pipeline borrows)
              // alive until the query ends; it is released on the Runtime with its last use.
              boost::asio::co_spawn(Runtime::shared()->io_executor(),
                                    self->pipeline->async_query(std::move(target), std::move(text)),
                                    [keep = self, done = std::move(done)](
                                        std::exception_ptr error, QueryAnswer answer) mutable {
                                      done(error, std::move(answer.result));
                                    });
            });
          },
          py::arg("query"), py::arg("top_k"), py::arg("deduplicate"), py::arg("resolve"),
          py::arg("where") = py::none(), py::arg("mode") = py::none())
      .def_property_readonly("tables", [](const PyRetriever& self) { return self.target.tables; })
      .def_property_readonly("dim", [](const PyRetriever& self) { return self.dim; });

  py::class_<StopHandle, std::shared_ptr<StopHandle>>(m, "StopHandle")
      .def("cancel", [](StopHandle& self) { return self.source.request_stop(); });

  py::class_<PyBatch, std::shared_ptr<PyBatch>>(m, "Batcher")
      .def(py::init([](std::shared_ptr<PyEmbedding> embedding, std::shared_ptr<PyStore> store,
                       std::string table, std::optional<size_t> batch_size,
                       std::optional<double> timeout, std::shared_ptr<PerformanceMonitor> monitor,
                       std::shared_ptr<PyCache> cache, bool flush_when_idle,
                       std::optional<size_t> top_k, std::optional<std::string> where,
                       std::optional<std::string> mode) {
             auto self = std::make_shared<PyBatch>();
             self->embedding = embedding;
             self->store = store;
             self->monitor = monitor;
             self->cache = cache;
             without_gil([&] {
               BatchProcessorOptions options =
                   BatchProcessorOptions::from_settings(load_settings());
               if (batch_size) options.batch_size = *batch_size;
               if (timeout) options.timeout = std::chrono::duration<double>(*timeout);
               options.monitor = monitor.get();
               options.cache = cache ? cache->cache.get() : nullptr;
               options.flush_when_idle = flush_when_idle;
               if (top_k) options.search.top_k = *top_k;
               if (where) options.search.where = *where;
               if (mode) options.mode = parse_search_mode(*mode);
               self->processor = std::make_unique<BatchProcessor>(
                   embedding->embedder, store->store, std::move(table), std::move(options));
             });
             return self;
           }),
           py::arg("embedding"), py::arg("store"), py::arg("table"), py::arg("batch_size"),
           py::arg("timeout"), py::arg("monitor") = nullptr, py::arg("cache") = nullptr,
           py::arg("flush_when_idle") = false, py::arg("top_k") = py::none(),
           py::arg("where") = py::none(), py::arg("mode") = py::none())
      .def(
          "submit",
          [](PyBatch& self, py::handle query, py::object resolve) {
            std::string text = text_arg(query, "text");
            auto handle = std::make_shared<StopHandle>();
            QueryOptions options;
            options.stop = handle->source.get_token();
            auto done = make_callback<std::vector<Hit>>(
                std::move(resolve),
                [](std::vector<Hit> hits) -> py::object { return hits_list(hits); });
            without_gil([&] { self.processor->submit(std::move(text), options, std::move(done)); });
            return handle;
          },
          py::arg("text"), py::arg("resolve"))
      .def("process_batch",
           [](PyBatch& self) {
             return without_gil([&] { return self.processor->process_batch(); });
           })
      .def(
          "close",
          [](PyBatch& self, bool fail_pending) {
            without_gil([&] {
              self.processor->close(fail_pending ? BatchProcessor::CloseMode::kFailPending
                                                 : BatchProcessor::CloseMode::kFinishPending);
            });
          },
          py::arg("fail_pending") = false)
      .def("get_stats",
           [](PyBatch& self) {
             BatchStats s = without_gil([&] { return self.processor->get_stats(); });
             return batch_stats(s);
           })
      .def_property_readonly(
          "batch_size", [](const PyBatch& self) { return self.processor->options().batch_size; })
      .def_property_readonly(
          "timeout", [](const PyBatch& self) { return self.processor->options().timeout.count(); })
      .def_property_readonly("table", [](const PyBatch& self) { return self.processor->table(); })
      .def_property_readonly("flush_when_idle", [](const PyBatch& self) {
        return self.processor->options().flush_when_idle;
      });
}

}  // namespace ragperf::python
