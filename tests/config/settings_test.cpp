// Settings: defaults, precedence (environment > .env > profile > defaults), validation messages.
#include <gtest/gtest.h>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using Env = std::map<std::string, std::string>;

std::string error_of(const Env& env, const std::filesystem::path& dotenv = {}) {
  try {
    load_settings(env, dotenv);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Settings, DefaultsAreTheGuides) {
  Settings s = load_settings({}, {});
  EXPECT_TRUE(s.enable_async);
  EXPECT_EQ(s.connection_pool_size, 10);
  EXPECT_EQ(s.min_pool_size, 5);
  EXPECT_EQ(s.max_pool_size, 20);
  EXPECT_EQ(s.batch_size, 32);
  EXPECT_DOUBLE_EQ(s.batch_timeout_s, 1.0);
  EXPECT_EQ(s.embed_model, "BAAI/bge-small-en");
  EXPECT_EQ(s.embed_dim, 384);
  EXPECT_EQ(s.embed_batch, 128);
  EXPECT_EQ(s.profile, Profile::kNone);
  EXPECT_EQ(s.find("MAX_POOL_SIZE")->source, SettingSource::kDefault);
}

TEST(Settings, PrecedenceEnvironmentOverDotenvOverProfileOverDefault) {
  testing::TempDir tmp;
  testing::write_file(tmp / ".env",
                      "# comment\nexport BATCH_SIZE=48\nEMBED_DIM='768'\nMAX_POOL_SIZE=90 # c\n");
  Settings s =
      load_settings({{"RAGPERF_PROFILE", "server"}, {"MAX_POOL_SIZE", "77"}}, tmp / ".env");
  EXPECT_EQ(s.profile, Profile::kServer);
  EXPECT_EQ(s.max_pool_size, 77);  // environment beats .env
  EXPECT_EQ(s.find("MAX_POOL_SIZE")->source, SettingSource::kEnvironment);
  EXPECT_EQ(s.batch_size, 48);  // .env beats profile
  EXPECT_EQ(s.find("BATCH_SIZE")->source, SettingSource::kDotenv);
  EXPECT_EQ(s.embed_dim, 768);
  EXPECT_EQ(s.min_pool_size, 10);  // profile beats default
  EXPECT_EQ(s.find("MIN_POOL_SIZE")->source, SettingSource::kProfile);
  EXPECT_EQ(s.embed_model, "BAAI/bge-small-en");  // default
}

TEST(Settings, EachProfileLoadsAndIsConsistent) {
  for (const char* name : {"laptop", "desktop", "server", "high-traffic"}) {
    Settings s = load_settings({{"RAGPERF_PROFILE", name}}, {});
    EXPECT_NE(s.profile, Profile::kNone) << name;
    EXPECT_LE(s.min_pool_size, s.connection_pool_size) << name;
    EXPECT_LE(s.connection_pool_size, s.max_pool_size) << name;
  }
}

// ../shared/GUIDE_API.md's profile table, value for value; EMBED_BATCH per profile is ours.
TEST(Settings, ProfilesHoldTheGuidesValues) {
  struct Row {
    const char* name;
    int pool, min, max, batch;
    double timeout;
    int embed_batch;  // ours, not the guide's
  };
  const Row rows[] = {
      {"laptop", 10, 5, 20, 32, 1.0, 32},          {"desktop", 10, 5, 20, 32, 1.0, 32},
      {"server", 15, 10, 30, 64, 1.0, 128},        {"high-traffic", 30, 20, 50, 128, 0.5, 256},
      {"high_traffic", 30, 20, 50, 128, 0.5, 256},
  };
  for (const Row& r : rows) {
    Settings s = load_settings({{"RAGPERF_PROFILE", r.name}}, {});
    EXPECT_EQ(s.connection_pool_size, r.pool) << r.name;
    EXPECT_EQ(s.min_pool_size, r.min) << r.name;
    EXPECT_EQ(s.max_pool_size, r.max) << r.name;
    EXPECT_EQ(s.batch_size, r.batch) << r.name;
    EXPECT_DOUBLE_EQ(s.batch_timeout_s, r.timeout) << r.name;
    EXPECT_TRUE(s.enable_async) << r.name;  // all three set ENABLE_ASYNC=1
    EXPECT_EQ(s.embed_batch, r.embed_batch) << r.name;
  }
}

TEST(Settings, GuideDotenvKeepsWorking) {
  testing::TempDir tmp;
  testing::write_file(tmp / ".env",
                      "ENABLE_ASYNC=0\nCONNECTION_POOL_SIZE=12\nMIN_POOL_SIZE=5\n"
                      "MAX_POOL_SIZE=20\nBATCH_SIZE=16\nBATCH_TIMEOUT=0.5\n"
                      "EMBED_MODEL=BAAI/bge-small-en\nEMBED_DIM=384\nEMBED_BATCH=64\n");
  Settings s = load_settings({}, tmp / ".env");
  EXPECT_FALSE(s.enable_async);
  EXPECT_EQ(s.connection_pool_size, 12);
  EXPECT_EQ(s.batch_size, 16);
  EXPECT_DOUBLE_EQ(s.batch_timeout_s, 0.5);
  EXPECT_EQ(s.embed_dim, 384);
  EXPECT_EQ(s.embed_batch, 64);
}

TEST(Settings, EmbedDimIsCheckedAgainstTheModelWhenSet) {
  // Not set anywhere: the model's own dimension holds.
  EXPECT_NO_THROW(check_embed_dim(load_settings({}, {}), 768, "some/model"));
  // Set and equal.
  EXPECT_NO_THROW(check_embed_dim(load_settings({{"EMBED_DIM", "768"}}, {}), 768, "some/model"));
  // Set and different: both values, the model, where it came from and what to do.
  try {
    check_embed_dim(load_settings({{"EMBED_DIM", "384"}}, {}), 768, "some/model");
    FAIL() << "no error for EMBED_DIM=384 with a 768-dimensional model";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("EMBED_DIM=384"), std::string::npos) << m;
    EXPECT_NE(m.find("environment"), std::string::npos) << m;
    EXPECT_NE(m.find("some/model"), std::string::npos) << m;
    EXPECT_NE(m.find("768"), std::string::npos) << m;
    EXPECT_NE(m.find("set EMBED_DIM=768 (or remove it)"), std::string::npos) << m;
  }
}

TEST(Settings, InvalidValuesNameVariableValueAndRange) {
  std::string e = error_of({{"BATCH_SIZE", "lots"}});
  EXPECT_NE(e.find("BATCH_SIZE"), std::string::npos) << e;
  EXPECT_NE(e.find("lots"), std::string::npos) << e;
  EXPECT_NE(e.find("[1, 100000]"), std::string::npos) << e;

  e = error_of({{"BATCH_TIMEOUT", "-1"}});
  EXPECT_NE(e.find("BATCH_TIMEOUT='-1'"), std::string::npos) << e;
  EXPECT_NE(e.find("seconds > 0"), std::string::npos) << e;

  e = error_of({{"MIN_POOL_SIZE", "30"}, {"MAX_POOL_SIZE", "20"}});
  EXPECT_NE(e.find("MIN_POOL_SIZE=30"), std::string::npos) << e;
  EXPECT_NE(e.find("MAX_POOL_SIZE=20"), std::string::npos) << e;

  e = error_of({{"RAGPERF_PROFILE", "turbo"}});
  EXPECT_NE(e.find("turbo"), std::string::npos) << e;
  EXPECT_NE(e.find("high-traffic"), std::string::npos) << e;

  e = error_of({{"ENABLE_ASYNC", "maybe"}});
  EXPECT_NE(e.find("ENABLE_ASYNC"), std::string::npos) << e;

  e = error_of({{"EMBED_DIM", "12abc"}});
  EXPECT_NE(e.find("EMBED_DIM"), std::string::npos) << e;

  e = error_of({{"EMBED_BATCH", "99999999999999999999"}});
  EXPECT_NE(e.find("EMBED_BATCH"), std::string::npos) << e;

  e = error_of({{"CONNECTION_POOL_SIZE", "50"}});  // above MAX_POOL_SIZE=20
  EXPECT_NE(e.find("CONNECTION_POOL_SIZE=50"), std::string::npos) << e;
}

TEST(Settings, UnreadableDotenvLineNamesFileAndLine) {
  testing::TempDir tmp;
  testing::write_file(tmp / ".env", "BATCH_SIZE=8\nthis line is wrong\n");
  std::string e = error_of({}, tmp / ".env");
  EXPECT_NE(e.find(".env:2"), std::string::npos) << e;

  testing::write_file(tmp / "q.env", "EMBED_MODEL=\"unterminated\n");
  e = error_of({}, tmp / "q.env");
  EXPECT_NE(e.find("q.env:1"), std::string::npos) << e;
  EXPECT_NE(e.find("quote"), std::string::npos) << e;

  testing::write_file(tmp / "k.env", "1BAD=3\n");
  e = error_of({}, tmp / "k.env");
  EXPECT_NE(e.find("1BAD"), std::string::npos) << e;
}

TEST(Settings, RequiredDotenvMustExist) {
  EXPECT_THROW(load_settings({}, "/nonexistent/ragperf.env", true), ConfigError);
  EXPECT_NO_THROW(load_settings({}, "/nonexistent/ragperf.env", false));
}

TEST(Settings, SecretsAreMasked) {
  EXPECT_EQ(mask_secrets("postgresql://u:hunter2@h:5432/db"), "postgresql://u:****@h:5432/db");
  EXPECT_EQ(mask_secrets("host=h password=hunter2 dbname=x"), "host=h password=**** dbname=x");
  Settings s = load_settings({{"DATABASE_URL", "postgresql://u:hunter2@h/db"}}, {});
  EXPECT_EQ(s.database_url, "postgresql://u:hunter2@h/db");
  EXPECT_EQ(s.find("DATABASE_URL")->display().find("hunter2"), std::string::npos);
}

TEST(Settings, LookupSeesEnvironmentOverDotenv) {
  testing::TempDir tmp;
  testing::write_file(tmp / ".env", "PGHOST=filehost\nHF_ENDPOINT=http://x\n");
  Settings s = load_settings({{"PGHOST", "envhost"}}, tmp / ".env");
  EXPECT_EQ(s.lookup("PGHOST").value(), "envhost");
  EXPECT_EQ(s.lookup("HF_ENDPOINT").value(), "http://x");
  EXPECT_FALSE(s.lookup("NOPE").has_value());
}

}  // namespace
}  // namespace ragperf
