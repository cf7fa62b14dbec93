// PoolConfig: URL / libpq keyword parsing, settings and validation (include/ragperf/db_pool.h).
#include <libpq-fe.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <set>

#include "ragperf/config.h"
#include "ragperf/db_pool.h"

namespace ragperf {
namespace {

int parse_port(const std::string& text, const std::string& origin) {
  int port = 0;
  size_t used = 0;
  try {
    port = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || port < 1 || port > 65535)
    throw ConfigError(origin + ": port '" + text + "' is not a TCP port; give 1..65535");
  return port;
}

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

PoolConfig PoolConfig::from_url(std::string_view url_view) {
  const std::string url(url_view);
  const std::string masked = mask_secrets(url);
  if (url.empty())
    throw ConfigError(
        "database URL is empty; set DATABASE_URL, e.g. postgresql://user:pass@host:5432/db");
  const bool is_uri = url.starts_with("postgresql://") || url.starts_with("postgres://");
  if (!is_uri && url.find("://") != std::string::npos)
    throw ConfigError("database URL '" + masked +
                      "' has an unsupported scheme; use postgresql://user:pass@host:port/db");
  if (!is_uri && url.find('=') == std::string::npos)
    throw ConfigError("database URL '" + masked +
                      "' is neither a postgresql:// URL nor libpq 'key=value' pairs");
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string why = err ? err : "out of memory";
    if (err) PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    throw ConfigError("database URL '" + masked + "' is invalid: " + why);
  }
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> free_opts(opts, PQconninfoFree);
  PoolConfig c;
  std::string port_text;
  std::set<std::string> given;  // keys the URL sets
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    const std::string key = o->keyword, val = o->val;
    given.insert(key);
    if (key == "host" || key == "hostaddr") {
      if (key == "host" || c.host.empty()) c.host = val;
    } else if (key == "port") {
      port_text = val;
    } else if (key == "dbname") {
      c.database = val;
    } else if (key == "user") {
      c.user = val;
    } else if (key == "password") {
      c.password = val;
    } else if (key == "application_name") {
      c.application_name = val;
    } else if (key == "sslmode") {
      c.sslmode = val;
    } else if (key == "connect_timeout") {
      char* end = nullptr;
      const double t = std::strtod(val.c_str(), &end);
      if (!end || *end || !(t > 0))
        throw ConfigError("database URL '" + masked + "': connect_timeout '" + val +
                          "' is not a positive number of seconds");
      c.connect_timeout = std::chrono::duration<double>(t);
    }
  }
  if (c.host.find(',') != std::string::npos)
    throw ConfigError("database URL '" + masked +
                      "' lists several hosts; give one per pool (one pool per server)");
  if (!port_text.empty()) c.port = parse_port(port_text, "database URL '" + masked + "'");
  // Unset keys: libpq's environment defaults (PGHOST, PGUSER, ...), as libpq itself would do.
  if (PQconninfoOption* defs = PQconndefaults()) {
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> free_defs(defs, PQconninfoFree);
    auto def = [&](const char* key) -> std::string {
      for (PQconninfoOption* o = defs; o->keyword; ++o)
        if (std::string_view(o->keyword) == key && o->val) return o->val;
      return "";
    };
    if (!given.count("host") && !given.count("hostaddr"))
      c.host = def("host").empty() ? "/var/run/postgresql" : def("host");
    if (!given.count("port") && std::getenv("PGPORT")) c.port = parse_port(def("port"), "PGPORT");
    if (!given.count("user") && !def("user").empty()) c.user = def("user");
    if (!given.count("dbname")) c.database = std::getenv("PGDATABASE") ? def("dbname") : c.user;
    if (!given.count("password") && std::getenv("PGPASSWORD")) c.password = def("password");
  }
  return c;
}

PoolConfig PoolConfig::from_settings(const Settings& s) {
  PoolConfig c;
  if (!s.database_url.empty()) {
    c = from_url(s.database_url);
  } else {
    auto var = [&](const char* name) { return s.lookup(name); };
    if (auto v = var("PGHOST")) c.host = *v;
    if (auto v = var("PGPORT")) c.port = parse_port(*v, "PGPORT");
    if (auto v = var("PGDATABASE")) c.database = *v;
    if (auto v = var("PGUSER")) c.user = *v;
    if (auto v = var("PGPASSWORD")) c.password = *v;
    if (auto v = var("PGSSLMODE")) c.sslmode = *v;
    if (!var("PGHOST") && !var("PGDATABASE"))
      throw ConfigError(
          "no database configured: set DATABASE_URL (postgresql://user:pass@host:port/db) or "
          "PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD");
  }
  c.min_size = s.min_pool_size;
  c.max_size = s.max_pool_size;
  c.target_size = s.connection_pool_size;
  c.validate();
  return c;
}

PoolConfig PoolConfig::from_env() {
  return from_settings(load_settings());
}

void PoolConfig::validate() const {
  auto bad = [](const std::string& what) { throw ConfigError("pool config: " + what); };
  if (host.empty()) bad("host is empty; give a host name, IP or Unix-socket directory");
  if (port < 1 || port > 65535)
    bad("port=" + std::to_string(port) + " is not a TCP port; give 1..65535");
  if (database.empty()) bad("database is empty; name the database to connect to");
  if (user.empty()) bad("user is empty; name the role to connect as");
  if (max_size < 1 || max_size > 10000)
    bad("max_size (MAX_POOL_SIZE)=" + std::to_string(max_size) +
        " is out of range; allowed [1, 10000]");
  if (min_size < 0 || min_size > max_size)
    bad("min_size (MIN_POOL_SIZE)=" + std::to_string(min_size) +
        " must lie in [0, max_size=" + std::to_string(max_size) + "]");
  if (target_size != 0 && (target_size < min_size || target_size > max_size))
    bad("target_size (CONNECTION_POOL_SIZE)=" + std::to_string(target_size) +
        " must lie in [min_size=" + std::to_string(min_size) +
        ", max_size=" + std::to_string(max_size) + "] (0: min_size)");
  auto positive = [&](double v, const char* name) {
    if (!(v > 0) || !std::isfinite(v))
      bad(std::string(name) + "=" + fmt_double(v) + " must be a positive number of seconds");
  };
  positive(acquire_timeout.count(), "acquire_timeout");
  positive(connect_timeout.count(), "connect_timeout");
  positive(cancel_timeout.count(), "cancel_timeout");
  positive(max_lifetime.count(), "max_lifetime");
  positive(max_idle.count(), "max_idle");
  positive(maintenance_interval.count(), "maintenance_interval");
  if (!(health_check_idle.count() >= 0) || !std::isfinite(health_check_idle.count()))
    bad("health_check_idle=" + fmt_double(health_check_idle.count()) +
        " must be >= 0 seconds (0: check before every reuse)");
  if (max_waiting < 0)
    bad("max_waiting=" + std::to_string(max_waiting) + " must be >= 0 (0: no caller may wait)");
  if (statement_cache_size < 0)
    bad("statement_cache_size=" + std::to_string(statement_cache_size) + " must be >= 0");
}

std::string PoolConfig::describe() const {
  return host + ":" + std::to_string(port) + "/" + database;
}

}  // namespace ragperf
