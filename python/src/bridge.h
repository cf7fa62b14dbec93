// bridge.h defines the one hand-off from ragperf's C++ completions to Python, used by every binding
// of ragperf._core.
//
// A Python caller passes `resolve(error, value)`; the C++ operation runs with the GIL released and
// its completion (on a Runtime or pool thread) takes the GIL, converts the result to Python objects
// and calls resolve exactly once. The Python layer (ragperf/_bridge.py) makes resolve hand the
// outcome to the caller's event loop with loop.call_soon_threadsafe.
//
//   embedder.submit(texts, make_callback<EmbeddingMatrix>(resolve, [](EmbeddingMatrix m) {
//     return to_numpy(m);
//   }));
//
// Lifetimes: the Python objects a completion holds (resolve, the loop, the future) may be copied
// and dropped on any thread: SharedPyObject takes the GIL to drop its reference, and leaks it once
// the interpreter is finalizing. A completion dropped without having been called (its operation
// was destroyed: a pool closed under it) calls resolve with UnavailableError, so no awaiting
// Python future is ever left pending.
#pragma once

#include <pybind11/pybind11.h>

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "ragperf/error.h"
#include "ragperf/runtime.h"

namespace ragperf::python {

namespace py = pybind11;

/// True while Python objects may be touched from a foreign thread (not during finalization).
bool interpreter_alive();

/// A reference to a Python object that may be copied and destroyed on any thread.
using SharedPyObject = std::shared_ptr<py::object>;
SharedPyObject share(py::object object);

/// The Python exception for `error` (ragperf.InputError etc., with the C++ message). GIL held.
py::object to_python_exception(std::exception_ptr error);

/// Registers the translation of ragperf::Error to ragperf.errors' classes for synchronous calls.
void register_errors(py::module_& m);

/// `obj` as the bytes ragperf's C++ API takes for text: a str's UTF-8; a str decoded with
/// surrogateescape gives back its original (possibly invalid) bytes, which the engine then rejects
/// with InputError naming the offset. TypeError naming `what` when `obj` is not a str; InputError
/// for a lone surrogate that no encoding can represent.
std::string text_arg(py::handle obj, const std::string& what);

/// Releases the GIL (when this thread holds it) while `fn` runs.
template <typename F>
decltype(auto) without_gil(F&& fn) {
  if (PyGILState_Check()) {
    py::gil_scoped_release release;
    return std::forward<F>(fn)();
  }
  return std::forward<F>(fn)();
}

/// Drops `p` with the GIL released (destructors that wait for completions which need the GIL).
/// On a Runtime thread (the last reference went away in a completion) the destructor, which may
/// wait for that very thread, runs on a thread of its own instead.
template <typename P>
void reset_without_gil(P& p) {
  if (!p) return;
  std::shared_ptr<Runtime> runtime = Runtime::shared();
  if (runtime->in_io_thread() || runtime->in_compute_thread()) {
    std::thread([q = std::move(p)]() mutable { q.reset(); }).detach();
    return;
  }
  without_gil([&] { p.reset(); });
}

namespace detail {

/// Calls resolve(error, value) once with the GIL; reports an exception of resolve itself as
/// unraisable (it has nobody to go to).
void call_resolve(const SharedPyObject& resolve, std::exception_ptr error,
                  const std::function<py::object()>& convert);

/// The state shared by every copy of one completion.
struct Completion {
  SharedPyObject resolve;
  std::once_flag once;
  bool called = false;
  explicit Completion(SharedPyObject r) : resolve(std::move(r)) {}
  ~Completion();
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
};

}  // namespace detail

/// A C++ completion `done(error, value)` that calls the Python `resolve(exc, convert(value))`.
/// `convert` runs with the GIL held; an exception it throws goes to resolve instead.
template <typename T, typename Convert>
std::function<void(std::exception_ptr, T)> make_callback(py::object resolve, Convert convert) {
  auto state = std::make_shared<detail::Completion>(share(std::move(resolve)));
  return [state, convert = std::move(convert)](std::exception_ptr error, T value) mutable {
    std::call_once(state->once, [&] {
      state->called = true;
      detail::call_resolve(state->resolve, error,
                           [&]() -> py::object { return convert(std::move(value)); });
    });
  };
}

/// The same for operations without a value (`done(error)`).
std::function<void(std::exception_ptr)> make_void_callback(py::object resolve);

}  // namespace ragperf::python
