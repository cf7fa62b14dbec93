// store/filter_sql.h compiles a parsed metadata filter (ragperf/filter.h) into the WHERE
// condition of each store's SQL: PostgreSQL (jsonb operators; equality as `@>` so that a GIN
// index on the metadata column can serve it) and SQLite (json_type / json_extract). Literal
// values and key paths are parameters, never SQL text; both dialects give the same meaning,
// which tests/store/filter_test.cpp checks on the same rows.
#pragma once

#include <string>
#include <vector>

#include "ragperf/filter.h"

namespace ragperf::store {

/// One parameter of a compiled filter, in order.
struct FilterParam {
  bool is_number = false;  // bind `number` (SQLite REAL / PostgreSQL float8 text); else `text`
  std::string text;
  double number = 0;
};

struct FilterSql {
  std::string condition;            // a boolean SQL expression, never NULL
  std::vector<FilterParam> params;  // $first.. (PostgreSQL) or ?first.. (SQLite), in order
};

/// PostgreSQL: `metadata` and `source` are the quoted column expressions ("" when the table has
/// no such column: a filter that needs it is an InputError naming `table`); parameters are
/// numbered from $first.
FilterSql postgres_filter(const Filter& filter, const std::string& metadata,
                          const std::string& source, const std::string& table, int first);

/// SQLite over the local store's `chunks` table (columns metadata and source); parameters are
/// numbered from ?first.
FilterSql sqlite_filter(const Filter& filter, int first);

}  // namespace ragperf::store
