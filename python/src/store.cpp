// VectorStore for Python: the embedded LocalStore or a PgVectorStore on a pool, for filling
// tables (ingesting vectors computed elsewhere) and for ParallelRetriever / BatchProcessor. These
// calls block (with the GIL released); the Python layer offers them as plain methods.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <map>

#include "bindings.h"
#include "ragperf/config.h"
#include "ragperf/local_store.h"
#include "ragperf/pgvector_store.h"

namespace ragperf::python {

namespace {

py::dict collection_dict(const CollectionInfo& c) {
  py::dict d;
  d["name"] = c.name;
  d["dim"] = c.dim;
  d["metric"] = to_string(c.metric);
  d["model_id"] = c.model_id;
  d["count"] = c.count;
  return d;
}

}  // namespace

void bind_store(py::module_& m) {
  py::class_<PyStore, std::shared_ptr<PyStore>>(m, "Store")
      .def_static(
          "local",
          [](std::optional<std::string> folder) {
            auto self = std::make_shared<PyStore>();
            without_gil([&] {
              std::filesystem::path path =
                  folder ? std::filesystem::path(*folder) : load_settings().home / "store";
              self->store = std::make_shared<LocalStore>(path);
            });
            return self;
          },
          py::arg("folder") = py::none(),
          "The embedded store in `folder` (default RAGPERF_HOME/store), created when missing.")
      .def_static(
          "postgres",
          [](std::shared_ptr<PyPool> pool) {
            auto self = std::make_shared<PyStore>();
            self->pool = pool;
            without_gil([&] { self->store = std::make_shared<PgVectorStore>(pool->pool); });
            return self;
          },
          py::arg("pool"))
      .def(
          "ensure_collection",
          [](PyStore& self, const std::string& name, size_t dim, const std::string& metric,
             const std::string& model_id) {
            Metric parsed = parse_metric(metric);
            CollectionInfo info = without_gil(
                [&] { return self.store->ensure_collection(name, dim, parsed, model_id); });
            return collection_dict(info);
          },
          py::arg("name"), py::arg("dim"), py::arg("metric"), py::arg("model_id"))
      .def(
          "adopt",
          [](PyStore& self, const std::string& name, size_t dim, const std::string& metric,
             const std::string& model_id, const std::map<std::string, std::string>& columns) {
            auto* pg = dynamic_cast<PgVectorStore*>(self.store.get());
            if (!pg)
              throw InputError("adopt('" + name +
                               "'): only a PostgreSQL store can adopt an existing table; use "
                               "VectorStore.postgres(pool)");
            PgColumns cols;
            for (const auto& [key, value] : columns) {
              if (key == "id")
                cols.id = value;
              else if (key == "text")
                cols.text = value;
              else if (key == "metadata")
                cols.metadata = value;
              else if (key == "content_hash")
                cols.content_hash = value;
              else if (key == "source")
                cols.source = value;
              else if (key == "embedding")
                cols.embedding = value;
              else
                throw InputError("adopt('" + name + "'): unknown column role '" + key +
                                 "'; use id, text, metadata, content_hash, source, embedding");
            }
            Metric parsed = parse_metric(metric);
            CollectionInfo info =
                without_gil([&] { return pg->adopt(name, dim, parsed, model_id, cols); });
            return collection_dict(info);
          },
          py::arg("name"), py::arg("dim"), py::arg("metric"), py::arg("model_id"),
          py::arg("columns"))
      .def(
          "add",
          [](PyStore& self, const std::string& name, const std::vector<std::string>& ids,
             const py::list& texts,
             const py::array_t<float, py::array::c_style | py::array::forcecast>& embeddings,
             const std::vector<std::string>& metadata, const std::vector<std::string>& sources) {
            const size_t n = ids.size();
            if (embeddings.ndim() != 2 || static_cast<size_t>(embeddings.shape(0)) != n ||
                py::len(texts) != n || metadata.size() != n || sources.size() != n)
              throw InputError("add('" + name +
                               "'): ids, texts, metadata, sources and the rows of " +
                               "embeddings must have the same length (" + std::to_string(n) + ")");
            const size_t dim = static_cast<size_t>(embeddings.shape(1));
            std::vector<Chunk> chunks(n);
            for (size_t i = 0; i < n; ++i) {
              chunks[i].id = ids[i];
              chunks[i].text = text_arg(texts[i], "texts[" + std::to_string(i) + "]");
              chunks[i].metadata_json = metadata[i];
              chunks[i].source = sources[i];
              const float* row = embeddings.data() + i * dim;
              chunks[i].embedding.assign(row, row + dim);
            }
            without_gil([&] { self.store->add(name, chunks); });
          },
          py::arg("name"), py::arg("ids"), py::arg("texts"), py::arg("embeddings"),
          py::arg("metadata"), py::arg("sources"))
      .def(
          "count",
          [](PyStore& self, const std::string& name) {
            return without_gil([&] { return self.store->count(name); });
          },
          py::arg("name"))
      .def(
          "enable_text_search",
          [](PyStore& self, const std::string& name) {
            return without_gil([&] { return self.store->enable_text_search(name); });
          },
          py::arg("name"))
      .def(
          "create_filter_indexes",
          [](PyStore& self, const std::string& name) {
            return without_gil([&] { return self.store->create_filter_indexes(name); });
          },
          py::arg("name"))
      .def(
          "drop",
          [](PyStore& self, const std::string& name) {
            without_gil([&] { self.store->drop(name); });
          },
          py::arg("name"))
      .def("collections",
           [](PyStore& self) {
             std::vector<CollectionInfo> all =
                 without_gil([&] { return self.store->collections(); });
             py::list out;
             for (const CollectionInfo& c : all) out.append(collection_dict(c));
             return out;
           })
      .def("describe", [](const PyStore& self) { return self.store->describe(); });
}

}  // namespace ragperf::python
