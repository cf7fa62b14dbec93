// PerformanceMonitor for Python: the C++ monitor itself, so that the C++ components' own stages
// land in the monitor a Python program reads.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace ragperf::python {

namespace {

py::dict stage_dict(const StageStats& s) {
  py::dict d;
  d["count"] = s.count;
  d["mean"] = s.mean_s;
  d["p50"] = s.p50_s;
  d["p95"] = s.p95_s;
  d["p99"] = s.p99_s;
  d["min"] = s.min_s;
  d["max"] = s.max_s;
  d["total"] = s.sum_s;
  d["throughput_per_sec"] = s.throughput_per_s;
  return d;
}

}  // namespace

void bind_monitor(py::module_& m) {
  py::class_<PerformanceMonitor, std::shared_ptr<PerformanceMonitor>>(m, "Monitor")
      .def(py::init<>())
      .def(
          "record",
          [](PerformanceMonitor& self, const std::string& name, double seconds) {
            self.record(name, seconds);
          },
          py::arg("name"), py::arg("seconds"))
      .def(
          "increment",
          [](PerformanceMonitor& self, const std::string& name, uint64_t n) {
            self.increment(name, n);
          },
          py::arg("counter"), py::arg("n") = 1)
      .def(
          "counter",
          [](const PerformanceMonitor& self, const std::string& name) {
            return self.counter(name);
          },
          py::arg("counter"))
      .def(
          "stage_stats",
          [](const PerformanceMonitor& self, const std::string& name) -> py::object {
            std::optional<StageStats> s = self.get_stats(name);
            if (!s) return py::none();
            return stage_dict(*s);
          },
          py::arg("name"))
      .def("all_stats",
           [](const PerformanceMonitor& self) {
             py::dict d;
             for (const StageStats& s : self.get_stats()) d[py::str(s.name)] = stage_dict(s);
             return d;
           })
      .def(
          "export_metrics",
          [](const PerformanceMonitor& self, const std::string& format) {
            if (format == "json") return self.export_metrics(MetricsFormat::kJson);
            if (format == "prometheus") return self.export_metrics(MetricsFormat::kPrometheus);
            throw InputError("export_metrics(format='" + format +
                             "'): the format must be 'json' or 'prometheus'");
          },
          py::arg("format") = "json")
      .def("reset", [](PerformanceMonitor& self) { self.reset(); })
      .def(
          "reset_stage",
          [](PerformanceMonitor& self, const std::string& name) { self.reset(name); },
          py::arg("name"));
}

}  // namespace ragperf::python
