// DatabaseConnectionPool for Python, asyncpg-style: every statement runs as a coroutine on the
// pool's own thread (co_spawn on its executor) and its completion converts the rows (GIL held).
// Parameters are converted from Python values here; rows come back as (columns, tuples, status)
// and the Python layer wraps them in Records.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <optional>

#include "bindings.h"
#include "ragperf/config.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#pragma GCC diagnostic pop

namespace ragperf::python {

namespace {

// PostgreSQL type OIDs (pg_type.dat).
constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                   kInt4 = 23, kText = 25, kOid = 26, kJson = 114, kFloat4 = 700, kFloat8 = 701,
                   kBpchar = 1042, kVarchar = 1043, kDate = 1082, kTimestamp = 1114,
                   kTimestamptz = 1184, kNumeric = 1700, kUuid = 2950, kJsonb = 3802;
constexpr uint32_t kFirstExtensionOid = 16384;  // pgvector's `vector` lies above

py::object& cached(const char* module, const char* attr) {
  // Leaked on purpose: these live as long as the interpreter.
  static std::map<std::string, py::object*> cache;
  std::string key = std::string(module) + "." + attr;
  auto it = cache.find(key);
  if (it == cache.end())
    it = cache.emplace(key, new py::object(py::module_::import(module).attr(attr))).first;
  return *it->second;
}

uint64_t be(std::string_view b, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[offset + i]);
  return v;
}

py::object decode_numeric(std::string_view b) {
  if (b.size() < 8) return py::bytes(b.data(), b.size());
  const auto ndigits = static_cast<int16_t>(be(b, 0, 2));
  const auto weight = static_cast<int16_t>(be(b, 2, 2));
  const auto sign = static_cast<uint16_t>(be(b, 4, 2));
  const auto dscale = static_cast<uint16_t>(be(b, 6, 2));
  if (sign == 0xC000) return cached("decimal", "Decimal")("NaN");
  if (sign == 0xD000) return cached("decimal", "Decimal")("Infinity");
  if (sign == 0xF000) return cached("decimal", "Decimal")("-Infinity");
  // digits are base 10000, the first one at 10000^weight.
  std::string text = sign == 0x4000 ? "-" : "";
  std::string digits;
  for (int i = 0; i < ndigits && 8 + 2 * static_cast<size_t>(i) + 2 <= b.size(); ++i) {
    std::string d = std::to_string(be(b, 8 + 2 * static_cast<size_t>(i), 2));
    digits += std::string(4 - d.size(), '0') + d;
  }
  // The decimal point sits after (weight + 1) groups of four digits.
  long point = (static_cast<long>(weight) + 1) * 4;
  if (point <= 0) {
    digits = std::string(static_cast<size_t>(-point), '0') + digits;
    point = 0;
  }
  if (static_cast<long>(digits.size()) < point)
    digits.append(static_cast<size_t>(point) - digits.size(), '0');
  std::string integer = digits.substr(0, static_cast<size_t>(point));
  std::string fraction = digits.substr(static_cast<size_t>(point));
  fraction.resize(dscale, '0');
  integer.erase(0, std::min(integer.find_first_not_of('0'), integer.size()));
  text += integer.empty() ? "0" : integer;
  if (!fraction.empty()) text += "." + fraction;
  return cached("decimal", "Decimal")(text);
}

py::object field_value(const db::Field& f) {
  if (f.is_null()) return py::none();
  const uint32_t oid = f.type_oid();
  switch (oid) {
    case kBool:
      return py::bool_(f.as_bool());
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
      return py::int_(f.as_int());
    case kFloat4:
    case kFloat8:
      return py::float_(f.as_double());
    case kBytea: {
      std::string_view b = f.bytes();
      return py::bytes(b.data(), b.size());
    }
    case kText:
    case kVarchar:
    case kBpchar:
    case kName:
    case kChar: {
      std::string_view b = f.bytes();
      PyObject* s =
          PyUnicode_DecodeUTF8(b.data(), static_cast<Py_ssize_t>(b.size()), "surrogateescape");
      if (!s) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(s);
    }
    case kJson:
    case kJsonb:
      return cached("json", "loads")(py::str(f.as_text()));
    case kNumeric:
      return decode_numeric(f.bytes());
    case kUuid: {
      std::string_view b = f.bytes();
      return cached("uuid", "UUID")(py::arg("bytes") = py::bytes(b.data(), b.size()));
    }
    case kDate:
    case kTimestamp:
    case kTimestamptz: {
      std::string_view b = f.bytes();
      try {
        py::object& timedelta = cached("datetime", "timedelta");
        if (oid == kDate) {
          auto days = static_cast<int32_t>(be(b, 0, 4));
          return cached("datetime", "date")(2000, 1, 1) + timedelta(py::arg("days") = days);
        }
        auto us = static_cast<int64_t>(be(b, 0, 8));
        py::object epoch =
            oid == kTimestamp
                ? cached("datetime", "datetime")(2000, 1, 1)
                : cached("datetime", "datetime")(
                      2000, 1, 1, py::arg("tzinfo") = cached("datetime", "timezone").attr("utc"));
        return epoch + timedelta(py::arg("microseconds") = us);
      } catch (py::error_already_set&) {  // infinity / out of Python's range
        return py::str(static_cast<int64_t>(be(b, 0, oid == kDate ? 4 : 8)) > 0 ? "infinity"
                                                                                : "-infinity");
      }
    }
    default:
      break;
  }
  if (oid >= kFirstExtensionOid) {
    try {
      std::vector<float> v = f.as_vector();
      py::array_t<float> a(static_cast<py::ssize_t>(v.size()));
      std::copy(v.begin(), v.end(), a.mutable_data());
      return a;
    } catch (const InputError&) {
    }
  }
  try {
    return py::str(f.as_text());
  } catch (const InputError&) {
    std::string_view b = f.bytes();
    return py::bytes(b.data(), b.size());
  }
}

/// One `$n` parameter from a Python value (see ragperf/_pool.py for the table of types).
db::Param to_param(py::handle v, size_t n) {
  const std::string what = "parameter $" + std::to_string(n);
  if (v.is_none()) return db::Param(nullptr);
  PyObject* o = v.ptr();
  if (PyBool_Check(o)) return db::Param(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow)
      throw InputError(what + ": the int " + std::string(py::str(v)) + " does not fit in int8");
    return db::Param(x);
  }
  if (PyFloat_Check(o)) return db::Param(PyFloat_AsDouble(o));
  if (PyUnicode_Check(o))
    return db::Param::text_as(text_arg(v, what), 0);  // type from the statement
  if (PyBytes_Check(o) || PyByteArray_Check(o) || PyMemoryView_Check(o)) {
    std::string b = py::bytes(py::reinterpret_borrow<py::object>(v));
    return db::Param::bytes(std::move(b));
  }
  if (py::isinstance<py::array>(v) || PyList_Check(o) || PyTuple_Check(o)) {
    py::array arr = py::array::ensure(v);
    if (!arr || arr.ndim() != 1 ||
        !(arr.dtype().kind() == 'f' || arr.dtype().kind() == 'i' || arr.dtype().kind() == 'u')) {
      PyErr_Clear();
      throw py::type_error(what +
                           ": a list, tuple or array is sent as a pgvector vector and must be a "
                           "flat sequence of numbers");
    }
    auto floats = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
    std::vector<float> vec(floats.data(), floats.data() + floats.size());
    return db::Param(vec);
  }
  if (PyDict_Check(o)) return db::Param::jsonb(py::str(cached("json", "dumps")(v)));
  if (py::isinstance(v, cached("datetime", "datetime"))) {
    const bool aware = !v.attr("tzinfo").is_none();
    return db::Param::text_as(py::str(v.attr("isoformat")()), aware ? kTimestamptz : kTimestamp);
  }
  if (py::isinstance(v, cached("datetime", "date")))
    return db::Param::text_as(py::str(v.attr("isoformat")()), kDate);
  if (py::isinstance(v, cached("decimal", "Decimal")))
    return db::Param::text_as(py::str(v), kNumeric);
  if (py::isinstance(v, cached("uuid", "UUID"))) return db::Param::text_as(py::str(v), kUuid);
  throw py::type_error(what + ": cannot send a " + std::string(Py_TYPE(o)->tp_name) +
                       " to PostgreSQL; use None, bool, int, float, str, bytes, dict (jsonb), "
                       "datetime, date, Decimal, UUID, or a list / numpy array of floats (vector)");
}

db::Params params_arg(const py::sequence& args) {
  db::Params params;
  params.reserve(py::len(args));
  size_t n = 1;
  for (py::handle a : args) params.push_back(to_param(a, n++));
  return params;
}

py::object result_value(const db::Result& r) {
  py::tuple columns(static_cast<size_t>(r.columns()));
  for (int c = 0; c < r.columns(); ++c) {
    std::string_view name = r.column_name(c);
    columns[static_cast<size_t>(c)] = py::str(name.data(), name.size());
  }
  py::list rows;
  for (int i = 0; i < r.rows(); ++i) {
    db::Row row = r[i];
    py::tuple values(static_cast<size_t>(r.columns()));
    for (int c = 0; c < r.columns(); ++c) values[static_cast<size_t>(c)] = field_value(row[c]);
    rows.append(values);
  }
  std::string_view status = r.command();
  return py::make_tuple(columns, rows, py::str(status.data(), status.size()));
}

/// The completion of a statement: its result as Python rows / status.
auto result_callback(py::object resolve) {
  return make_callback<db::Result>(std::move(resolve),
                                   [](db::Result r) { return result_value(r); });
}

py::dict stats_dict(const PoolStats& s) {
  py::dict d;
  d["pool_min"] = s.pool_min;
  d["pool_max"] = s.pool_max;
  d["pool_target"] = s.pool_target;
  d["pool_size"] = s.pool_size;
  d["pool_free"] = s.pool_free;
  d["in_use"] = s.in_use;
  d["connecting"] = s.connecting;
  d["requests_waiting"] = s.requests_waiting;
  d["total_queries"] = s.total_queries;
  d["acquires"] = s.acquires;
  d["acquire_timeouts"] = s.acquire_timeouts;
  d["acquire_cancelled"] = s.acquire_cancelled;
  d["requests_rejected"] = s.requests_rejected;
  d["acquire_wait_p50"] = s.acquire_wait_p50_s;
  d["acquire_wait_p99"] = s.acquire_wait_p99_s;
  d["connections_opened"] = s.connections_opened;
  d["connections_closed"] = s.connections_closed;
  d["connection_errors"] = s.connection_errors;
  d["connections_lost"] = s.connections_lost;
  d["connections_replaced"] = s.connections_replaced;
  d["queries_retried"] = s.queries_retried;
  d["statements_cancelled"] = s.statements_cancelled;
  return d;
}

/// Runs `aw` on the pool's thread; `done` gets its outcome there.
template <typename T>
void spawn_on(DatabaseConnectionPool& pool, db::awaitable<T> aw,
              std::function<void(std::exception_ptr, T)> done) {
  boost::asio::co_spawn(
      pool.get_executor(), std::move(aw),
      [done = std::move(done)](std::exception_ptr e, T v) mutable { done(e, std::move(v)); });
}

/// Cancels one operation spawned with spawn_cancellable(): the signal is emitted on the pool's
/// executor, where the operation runs (a waiter for a connection leaves the queue at once).
struct PyCancel {
  std::shared_ptr<boost::asio::cancellation_signal> signal;
  boost::asio::any_io_executor executor;
  void cancel() {
    boost::asio::post(executor,
                      [s = signal] { s->emit(boost::asio::cancellation_type::terminal); });
  }
};

template <typename T>
std::shared_ptr<PyCancel> spawn_cancellable(DatabaseConnectionPool& pool, db::awaitable<T> aw,
                                            std::function<void(std::exception_ptr, T)> done) {
  auto handle = std::make_shared<PyCancel>();
  handle->signal = std::make_shared<boost::asio::cancellation_signal>();
  handle->executor = pool.get_executor();
  boost::asio::co_spawn(handle->executor, std::move(aw),
                        boost::asio::bind_cancellation_slot(
                            handle->signal->slot(),
                            [done = std::move(done), keep = handle->signal](
                                std::exception_ptr e, T v) mutable { done(e, std::move(v)); }));
  return handle;
}

void check_open(const DatabaseConnectionPool& pool) {
  if (pool.closed())
    throw UnavailableError("connection pool " + pool.config().describe() +
                           " is closed; create a new pool");
}

struct PyConnection {
  std::shared_ptr<PyPool> owner;
  std::shared_ptr<PooledConnection> conn;
  /// Hands the connection back on the pool's thread (never blocks the caller).
  void release_later() {
    if (!conn) return;
    std::shared_ptr<PooledConnection> c = std::move(conn);
    if (owner->pool->closed()) {
      without_gil([&] { c.reset(); });
      return;
    }
    boost::asio::post(owner->pool->get_executor(), [c]() { c->release(); });
  }
  ~PyConnection() { release_later(); }
};

db::awaitable<db::Result> conn_fetch(std::shared_ptr<PooledConnection> c, std::string sql,
                                     db::Params params) {
  co_return co_await c->fetch(std::move(sql), std::move(params));
}

db::awaitable<int> conn_release(std::shared_ptr<PooledConnection> c) {
  c->release();
  co_return 0;
}

db::awaitable<std::shared_ptr<PooledConnection>> pool_acquire(
    std::shared_ptr<DatabaseConnectionPool> pool) {
  PooledConnection c = co_await pool->acquire();
  co_return std::make_shared<PooledConnection>(std::move(c));
}

db::awaitable<db::Result> pool_fetch(std::shared_ptr<DatabaseConnectionPool> pool, std::string sql,
                                     db::Params params) {
  co_return co_await pool->fetch(std::move(sql), std::move(params));
}

db::awaitable<bool> pool_health(std::shared_ptr<DatabaseConnectionPool> pool) {
  co_return co_await pool->async_health_check();
}

db::awaitable<int> pool_initialize(std::shared_ptr<DatabaseConnectionPool> pool) {
  co_await pool->async_initialize();
  co_return 0;
}

PoolConfig make_config(const std::optional<std::string>& dsn,
                       const std::optional<std::string>& host, std::optional<int> port,
                       const std::optional<std::string>& database,
                       const std::optional<std::string>& user,
                       const std::optional<std::string>& password, std::optional<int> min_size,
                       std::optional<int> max_size, std::optional<double> acquire_timeout,
                       std::optional<double> connect_timeout) {
  Settings settings = load_settings();
  const bool explicit_location = dsn || host || port || database || user || password;
  PoolConfig c = explicit_location ? PoolConfig::from_url(dsn.value_or(""))
                                   : PoolConfig::from_settings(settings);
  if (host) c.host = *host;
  if (port) c.port = *port;
  if (database) c.database = *database;
  if (user) c.user = *user;
  if (password) c.password = *password;
  c.min_size = min_size.value_or(settings.min_pool_size);
  c.max_size = max_size.value_or(settings.max_pool_size);
  if (!min_size && c.min_size > c.max_size) c.min_size = c.max_size;
  c.target_size =
      std::clamp(settings.connection_pool_size, std::min(c.min_size, c.max_size), c.max_size);
  if (acquire_timeout) c.acquire_timeout = std::chrono::duration<double>(*acquire_timeout);
  if (connect_timeout) c.connect_timeout = std::chrono::duration<double>(*connect_timeout);
  c.application_name = "ragperf-python";
  return c;
}

}  // namespace

void bind_pool(py::module_& m) {
  py::class_<PyCancel, std::shared_ptr<PyCancel>>(m, "CancelHandle")
      .def("cancel", &PyCancel::cancel, "Cancels the operation (a no-op once it has finished).");

  py::class_<PyConnection, std::shared_ptr<PyConnection>>(m, "Connection")
      .def(
          "query",
          [](PyConnection& self, std::string sql, const py::sequence& args, py::object resolve) {
            if (!self.conn || !*self.conn)
              throw UnavailableError(
                  "this connection was released back to the pool; acquire another");
            check_open(*self.owner->pool);
            db::Params params = params_arg(args);
            return spawn_cancellable<db::Result>(
                *self.owner->pool, conn_fetch(self.conn, std::move(sql), std::move(params)),
                result_callback(std::move(resolve)));
          },
          py::arg("sql"), py::arg("args"), py::arg("resolve"))
      .def(
          "release",
          [](PyConnection& self, py::object resolve) {
            auto done = make_callback<int>(std::move(resolve), [](int) { return py::none(); });
            if (!self.conn || self.owner->pool->closed()) {
              self.release_later();
              done(nullptr, 0);
              return;
            }
            std::shared_ptr<PooledConnection> c = std::move(self.conn);
            spawn_on<int>(*self.owner->pool, conn_release(std::move(c)), std::move(done));
          },
          py::arg("resolve"))
      .def("release_later", &PyConnection::release_later)
      .def_property_readonly("released", [](const PyConnection& self) { return !self.conn; })
      .def_property_readonly("backend_pid", [](const PyConnection& self) {
        if (!self.conn) throw UnavailableError("this connection was released back to the pool");
        return self.conn->backend_pid();
      });

  py::class_<PyPool, std::shared_ptr<PyPool>>(m, "Pool")
      .def(py::init([](std::optional<std::string> dsn, std::optional<std::string> host,
                       std::optional<int> port, std::optional<std::string> database,
                       std::optional<std::string> user, std::optional<std::string> password,
                       std::optional<int> min_size, std::optional<int> max_size,
                       std::optional<double> acquire_timeout, std::optional<double> connect_timeout,
                       std::shared_ptr<PerformanceMonitor> monitor) {
             PoolConfig c = make_config(dsn, host, port, database, user, password, min_size,
                                        max_size, acquire_timeout, connect_timeout);
             c.monitor = monitor.get();
             auto self = std::make_shared<PyPool>();
             self->monitor = std::move(monitor);
             without_gil(
                 [&] { self->pool = std::make_shared<DatabaseConnectionPool>(std::move(c)); });
             return self;
           }),
           py::arg("dsn") = py::none(), py::arg("host") = py::none(), py::arg("port") = py::none(),
           py::arg("database") = py::none(), py::arg("user") = py::none(),
           py::arg("password") = py::none(), py::arg("min_size") = py::none(),
           py::arg("max_size") = py::none(), py::arg("acquire_timeout") = py::none(),
           py::arg("connect_timeout") = py::none(), py::arg("monitor") = nullptr)
      .def(
          "initialize",
          [](PyPool& self, py::object resolve) {
            check_open(*self.pool);
            spawn_on<int>(*self.pool, pool_initialize(self.pool),
                          make_callback<int>(std::move(resolve), [](int) { return py::none(); }));
          },
          py::arg("resolve"))
      .def(
          "acquire",
          [](std::shared_ptr<PyPool> self, py::object resolve) {
            check_open(*self->pool);
            return spawn_cancellable<std::shared_ptr<PooledConnection>>(
                *self->pool, pool_acquire(self->pool),
                make_callback<std::shared_ptr<PooledConnection>>(
                    std::move(resolve), [self](std::shared_ptr<PooledConnection> c) {
                      auto conn = std::make_shared<PyConnection>();
                      conn->owner = self;
                      conn->conn = std::move(c);
                      return py::cast(conn);
                    }));
          },
          py::arg("resolve"))
      .def(
          "query",
          [](PyPool& self, std::string sql, const py::sequence& args, py::object resolve) {
            check_open(*self.pool);
            db::Params params = params_arg(args);
            return spawn_cancellable<db::Result>(
                *self.pool, pool_fetch(self.pool, std::move(sql), std::move(params)),
                result_callback(std::move(resolve)));
          },
          py::arg("sql"), py::arg("args"), py::arg("resolve"))
      .def(
          "health_check",
          [](PyPool& self, py::object resolve) {
            if (self.pool->closed()) {
              make_callback<bool>(std::move(resolve), [](bool ok) { return py::bool_(ok); })(
                  nullptr, false);
              return;
            }
            spawn_on<bool>(
                *self.pool, pool_health(self.pool),
                make_callback<bool>(std::move(resolve), [](bool ok) { return py::bool_(ok); }));
          },
          py::arg("resolve"))
      .def(
          "close",
          [](PyPool& self, double timeout) {
            without_gil([&] { self.pool->close(std::chrono::duration<double>(timeout)); });
          },
          py::arg("timeout") = 5.0)
      .def_property_readonly("closed", [](const PyPool& self) { return self.pool->closed(); })
      .def("get_stats",
           [](const PyPool& self) {
             PoolStats s = without_gil([&] { return self.pool->get_stats(); });
             return stats_dict(s);
           })
      .def(
          "backend_pids",
          [](const PyPool& self) { return without_gil([&] { return self.pool->backend_pids(); }); })
      .def("describe", [](const PyPool& self) { return self.pool->config().describe(); })
      .def_property_readonly("acquire_timeout", [](const PyPool& self) {
        return self.pool->config().acquire_timeout.count();
      });
}

}  // namespace ragperf::python
