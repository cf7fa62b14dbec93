#include "bridge.h"

#include <array>
#include <new>

namespace ragperf::python {

bool interpreter_alive() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() && !Py_IsFinalizing();
#else
  return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

SharedPyObject share(py::object object) {
  return SharedPyObject(new py::object(std::move(object)), [](py::object* o) {
    if (!interpreter_alive()) {
      o->release();  // the interpreter is going away: leak the reference
      delete o;
      return;
    }
    py::gil_scoped_acquire gil;
    delete o;
  });
}

namespace {

// ragperf.errors' classes by ErrorCode, plus the base; strong references kept for the process.
constexpr size_t kCodes = static_cast<size_t>(ErrorCode::kCancelled) + 1;
std::array<PyObject*, kCodes> g_classes{};
PyObject* g_base = nullptr;

const char* class_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConfig:
      return "ConfigError";
    case ErrorCode::kModel:
      return "ModelError";
    case ErrorCode::kInput:
      return "InputError";
    case ErrorCode::kConnection:
      return "ConnectionError";
    case ErrorCode::kQuery:
      return "QueryError";
    case ErrorCode::kPoolExhausted:
      return "PoolExhaustedError";
    case ErrorCode::kTimeout:
      return "TimeoutError";
    case ErrorCode::kOverloaded:
      return "OverloadedError";
    case ErrorCode::kUnavailable:
      return "UnavailableError";
    case ErrorCode::kCancelled:
      return "CancelledError";
  }
  return "RagperfError";
}

py::object make(PyObject* cls, const char* message) {
  return py::reinterpret_borrow<py::object>(cls)(py::str(message));
}

}  // namespace

py::object to_python_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const QueryError& e) {
    py::object ex = make(g_classes[static_cast<size_t>(ErrorCode::kQuery)], e.what());
    ex.attr("sqlstate") = e.sqlstate();
    ex.attr("server_message") = e.server_message();
    ex.attr("statement") = e.statement();
    return ex;
  } catch (const Error& e) {
    return make(g_classes[static_cast<size_t>(e.code())], e.what());
  } catch (py::error_already_set& e) {
    return e.value();
  } catch (const py::builtin_exception& e) {
    e.set_error();
    py::error_already_set fetched;
    return fetched.value();
  } catch (const std::bad_alloc&) {
    return py::reinterpret_borrow<py::object>(PyExc_MemoryError)();
  } catch (const std::exception& e) {
    return make(g_base, e.what());
  } catch (...) {
    return make(g_base, "unknown C++ exception");
  }
}

void register_errors(py::module_& m) {
  py::module_ errors = py::module_::import("ragperf.errors");
  g_base = py::object(errors.attr("RagperfError")).release().ptr();
  for (size_t i = 0; i < kCodes; ++i)
    g_classes[i] = py::object(errors.attr(class_name(static_cast<ErrorCode>(i)))).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error&) {
      py::object ex = to_python_exception(p);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(ex.ptr())), ex.ptr());
    }
  });
  m.attr("RagperfError") = errors.attr("RagperfError");
}

std::string text_arg(py::handle obj, const std::string& what) {
  if (!PyUnicode_Check(obj.ptr()))
    throw py::type_error(what + " must be str, not " + Py_TYPE(obj.ptr())->tp_name);
  Py_ssize_t n = 0;
  if (const char* s = PyUnicode_AsUTF8AndSize(obj.ptr(), &n))
    return std::string(s, static_cast<size_t>(n));
  PyErr_Clear();
  // Not encodable as UTF-8: a str decoded with surrogateescape gives back its original bytes.
  PyObject* b = PyUnicode_AsEncodedString(obj.ptr(), "utf-8", "surrogateescape");
  if (!b) {
    py::error_already_set e;
    throw InputError(what + " cannot be encoded as UTF-8 (" + std::string(py::str(e.value())) +
                     "); pass text without lone surrogates");
  }
  py::object bytes = py::reinterpret_steal<py::object>(b);
  return std::string(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b)));
}

namespace detail {

void call_resolve(const SharedPyObject& resolve, std::exception_ptr error,
                  const std::function<py::object()>& convert) {
  if (!interpreter_alive()) return;
  py::gil_scoped_acquire gil;
  try {
    if (error) {
      (*resolve)(to_python_exception(error), py::none());
      return;
    }
    py::object value;
    try {
      value = convert();
    } catch (...) {
      (*resolve)(to_python_exception(std::current_exception()), py::none());
      return;
    }
    (*resolve)(py::none(), value);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("ragperf: delivering a result to asyncio");
  }
}

Completion::~Completion() {
  if (called) return;
  call_resolve(resolve,
               std::make_exception_ptr(UnavailableError(
                   "the operation was dropped before it finished (its ragperf component was "
                   "closed or destroyed)")),
               [] { return py::none(); });
}

}  // namespace detail

std::function<void(std::exception_ptr)> make_void_callback(py::object resolve) {
  auto state = std::make_shared<detail::Completion>(share(std::move(resolve)));
  return [state](std::exception_ptr error) {
    std::call_once(state->once, [&] {
      state->called = true;
      detail::call_resolve(state->resolve, error, [] { return py::none(); });
    });
  };
}

}  // namespace ragperf::python
