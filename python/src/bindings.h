// bindings.h declares the objects ragperf._core hands to Python and the functions that bind each
// group of them (one .cpp each). Every object holds its C++ component through a shared_ptr, plus
// shared_ptrs to what that component borrows (a model, a store, a monitor), so that Python's
// reference counting keeps the borrowed parts alive as long as their user.
#pragma once

// GCC reports -Wnull-dereference inside pybind11's numpy.h when it is inlined at -O3 (a false
// positive in a third-party header, like Asio's in ragperf/runtime.h): silence it there only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <pybind11/numpy.h>
#pragma GCC diagnostic pop
#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "bridge.h"
#include "ragperf/async_embedding.h"
#include "ragperf/db_pool.h"
#include "ragperf/embedding_model.h"
#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"
#include "ragperf/vector_store.h"

namespace ragperf::python {

/// An AsyncEmbedding and its model (ParallelRetriever needs both).
struct PyEmbedding {
  std::shared_ptr<PerformanceMonitor> monitor;  // receives "tokenize" / "embed"; may be null
  std::shared_ptr<EmbeddingModel> model;
  std::shared_ptr<AsyncEmbedding> embedder;
  std::string name;  // as given (folder or hub id)
  ~PyEmbedding() {
    reset_without_gil(embedder);
  }  // finishes queued requests (their callbacks need the GIL)
};

/// A DatabaseConnectionPool (closed by its destructor, with the GIL released).
struct PyPool {
  std::shared_ptr<DatabaseConnectionPool> pool;
  std::shared_ptr<PerformanceMonitor> monitor;
  ~PyPool() { reset_without_gil(pool); }
};

/// A VectorStore: the embedded LocalStore or a PgVectorStore on a PyPool.
struct PyStore {
  std::shared_ptr<PyPool> pool;  // null for a LocalStore
  std::shared_ptr<VectorStore> store;
  ~PyStore() { reset_without_gil(store); }
};

/// A SemanticCache (BatchProcessor borrows it: the processor's wrapper keeps this alive).
struct PyCache {
  std::shared_ptr<PerformanceMonitor> monitor;  // receives "cache" and its counters; may be null
  std::shared_ptr<SemanticCache> cache;
};

/// `m` (rows × dim) as a float32 numpy array of that shape; a 1-D array of dim floats when
/// `one_row`.
py::array_t<float> to_numpy(const EmbeddingMatrix& m, bool one_row);

void bind_monitor(py::module_& m);
void bind_embedding(py::module_& m);
void bind_store(py::module_& m);
void bind_cache(py::module_& m);
void bind_retrieve(py::module_& m);
void bind_pool(py::module_& m);

}  // namespace ragperf::python
