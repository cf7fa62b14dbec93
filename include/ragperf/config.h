// ragperf/config.h defines ragperf's settings: the guide's variables, their defaults, the three
// profiles, and where each effective value came from.
//
// Precedence, highest first: process environment > `.env` file > profile (`RAGPERF_PROFILE`) >
// built-in defaults. Every value is validated on load; an invalid one throws `ConfigError`
// naming the variable, the value and the allowed range.
//
//   ragperf::Settings s = ragperf::load_settings();      // environment + ./.env
//   ragperf::DatabaseConnectionPool pool(s.database_url, s.min_pool_size, s.max_pool_size);
//   for (const auto& v : s.provenance) std::cout << v.name << "=" << v.display() << "\n";
//
// Thread-safety: `Settings` is a plain value; loading reads the environment and the file once.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ragperf {

/// Where an effective setting came from.
enum class SettingSource { kDefault, kProfile, kDotenv, kEnvironment };

const char* to_string(SettingSource source);

/// One effective setting and its origin, for `ragperf config`.
struct SettingValue {
  std::string name;   // variable name, e.g. "MAX_POOL_SIZE"
  std::string value;  // raw text as given
  SettingSource source = SettingSource::kDefault;
  std::string origin;   // e.g. ".env:3", "profile server", "environment"
  bool secret = false;  // passwords: `display()` masks them

  /// The value as it may be printed: secrets (and passwords inside URLs) masked.
  std::string display() const;
};

/// The guide's three profiles, selected with RAGPERF_PROFILE.
enum class Profile { kNone, kLaptop, kServer, kHighTraffic };

struct Settings {
  // The guide's variables, with its defaults. Pass them to the components (PoolConfig::
  // from_settings, BatchProcessorOptions::from_settings, ServerOptions, ...).
  bool enable_async = true;       // ENABLE_ASYNC: 0 runs each query to completion before the next
  int connection_pool_size = 10;  // CONNECTION_POOL_SIZE: the pool's target size (PoolConfig)
  int min_pool_size = 5;          // MIN_POOL_SIZE
  int max_pool_size = 20;         // MAX_POOL_SIZE
  int batch_size = 32;            // BATCH_SIZE: queries per BatchProcessor batch
  double batch_timeout_s = 1.0;   // BATCH_TIMEOUT: seconds the oldest query may wait
  std::string embed_model = "BAAI/bge-small-en";  // EMBED_MODEL: folder path or hub id
  int embed_dim = 384;    // EMBED_DIM: when set, checked against the model (check_embed_dim)
  int embed_batch = 128;  // EMBED_BATCH: texts per forward pass, at most
  // Ours: the process's threads (RuntimeOptions::from_settings, ragperf/runtime.h).
  int compute_threads = 0;  // RAGPERF_THREADS: compute threads; 0: one per core
  int io_threads = 1;       // RAGPERF_IO_THREADS: threads waiting on sockets and timers

  Profile profile = Profile::kNone;  // RAGPERF_PROFILE
  std::string database_url;          // DATABASE_URL; empty: use the embedded store
  std::filesystem::path home;        // RAGPERF_HOME (default ~/.ragperf)

  /// Every effective value above (and each other variable found in .env), in a stable order.
  std::vector<SettingValue> provenance;

  /// Any variable with the same precedence (environment > .env), e.g. "PGHOST", "HF_ENDPOINT".
  std::optional<std::string> lookup(const std::string& name) const;

  /// The provenance entry for `name`, or nullptr.
  const SettingValue* find(const std::string& name) const;

  /// All variables seen: the environment over `.env`. Prefer lookup().
  std::map<std::string, std::string> variables;
};

/// Reads the process environment and the `.env` file (RAGPERF_ENV_FILE, else ./.env if present).
Settings load_settings();

/// Same, from an explicit environment and `.env` path (a missing path is skipped unless
/// `dotenv_required`). Used by tests and by tools that embed ragperf.
Settings load_settings(const std::map<std::string, std::string>& environment,
                       const std::filesystem::path& dotenv, bool dotenv_required = false);

/// Checks EMBED_DIM against the dimension of the model actually loaded. When EMBED_DIM was given
/// (environment, `.env` or profile) and differs from `model_dim`, throws ConfigError naming both
/// values, where EMBED_DIM came from, the model, and the two ways out (set EMBED_DIM to the
/// model's dimension or remove it; or load a model of EMBED_DIM dimensions). The built-in
/// default (384, not set anywhere) is not checked: the model's own dimension then holds.
void check_embed_dim(const Settings& settings, size_t model_dim, const std::string& model_id);

/// Parses a `.env` file: `KEY=VALUE` lines, optional `export `, `#` comments, single or double
/// quotes. Throws ConfigError naming file:line for a line it cannot read.
std::map<std::string, std::string> parse_dotenv(const std::filesystem::path& path);

/// The process environment as a map.
std::map<std::string, std::string> process_environment();

/// "postgresql://u:secret@h/db" -> "postgresql://u:****@h/db"; also masks password=... pairs.
std::string mask_secrets(const std::string& text);

}  // namespace ragperf
