// AsyncEmbedding for Python: the model loads with the GIL released; submit() hands the texts to
// AsyncEmbedding::submit and the completion (a compute thread) converts the rows to numpy.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>

#include "bindings.h"
#include "ragperf/config.h"

namespace ragperf::python {

py::array_t<float> to_numpy(const EmbeddingMatrix& m, bool one_row) {
  if (one_row) {
    py::array_t<float> a(static_cast<py::ssize_t>(m.dim));
    if (m.rows > 0) std::memcpy(a.mutable_data(), m.data.data(), m.dim * sizeof(float));
    return a;
  }
  py::array_t<float> a({static_cast<py::ssize_t>(m.rows), static_cast<py::ssize_t>(m.dim)});
  if (!m.data.empty()) std::memcpy(a.mutable_data(), m.data.data(), m.data.size() * sizeof(float));
  return a;
}

namespace {

py::dict stats_dict(const EmbeddingStats& s) {
  py::dict d;
  d["total_embeddings"] = s.embeddings;
  d["total_requests"] = s.requests;
  d["total_batches"] = s.batches;
  d["failed_requests"] = s.failed;
  d["rejected_requests"] = s.rejected;
  d["cancelled_requests"] = s.cancelled;
  d["total_time"] = s.seconds;
  d["throughput_embeddings_per_sec"] = s.throughput_embeddings_per_sec;
  d["avg_batch_size"] =
      s.batches ? static_cast<double>(s.embeddings) / static_cast<double>(s.batches) : 0.0;
  d["device"] = s.device;
  d["threads"] = s.threads;
  d["max_batch_size"] = s.max_batch;
  return d;
}

std::vector<std::string> texts_arg(const py::sequence& texts) {
  std::vector<std::string> out;
  out.reserve(py::len(texts));
  size_t i = 0;
  for (py::handle t : texts) {
    out.push_back(text_arg(t, "texts[" + std::to_string(i) + "]"));
    ++i;
  }
  return out;
}

}  // namespace

void bind_embedding(py::module_& m) {
  py::class_<PyEmbedding, std::shared_ptr<PyEmbedding>>(m, "Embedding")
      .def(py::init([](std::optional<std::string> model_name, std::optional<std::string> device,
                       std::optional<size_t> batch_size,
                       std::shared_ptr<PerformanceMonitor> monitor) {
             auto self = std::make_shared<PyEmbedding>();
             without_gil([&] {
               Settings settings = load_settings();
               self->name = model_name.value_or(settings.embed_model);
               AsyncEmbeddingOptions options = AsyncEmbeddingOptions::from_settings(settings);
               options.device = device.value_or("auto");
               if (batch_size) options.batch_size = *batch_size;
               options.monitor = monitor.get();
               resolve_device(options.device);  // fail before loading weights
               self->model =
                   std::shared_ptr<EmbeddingModel>(load_embedding_model(self->name, settings));
               if (!model_name) check_embed_dim(settings, self->model->dim(), self->name);
               self->monitor = std::move(monitor);
               self->embedder = std::make_shared<AsyncEmbedding>(self->model, options);
             });
             return self;
           }),
           py::arg("model_name") = py::none(), py::arg("device") = py::none(),
           py::arg("batch_size") = py::none(), py::arg("monitor") = nullptr)
      .def(
          "submit",
          [](PyEmbedding& self, const py::sequence& texts, bool one_row, py::object resolve,
             const std::string& truncate) {
            std::vector<std::string> batch = texts_arg(texts);
            // The one rule (ragperf/embedding_model.h): refuse over-long text unless asked.
            Truncation truncation = Truncation::kRefuse;
            if (truncate == "right") {
              truncation = Truncation::kRight;
            } else if (truncate == "left") {
              truncation = Truncation::kLeft;
            } else if (truncate != "none") {
              throw InputError("truncate='" + truncate +
                               "' is not one of None, 'right' (keep the start), 'left' (keep "
                               "the end)");
            }
            std::vector<EmbedInput> inputs;
            inputs.reserve(batch.size());
            for (auto& t : batch) inputs.emplace_back(std::move(t));
            auto done = make_callback<EmbedOutcome>(std::move(resolve),
                                                    [one_row](EmbedOutcome outcome) -> py::object {
                                                      return to_numpy(outcome.vectors, one_row);
                                                    });
            without_gil([&] {
              self.embedder->submit_inputs(std::move(inputs), truncation, std::move(done));
            });
          },
          py::arg("texts"), py::arg("one_row"), py::arg("resolve"), py::arg("truncate") = "none",
          "Embeds `texts`; resolve(exc, array) is called once from a compute thread.")
      .def("get_stats",
           [](PyEmbedding& self) {
             EmbeddingStats s = without_gil([&] { return self.embedder->get_stats(); });
             return stats_dict(s);
           })
      .def_property_readonly("dim", [](const PyEmbedding& self) { return self.model->dim(); })
      .def_property_readonly("model_id", [](const PyEmbedding& self) { return self.model->id(); })
      .def_property_readonly("model_name", [](const PyEmbedding& self) { return self.name; })
      .def_property_readonly("max_tokens",
                             [](const PyEmbedding& self) { return self.model->max_tokens(); })
      .def_property_readonly("device",
                             [](const PyEmbedding& self) { return self.embedder->device(); });
}

}  // namespace ragperf::python
