// PoolConfig: URLs, libpq key=value strings, settings (DATABASE_URL, PG*, MIN/MAX_POOL_SIZE) and
// validation of bad values (no server needed).
#include <gtest/gtest.h>

#include <chrono>

#include "ragperf/config.h"
#include "ragperf/db_pool.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

void expect_config_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected ConfigError mentioning '" << needle << "'";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PoolConfig, ParsesAFullUrl) {
  auto c = PoolConfig::from_url(
      "postgresql://alice:p%40ss@db.example:6543/vectors?sslmode=disable&application_name=svc"
      "&connect_timeout=3");
  EXPECT_EQ(c.host, "db.example");
  EXPECT_EQ(c.port, 6543);
  EXPECT_EQ(c.user, "alice");
  EXPECT_EQ(c.password, "p@ss");
  EXPECT_EQ(c.database, "vectors");
  EXPECT_EQ(c.sslmode, "disable");
  EXPECT_EQ(c.application_name, "svc");
  EXPECT_DOUBLE_EQ(c.connect_timeout.count(), 3);
  EXPECT_EQ(c.describe(), "db.example:6543/vectors");
  EXPECT_NO_THROW(c.validate());
}

TEST(PoolConfig, ParsesLibpqKeywordsAndPostgresScheme) {
  auto c = PoolConfig::from_url("host=10.0.0.5 port=5433 dbname=rag user=bob password=x");
  EXPECT_EQ(c.host, "10.0.0.5");
  EXPECT_EQ(c.port, 5433);
  EXPECT_EQ(c.database, "rag");
  EXPECT_EQ(c.user, "bob");
  auto d = PoolConfig::from_url("postgres://u@h/db");
  EXPECT_EQ(d.host, "h");
  EXPECT_EQ(d.port, 5432);
  EXPECT_EQ(d.user, "u");
}

TEST(PoolConfig, RejectsBadUrlsNamingThemWithoutThePassword) {
  expect_config_error([] { PoolConfig::from_url(""); }, "DATABASE_URL");
  expect_config_error([] { PoolConfig::from_url("mysql://u:secret@h/db"); }, "unsupported scheme");
  expect_config_error([] { PoolConfig::from_url("just words"); }, "neither");
  expect_config_error([] { PoolConfig::from_url("postgresql://u@h:99999/db"); }, "99999");
  expect_config_error([] { PoolConfig::from_url("postgresql://u@h:abc/db"); }, "not a TCP port");
  expect_config_error([] { PoolConfig::from_url("postgresql://u@h1,h2/db"); }, "several hosts");
  expect_config_error([] { PoolConfig::from_url("postgresql://u@h/db?connect_timeout=-1"); },
                      "connect_timeout");
  try {
    PoolConfig::from_url("mysql://u:secret@h/db");
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
}

TEST(PoolConfig, ValidateRejectsBadValues) {
  auto with = [](auto change) {
    PoolConfig c;
    change(c);
    return [c] { c.validate(); };
  };
  expect_config_error(with([](PoolConfig& c) { c.max_size = 0; }), "max_size");
  expect_config_error(with([](PoolConfig& c) { c.min_size = 30; }), "min_size");
  expect_config_error(with([](PoolConfig& c) { c.min_size = -1; }), "min_size");
  expect_config_error(with([](PoolConfig& c) { c.port = 0; }), "port");
  expect_config_error(
      with([](PoolConfig& c) { c.acquire_timeout = std::chrono::duration<double>(0); }),
      "acquire_timeout");
  expect_config_error(
      with([](PoolConfig& c) { c.connect_timeout = std::chrono::duration<double>(-2); }),
      "connect_timeout");
  expect_config_error(with([](PoolConfig& c) { c.host.clear(); }), "host");
  expect_config_error(with([](PoolConfig& c) { c.max_waiting = -1; }), "max_waiting");
  PoolConfig bad;
  bad.max_size = 0;
  EXPECT_THROW(DatabaseConnectionPool pool(bad), ConfigError);  // no thread, no connection
}

TEST(PoolConfig, FromSettingsUsesDatabaseUrlAndPoolSizes) {
  testing::TempDir tmp;
  auto s = load_settings({{"DATABASE_URL", "postgresql://u:p@h:5555/d"},
                          {"MIN_POOL_SIZE", "3"},
                          {"CONNECTION_POOL_SIZE", "5"},
                          {"MAX_POOL_SIZE", "7"}},
                         tmp / "none.env");
  auto c = PoolConfig::from_settings(s);
  EXPECT_EQ(c.describe(), "h:5555/d");
  EXPECT_EQ(c.min_size, 3);
  EXPECT_EQ(c.max_size, 7);
  EXPECT_EQ(c.target_size, 5);  // CONNECTION_POOL_SIZE
  EXPECT_EQ(c.effective_target_size(), 5);
}

TEST(PoolConfig, TargetSizeLiesBetweenMinAndMax) {
  PoolConfig c;                             // min 5, max 20
  EXPECT_EQ(c.effective_target_size(), 5);  // 0: min_size
  c.target_size = 10;
  EXPECT_NO_THROW(c.validate());
  c.target_size = 21;
  expect_config_error([&] { c.validate(); }, "target_size (CONNECTION_POOL_SIZE)=21");
  c.target_size = 4;
  expect_config_error([&] { c.validate(); }, "target_size (CONNECTION_POOL_SIZE)=4");
}

TEST(PoolConfig, FromSettingsFallsBackToPgVariables) {
  testing::TempDir tmp;
  auto s = load_settings({{"PGHOST", "pghost"},
                          {"PGPORT", "6000"},
                          {"PGDATABASE", "pgdb"},
                          {"PGUSER", "pguser"},
                          {"PGPASSWORD", "pw"}},
                         tmp / "none.env");
  auto c = PoolConfig::from_settings(s);
  EXPECT_EQ(c.describe(), "pghost:6000/pgdb");
  EXPECT_EQ(c.user, "pguser");
  EXPECT_EQ(c.password, "pw");
  auto bad_port = load_settings({{"PGHOST", "h"}, {"PGPORT", "x"}}, tmp / "none.env");
  expect_config_error([&] { PoolConfig::from_settings(bad_port); }, "PGPORT");
  auto nothing = load_settings({}, tmp / "none.env");
  expect_config_error([&] { PoolConfig::from_settings(nothing); }, "DATABASE_URL");
}

}  // namespace
}  // namespace ragperf
