// store/filter_sql.cpp: see filter_sql.h.
#include "store/filter_sql.h"

#include <nlohmann/json.hpp>

#include "ragperf/error.h"

namespace ragperf::store {
namespace {

using K = FilterNode::Kind;
using T = FilterValue::Type;

const char* sql_op(FilterOp op) {
  switch (op) {
    case FilterOp::kLt:
      return "<";
    case FilterOp::kLe:
      return "<=";
    case FilterOp::kGt:
      return ">";
    case FilterOp::kGe:
      return ">=";
    default:
      return "=";
  }
}

/// A LIKE pattern matching text that starts with `prefix` (backslash is LIKE's default escape).
std::string like_prefix(const std::string& prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + '%';
}

class Compiler {
 public:
  Compiler(bool postgres, std::string metadata, std::string source, std::string table, int first)
      : pg_(postgres),
        meta_(std::move(metadata)),
        source_(std::move(source)),
        table_(std::move(table)),
        next_(first) {}

  FilterSql run(const Filter& filter) {
    FilterSql out;
    out.condition = node(filter.root());
    out.params = std::move(params_);
    return out;
  }

 private:
  std::string param(std::string text) {
    params_.push_back({false, std::move(text), 0});
    return placeholder();
  }
  std::string param(double number) {
    params_.push_back({true, {}, number});
    return placeholder();
  }
  std::string placeholder() {
    std::string out(1, pg_ ? '$' : '?');
    out += std::to_string(next_++);
    return out;
  }

  const std::string& meta_column() const {
    if (meta_.empty()) {
      throw InputError("filter: table " + table_ +
                       " has no metadata column, so meta.* cannot be filtered on; filter on "
                       "source, or adopt the table with its metadata column");
    }
    return meta_;
  }
  const std::string& source_column() const {
    if (source_.empty()) {
      throw InputError("filter: table " + table_ +
                       " has no source column, so source cannot be filtered on; adopt the "
                       "table with its source column");
    }
    return source_;
  }

  /// The key path as PostgreSQL's text[] literal ({a,b}; keys are [A-Za-z0-9_-]) or SQLite's
  /// JSON path ($."a"."b"), as a parameter.
  std::string path(const FilterField& f) {
    std::string p = pg_ ? "{" : "$";
    for (size_t i = 0; i < f.path.size(); ++i) {
      if (pg_) {
        if (i) p += ',';
        p += f.path[i];
      } else {
        p += ".\"" + f.path[i] + "\"";
      }
    }
    if (pg_) p += '}';
    return param(std::move(p));
  }

  std::string node(const FilterNode& n) {
    switch (n.kind) {
      case K::kAnd:
      case K::kOr: {
        std::string out = "(";
        for (size_t i = 0; i < n.children.size(); ++i) {
          if (i) out += n.kind == K::kAnd ? " AND " : " OR ";
          out += node(n.children[i]);
        }
        return out + ")";
      }
      case K::kNot:
        return "(NOT " + node(n.children[0]) + ")";
      case K::kExists:
        return exists(n.field);
      case K::kIn: {
        std::string out = "(";
        for (size_t i = 0; i < n.values.size(); ++i) {
          if (i) out += " OR ";
          out += compare(n.field, FilterOp::kEq, n.values[i]);
        }
        return out + ")";
      }
      case K::kCompare:
        break;
    }
    if (n.op == FilterOp::kNe) return "(NOT " + compare(n.field, FilterOp::kEq, n.values[0]) + ")";
    return compare(n.field, n.op, n.values[0]);
  }

  std::string exists(const FilterField& f) {
    if (f.is_source) return "(" + source_column() + " <> '')";
    if (pg_)
      return "COALESCE((" + meta_column() + " #> " + path(f) + "::text[]) IS NOT NULL, false)";
    return "(json_type(metadata, " + path(f) + ") IS NOT NULL)";
  }

  /// Every leaf is true or false, never NULL (COALESCE, or "col IS NOT NULL AND ..." where the
  /// bare comparison must stay visible to the planner so that an index can serve it): `not` of
  /// a comparison with a missing key is then true, as the language says.
  std::string compare(const FilterField& f, FilterOp op, const FilterValue& v) {
    if (f.is_source) return source_compare(op, v);
    return pg_ ? pg_meta_compare(f, op, v) : sqlite_meta_compare(f, op, v);
  }

  std::string source_compare(FilterOp op, const FilterValue& v) {
    const std::string& s = source_column();
    if (op == FilterOp::kPrefix) {
      if (pg_) {
        return "(" + s + " IS NOT NULL AND " + s + " LIKE " + param(like_prefix(v.text)) +
               "::text)";
      }
      const std::string p = param(v.text);
      return "(substr(CAST(source AS BLOB), 1, length(CAST(" + p + " AS BLOB))) = CAST(" + p +
             " AS BLOB))";
    }
    if (pg_) {
      return "(" + s + " IS NOT NULL AND " + s + (op == FilterOp::kEq ? "" : " COLLATE \"C\"") +
             " " + sql_op(op) + " " + param(v.text) + "::text)";
    }
    return "(source " + std::string(sql_op(op)) + " " + param(v.text) + ")";
  }

  std::string pg_meta_compare(const FilterField& f, FilterOp op, const FilterValue& v) {
    const std::string& m = meta_column();
    if (op == FilterOp::kEq) {
      // {"a": {"b": value}}: containment, which a GIN (jsonb_path_ops) index serves.
      nlohmann::json doc = v.type == T::kNumber ? nlohmann::json(v.number)
                           : v.type == T::kBool ? nlohmann::json(v.boolean)
                                                : nlohmann::json(v.text);
      for (auto it = f.path.rbegin(); it != f.path.rend(); ++it) {
        doc = nlohmann::json{{*it, std::move(doc)}};
      }
      return "(" + m + " IS NOT NULL AND " + m + " @> " + param(doc.dump()) + "::jsonb)";
    }
    const std::string p = path(f);
    const bool number = v.type == T::kNumber;
    const std::string typed = "(CASE WHEN jsonb_typeof(" + m + " #> " + p + "::text[]) = '" +
                              (number ? "number" : "string") + "' THEN (" + m + " #>> " + p +
                              "::text[])" + (number ? "::float8" : "") + " END)";
    if (op == FilterOp::kPrefix) {
      return "COALESCE(starts_with(" + typed + ", " + param(v.text) + "::text), false)";
    }
    if (number) {
      return "COALESCE(" + typed + " " + sql_op(op) + " " + param(v.number) + "::float8, false)";
    }
    return "COALESCE(" + typed + " COLLATE \"C\" " + sql_op(op) + " " + param(v.text) +
           "::text, false)";
  }

  std::string sqlite_meta_compare(const FilterField& f, FilterOp op, const FilterValue& v) {
    const std::string p = path(f);
    const std::string type = "json_type(metadata, " + p + ")";
    const std::string value = "json_extract(metadata, " + p + ")";
    if (v.type == T::kBool) {
      return "COALESCE(" + type + " = '" + (v.boolean ? "true" : "false") + "', 0)";
    }
    if (v.type == T::kNumber) {
      return "COALESCE(" + type + " IN ('integer', 'real') AND " + value + " " + sql_op(op) + " " +
             param(v.number) + ", 0)";
    }
    if (op == FilterOp::kPrefix) {
      const std::string q = param(v.text);
      return "COALESCE(" + type + " = 'text' AND substr(CAST(" + value +
             " AS BLOB), 1, length(CAST(" + q + " AS BLOB))) = CAST(" + q + " AS BLOB), 0)";
    }
    return "COALESCE(" + type + " = 'text' AND " + value + " " + sql_op(op) + " " + param(v.text) +
           ", 0)";
  }

  bool pg_;
  std::string meta_;
  std::string source_;
  std::string table_;
  int next_;
  std::vector<FilterParam> params_;
};

}  // namespace

FilterSql postgres_filter(const Filter& filter, const std::string& metadata,
                          const std::string& source, const std::string& table, int first) {
  return Compiler(true, metadata, source, table, first).run(filter);
}

FilterSql sqlite_filter(const Filter& filter, int first) {
  return Compiler(false, "metadata", "source", "chunks", first).run(filter);
}

}  // namespace ragperf::store
