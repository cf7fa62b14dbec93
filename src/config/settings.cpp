// Loading, validating and tracing ragperf's settings (include/ragperf/config.h).
#include "ragperf/config.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>

#include "ragperf/error.h"

extern char** environ;

namespace ragperf {
namespace {

struct ProfileValues {
  const char* name;
  Profile profile;
  std::map<std::string, std::string> values;
};

// The guide's three profiles, with the guide's own values (../shared/GUIDE_API.md): its
// "Laptop/Desktop" row equals the defaults. EMBED_BATCH per profile is ours, not the guide's.
// Values not listed keep the defaults; every profile keeps ENABLE_ASYNC=1, as the guide's do.
const std::vector<ProfileValues>& profiles() {
  static const std::vector<ProfileValues> kProfiles = {
      {"laptop",
       Profile::kLaptop,
       {{"CONNECTION_POOL_SIZE", "10"},
        {"MIN_POOL_SIZE", "5"},
        {"MAX_POOL_SIZE", "20"},
        {"BATCH_SIZE", "32"},
        {"BATCH_TIMEOUT", "1.0"},
        {"EMBED_BATCH", "32"}}},  // ours
      {"server",
       Profile::kServer,
       {{"CONNECTION_POOL_SIZE", "15"},
        {"MIN_POOL_SIZE", "10"},
        {"MAX_POOL_SIZE", "30"},
        {"BATCH_SIZE", "64"},
        {"BATCH_TIMEOUT", "1.0"},
        {"EMBED_BATCH", "128"}}},  // ours
      {"high-traffic",
       Profile::kHighTraffic,
       {{"CONNECTION_POOL_SIZE", "30"},
        {"MIN_POOL_SIZE", "20"},
        {"MAX_POOL_SIZE", "50"},
        {"BATCH_SIZE", "128"},
        {"BATCH_TIMEOUT", "0.5"},
        {"EMBED_BATCH", "256"}}},  // ours
  };
  return kProfiles;
}

const ProfileValues* find_profile(const std::string& name) {
  std::string key = name == "desktop" ? "laptop" : name;
  if (key == "high_traffic" || key == "hightraffic") key = "high-traffic";
  for (const auto& p : profiles())
    if (key == p.name) return &p;
  return nullptr;
}

bool is_secret_name(const std::string& name) {
  return name.find("PASSWORD") != std::string::npos || name.find("SECRET") != std::string::npos ||
         name.find("TOKEN") != std::string::npos || name == "PGPASSFILE";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool valid_key(const std::string& key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  for (char c : key)
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return false;
  return true;
}

[[noreturn]] void invalid(const SettingValue& v, const std::string& why) {
  throw ConfigError(v.name + "='" + v.display() + "' (from " + v.origin + ") " + why);
}

long parse_int(const SettingValue& v, long lo, long hi) {
  long out = 0;
  const std::string s = trim(v.value);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    invalid(v, "is not an integer; set it to a whole number in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
  if (out < lo || out > hi)
    invalid(v,
            "is out of range; allowed: [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return out;
}

double parse_seconds(const SettingValue& v, double lo, double hi) {
  const std::string s = trim(v.value);
  char* end = nullptr;
  errno = 0;
  double out = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || errno != 0 || end != s.c_str() + s.size() || out != out)
    invalid(v, "is not a number; give seconds as a decimal, e.g. 0.5");
  if (out <= lo || out > hi)
    invalid(v, "is out of range; allowed: seconds > " + std::to_string(lo).substr(0, 3) +
                   " and <= " + std::to_string(static_cast<long>(hi)));
  return out;
}

bool parse_bool(const SettingValue& v) {
  std::string s = trim(v.value);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  invalid(v, "is not a boolean; allowed: 1/0, true/false, yes/no, on/off");
}

}  // namespace

const char* to_string(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault:
      return "default";
    case SettingSource::kProfile:
      return "profile";
    case SettingSource::kDotenv:
      return ".env";
    case SettingSource::kEnvironment:
      return "environment";
  }
  return "?";
}

std::string mask_secrets(const std::string& text) {
  std::string out = text;
  // URL userinfo: scheme://user:password@host
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t at = out.find('@', scheme + 3);
    size_t slash = out.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "****");
    }
  }
  // key=value connection strings and URL query parameters.
  for (size_t pos = 0; (pos = out.find("password=", pos)) != std::string::npos;) {
    size_t start = pos + 9;
    size_t end = out.find_first_of(" &", start);
    if (end == std::string::npos) end = out.size();
    out.replace(start, end - start, "****");
    pos = start + 4;
  }
  return out;
}

std::string SettingValue::display() const {
  return secret ? "****" : mask_secrets(value);
}

std::optional<std::string> Settings::lookup(const std::string& name) const {
  auto it = variables.find(name);
  if (it == variables.end()) return std::nullopt;
  return it->second;
}

const SettingValue* Settings::find(const std::string& name) const {
  for (const auto& v : provenance)
    if (v.name == name) return &v;
  return nullptr;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

std::map<std::string, std::string> parse_dotenv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    throw ConfigError(".env file '" + path.string() +
                      "' cannot be read; check its permissions or unset RAGPERF_ENV_FILE");
  std::map<std::string, std::string> out;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::string s = trim(line);
    if (s.empty() || s[0] == '#') continue;
    if (s.rfind("export ", 0) == 0) s = trim(s.substr(7));
    const std::string where = path.string() + ":" + std::to_string(lineno);
    size_t eq = s.find('=');
    if (eq == std::string::npos)
      throw ConfigError(where + ": line '" + s +
                        "' is not KEY=VALUE; fix or comment it out with #");
    std::string key = trim(s.substr(0, eq));
    if (!valid_key(key))
      throw ConfigError(where + ": '" + key +
                        "' is not a valid variable name (letters, digits, _; not starting "
                        "with a digit)");
    std::string value = trim(s.substr(eq + 1));
    if (!value.empty() && (value[0] == '"' || value[0] == '\'')) {
      char q = value[0];
      size_t close = value.find(q, 1);
      if (close == std::string::npos)
        throw ConfigError(where + ": value of " + key + " opens a " + std::string(1, q) +
                          " quote that is never closed; close it on the same line");
      std::string rest = trim(value.substr(close + 1));
      if (!rest.empty() && rest[0] != '#')
        throw ConfigError(where + ": unexpected text after the quoted value of " + key);
      value = value.substr(1, close - 1);
    } else {
      size_t hash = value.find(" #");
      if (hash != std::string::npos) value = trim(value.substr(0, hash));
    }
    out[key] = value;
  }
  if (in.bad()) throw ConfigError(".env file '" + path.string() + "' could not be read fully");
  return out;
}

Settings load_settings(const std::map<std::string, std::string>& environment,
                       const std::filesystem::path& dotenv, bool dotenv_required) {
  std::map<std::string, std::string> file_vars;
  if (!dotenv.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(dotenv, ec)) {
      file_vars = parse_dotenv(dotenv);
    } else if (dotenv_required) {
      throw ConfigError("RAGPERF_ENV_FILE='" + dotenv.string() +
                        "' does not exist; create it or unset RAGPERF_ENV_FILE");
    }
  }

  Settings s;
  s.variables = file_vars;
  for (const auto& [k, v] : environment) s.variables[k] = v;

  auto resolve = [&](const std::string& name, const std::string& fallback,
                     const ProfileValues* profile) {
    SettingValue v{name, fallback, SettingSource::kDefault, "default", is_secret_name(name)};
    if (profile != nullptr) {
      auto it = profile->values.find(name);
      if (it != profile->values.end()) {
        v.value = it->second;
        v.source = SettingSource::kProfile;
        v.origin = std::string("profile ") + profile->name;
      }
    }
    if (auto it = file_vars.find(name); it != file_vars.end()) {
      v.value = it->second;
      v.source = SettingSource::kDotenv;
      v.origin = dotenv.string();
    }
    if (auto it = environment.find(name); it != environment.end()) {
      v.value = it->second;
      v.source = SettingSource::kEnvironment;
      v.origin = "environment";
    }
    return v;
  };

  SettingValue profile_v = resolve("RAGPERF_PROFILE", "", nullptr);
  const ProfileValues* profile = nullptr;
  if (!trim(profile_v.value).empty()) {
    profile = find_profile(trim(profile_v.value));
    if (profile == nullptr)
      invalid(profile_v,
              "is not a known profile; allowed: laptop (or desktop), server, "
              "high-traffic");
    s.profile = profile->profile;
  }
  s.provenance.push_back(profile_v);

  auto take = [&](const std::string& name, const std::string& fallback) -> const SettingValue& {
    s.provenance.push_back(resolve(name, fallback, profile));
    return s.provenance.back();
  };

  s.enable_async = parse_bool(take("ENABLE_ASYNC", "1"));
  s.connection_pool_size =
      static_cast<int>(parse_int(take("CONNECTION_POOL_SIZE", "10"), 1, 10000));
  s.min_pool_size = static_cast<int>(parse_int(take("MIN_POOL_SIZE", "5"), 0, 10000));
  s.max_pool_size = static_cast<int>(parse_int(take("MAX_POOL_SIZE", "20"), 1, 10000));
  s.batch_size = static_cast<int>(parse_int(take("BATCH_SIZE", "32"), 1, 100000));
  s.batch_timeout_s = parse_seconds(take("BATCH_TIMEOUT", "1.0"), 0.0, 3600.0);
  const SettingValue& model = take("EMBED_MODEL", "BAAI/bge-small-en");
  if (trim(model.value).empty())
    invalid(model, "is empty; give a model folder path or a hub id such as BAAI/bge-small-en");
  s.embed_model = trim(model.value);
  s.embed_dim = static_cast<int>(parse_int(take("EMBED_DIM", "384"), 1, 65536));
  s.embed_batch = static_cast<int>(parse_int(take("EMBED_BATCH", "128"), 1, 65536));
  s.compute_threads = static_cast<int>(parse_int(take("RAGPERF_THREADS", "0"), 0, 1024));
  s.io_threads = static_cast<int>(parse_int(take("RAGPERF_IO_THREADS", "1"), 1, 64));

  if (s.min_pool_size > s.max_pool_size)
    throw ConfigError("MIN_POOL_SIZE=" + std::to_string(s.min_pool_size) +
                      " is larger than MAX_POOL_SIZE=" + std::to_string(s.max_pool_size) +
                      "; MIN_POOL_SIZE must be <= MAX_POOL_SIZE");
  if (s.connection_pool_size < s.min_pool_size || s.connection_pool_size > s.max_pool_size)
    throw ConfigError("CONNECTION_POOL_SIZE=" + std::to_string(s.connection_pool_size) +
                      " must lie in [MIN_POOL_SIZE, MAX_POOL_SIZE] = [" +
                      std::to_string(s.min_pool_size) + ", " + std::to_string(s.max_pool_size) +
                      "]");

  s.database_url = trim(take("DATABASE_URL", "").value);
  std::string home_default;
  if (auto it = environment.find("HOME"); it != environment.end() && !it->second.empty())
    home_default = it->second + "/.ragperf";
  else
    home_default = ".ragperf";
  s.home = trim(take("RAGPERF_HOME", home_default).value);

  // Other variables from .env are listed too, so `ragperf config` shows everything it read.
  for (const auto& [k, v] : file_vars) {
    if (s.find(k) != nullptr) continue;
    s.provenance.push_back(resolve(k, v, nullptr));
  }
  return s;
}

void check_embed_dim(const Settings& settings, size_t model_dim, const std::string& model_id) {
  const SettingValue* v = settings.find("EMBED_DIM");
  if (v == nullptr || v->source == SettingSource::kDefault) return;
  if (settings.embed_dim > 0 && static_cast<size_t>(settings.embed_dim) == model_dim) return;
  throw ConfigError("EMBED_DIM=" + std::to_string(settings.embed_dim) + " (from " + v->origin +
                    ") but model " + model_id + " produces " + std::to_string(model_dim) +
                    "-dimensional embeddings; set EMBED_DIM=" + std::to_string(model_dim) +
                    " (or remove it) to use this model, or choose a model of dimension " +
                    std::to_string(settings.embed_dim) + " (EMBED_MODEL or --model)");
}

Settings load_settings() {
  auto env = process_environment();
  auto it = env.find("RAGPERF_ENV_FILE");
  if (it != env.end() && !it->second.empty()) return load_settings(env, it->second, true);
  return load_settings(env, ".env", false);
}

}  // namespace ragperf
