// fuzz/filter.cpp: the metadata filter language (ragperf/filter.h) on arbitrary text. Text it
// refuses must be an InputError; text it accepts must have a canonical form that parses to the
// same canonical form, and must compile into both stores' SQL (store/filter_sql.h) with one
// parameter per placeholder number.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "check.h"
#include "ragperf/error.h"
#include "ragperf/filter.h"
#include "store/filter_sql.h"

namespace {

// The placeholder numbers in `sql` ($1, ?2 ...: `marker` and digits); a placeholder may appear
// more than once (a key path tested for its type and then read).
std::set<size_t> placeholders(const std::string& sql, char marker) {
  std::set<size_t> out;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != marker || i + 1 >= sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9') continue;
    size_t n = 0;
    while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9')
      n = n * 10 + (sql[++i] - '0');
    out.insert(n);
  }
  return out;
}

// Every parameter is used and nothing else is referred to: the numbers are exactly 1..n.
bool numbered_exactly(const std::set<size_t>& numbers, size_t n) {
  return numbers.size() == n && (n == 0 || (*numbers.begin() == 1 && *numbers.rbegin() == n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ragperf::Filter filter;
  try {
    filter = ragperf::Filter::parse(text);
  } catch (const ragperf::InputError&) {
    return 0;
  }
  if (filter.empty()) {
    RAGPERF_FUZZ_CHECK(filter.canonical().empty());
    return 0;
  }
  const ragperf::Filter again = ragperf::Filter::parse(filter.canonical());
  RAGPERF_FUZZ_CHECK(again.canonical() == filter.canonical());

  const auto sqlite = ragperf::store::sqlite_filter(filter, 1);
  RAGPERF_FUZZ_CHECK(!sqlite.condition.empty());
  RAGPERF_FUZZ_CHECK(numbered_exactly(placeholders(sqlite.condition, '?'), sqlite.params.size()));
  const auto postgres =
      ragperf::store::postgres_filter(filter, "\"metadata\"", "\"source\"", "fuzz", 1);
  RAGPERF_FUZZ_CHECK(!postgres.condition.empty());
  RAGPERF_FUZZ_CHECK(
      numbered_exactly(placeholders(postgres.condition, '$'), postgres.params.size()));
  return 0;
}
