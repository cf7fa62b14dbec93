// ragperf._core: the native half of the `ragperf` Python package (python/ragperf). The public API
// is the pure-Python layer above it (ragperf/__init__.py); this module offers callback forms that
// the layer turns into awaitables on the caller's event loop (see bridge.h).
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "ragperf/config.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "ragperf's C++ engine; use the `ragperf` package, not this module";
  ragperf::python::register_errors(m);
  ragperf::python::bind_monitor(m);
  ragperf::python::bind_embedding(m);
  ragperf::python::bind_store(m);
  ragperf::python::bind_cache(m);
  ragperf::python::bind_retrieve(m);
  ragperf::python::bind_pool(m);
  m.def(
      "settings",
      [] {
        ragperf::Settings s = ragperf::load_settings();
        py::dict d;
        for (const ragperf::SettingValue& v : s.provenance) {
          d[py::str(v.name)] = py::make_tuple(v.display(), ragperf::to_string(v.source), v.origin);
        }
        return d;
      },
      "The effective settings: {name: (value as printable, source, origin)}, as `ragperf config`.");
}
