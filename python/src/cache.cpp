// SemanticCache for Python: the C++ cache itself, so that a BatchProcessor given one (cache=)
// answers repeated queries from it, and Python code can store and look up its own answers.
//
// Python's own entries live in scopes of their own (metric "python", the caller's scope name as
// the model id): they never mix with the query path's entries, whose payloads are serialised
// hits. Payloads are bytes; the Python layer (ragperf/cache.py) encodes values into them.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <span>

#include "bindings.h"
#include "ragperf/semantic_cache.h"

namespace ragperf::python {

namespace {

CacheScope python_scope(const std::string& scope) {
  CacheScope s;
  s.model_id = scope;
  s.metric = "python";
  return s;
}

/// A 1-D float32 view of `embedding` (None: empty). InputError naming the argument otherwise.
std::vector<float> embedding_arg(const py::object& embedding) {
  if (embedding.is_none()) return {};
  auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(embedding);
  if (!a) throw InputError("embedding must be a 1-D sequence of numbers (or None)");
  if (a.ndim() != 1 || a.shape(0) == 0)
    throw InputError("embedding must be a non-empty 1-D array of floats, not an array of " +
                     std::to_string(a.ndim()) + " dimension(s) and " + std::to_string(a.size()) +
                     " value(s)");
  return std::vector<float>(a.data(), a.data() + a.shape(0));
}

std::optional<std::chrono::duration<double>> ttl_arg(std::optional<double> ttl) {
  if (!ttl) return std::nullopt;
  return std::chrono::duration<double>(*ttl);
}

py::dict stats_dict(const CacheStats& s) {
  py::dict d;
  d["exact_hits"] = s.exact_hits;
  d["semantic_hits"] = s.semantic_hits;
  d["hits"] = s.exact_hits + s.semantic_hits;
  d["misses"] = s.misses + s.exact_probe_misses;
  d["stores"] = s.stores;
  d["evictions"] = s.evictions;
  d["expirations"] = s.expirations;
  d["invalidations"] = s.invalidations;
  d["entries"] = s.entries;
  d["hit_rate"] = s.hit_rate();
  d["lookup_p50"] = s.lookup_p50_s;
  d["lookup_p99"] = s.lookup_p99_s;
  return d;
}

}  // namespace

void bind_cache(py::module_& m) {
  py::class_<PyCache, std::shared_ptr<PyCache>>(m, "Cache")
      .def(py::init([](size_t capacity, double ttl, double similarity_threshold, bool exact_only,
                       bool negation_guard, std::shared_ptr<PerformanceMonitor> monitor) {
             SemanticCacheOptions options;
             options.capacity = capacity;
             options.ttl = std::chrono::duration<double>(ttl);
             options.similarity_threshold = similarity_threshold;
             options.exact_only = exact_only;
             options.negation_guard = negation_guard;
             auto self = std::make_shared<PyCache>();
             self->cache = std::make_shared<SemanticCache>(std::move(options), monitor.get());
             self->monitor = std::move(monitor);
             return self;
           }),
           py::arg("capacity"), py::arg("ttl"), py::arg("similarity_threshold"),
           py::arg("exact_only"), py::arg("negation_guard"), py::arg("monitor") = nullptr)
      .def(
          "lookup",
          [](PyCache& self, py::handle text, const py::object& embedding,
             const std::string& scope) -> py::object {
            std::string t = text_arg(text, "query");
            std::vector<float> e = embedding_arg(embedding);
            std::optional<CacheHit> hit = without_gil([&] {
              return self.cache->lookup(python_scope(scope), t, std::span<const float>(e));
            });
            if (!hit) return py::none();
            return py::make_tuple(py::bytes(hit->payload),
                                  hit->kind == CacheHitKind::kExact ? "exact" : "semantic",
                                  hit->similarity, py::str(hit->stored_text));
          },
          py::arg("text"), py::arg("embedding"), py::arg("scope"))
      .def(
          "store",
          [](PyCache& self, py::handle text, const py::object& embedding, py::bytes payload,
             const std::string& scope, std::optional<double> ttl) {
            std::string t = text_arg(text, "query");
            std::vector<float> e = embedding_arg(embedding);
            std::string p = payload;
            without_gil([&] {
              self.cache->store(python_scope(scope), t, std::span<const float>(e), std::move(p),
                                ttl_arg(ttl));
            });
          },
          py::arg("text"), py::arg("embedding"), py::arg("payload"), py::arg("scope"),
          py::arg("ttl") = py::none())
      .def(
          "invalidate_table",
          [](PyCache& self, const std::string& table) {
            return without_gil([&] { return self.cache->invalidate_table(table); });
          },
          py::arg("table"))
      .def("purge_expired",
           [](PyCache& self) { return without_gil([&] { return self.cache->purge_expired(); }); })
      .def("clear", [](PyCache& self) { without_gil([&] { self.cache->clear(); }); })
      .def("get_stats",
           [](PyCache& self) {
             CacheStats s = without_gil([&] { return self.cache->get_stats(); });
             return stats_dict(s);
           })
      .def("size", [](PyCache& self) { return self.cache->size(); })
      .def_property_readonly("capacity",
                             [](const PyCache& self) { return self.cache->options().capacity; })
      .def_property_readonly("ttl",
                             [](const PyCache& self) { return self.cache->options().ttl.count(); })
      .def_property_readonly(
          "similarity_threshold",
          [](const PyCache& self) { return self.cache->options().similarity_threshold; })
      .def_property_readonly("exact_only",
                             [](const PyCache& self) { return self.cache->options().exact_only; })
      .def_property_readonly("negation_guard", [](const PyCache& self) {
        return self.cache->options().negation_guard;
      });
}

}  // namespace ragperf::python
