// ragperf/filter.h defines the metadata filter language: SearchOptions::where and
// RetrieveOptions::where in the library, `ragperf query --where`, the HTTP API's "where" and the
// Python package's `where=`. A search with a filter returns the best top_k chunks among those the
// filter accepts, and exactly top_k whenever at least that many match (both stores).
//
//   source ^= 'docs/sql/' and meta.lang = 'en'
//   meta.year >= 2020 and meta.year < 2024
//   meta.published >= date '2024-01-01' or meta.tag in ('howto', 'faq')
//   exists meta.author and not meta.draft = true
//
// Grammar (keywords and, or, not, in, exists, date, true, false are case-insensitive):
//
//   filter  := or
//   or      := and { "or" and }
//   and     := unary { "and" unary }
//   unary   := "not" unary | "(" or ")" | "exists" field | field op value
//            | field "in" "(" value { "," value } ")"
//   field   := "source" | "meta" "." key { "." key }       key: [A-Za-z_][A-Za-z0-9_-]*
//   op      := "=" | "!=" | "<" | "<=" | ">" | ">=" | "^="
//   value   := 'text' ('' inside is one quote) | number | true | false
//            | date 'YYYY-MM-DD' | date 'YYYY-MM-DDTHH:MM[:SS]'
//
// Meaning. `source` is Chunk::source (the file); `meta.a.b` is the value at key a, then b, of the
// chunk's metadata JSON object.
// - `=` / `in`: the value has the literal's JSON type and is equal to it (numbers numerically:
//   1 = 1.0). `!=` is `not (... = ...)`, so it also accepts chunks without the key.
// - `<` `<=` `>` `>=`: a number literal compares with numbers only; a text or date literal with
//   text only, byte by byte, so ISO 8601 dates ("2024-05-01", "2024-05-01T10:00:00Z") stored as
//   text order as dates. A date literal is checked to be a valid date and is otherwise text.
// - `^=`: text that starts with the literal (text literals only).
// - `exists meta.k`: the key is present (even with a null value); `exists source`: a source is set.
// - A comparison with a missing key, or a value of another type, is false (and `not` of it true).
//
// Limits: 4096 bytes of filter text, 64 comparisons, nesting depth 32, keys of at most 64 bytes,
// paths of at most 8 keys, 256 values in one `in` list. Anything else is an InputError that
// names the filter part at fault, its byte offset, and what is expected there. Literal values
// never become SQL text: the stores pass them as parameters.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf {

/// A literal of the filter text.
struct FilterValue {
  enum class Type { kText, kNumber, kBool };
  Type type = Type::kText;
  std::string text;  // kText (a date literal is kText with is_date set)
  double number = 0;
  bool boolean = false;
  bool is_date = false;
};

/// `source`, or `meta.` followed by `path`.
struct FilterField {
  bool is_source = false;
  std::vector<std::string> path;  // empty for source
};

enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kPrefix };

/// A node of a parsed filter.
struct FilterNode {
  enum class Kind { kAnd, kOr, kNot, kCompare, kIn, kExists };
  Kind kind = Kind::kCompare;
  std::vector<FilterNode> children;  // kAnd, kOr (two or more), kNot (one)
  FilterField field;                 // kCompare, kIn, kExists
  FilterOp op = FilterOp::kEq;       // kCompare
  std::vector<FilterValue> values;   // kCompare: one; kIn: one or more
};

/// A parsed filter. Cheap to copy (shares its tree).
class Filter {
 public:
  /// Parses `text`; InputError naming the part at fault (see the file comment). An empty or
  /// all-blank text is no filter (empty() is true).
  static Filter parse(std::string_view text);

  bool empty() const { return !root_; }
  /// The tree; must not be called when empty().
  const FilterNode& root() const { return *root_; }
  /// One canonical text per meaning of the syntax (keywords lower case, single spaces, numbers
  /// in shortest form, redundant parentheses dropped); parse(canonical()) gives the same tree.
  /// "" when empty(). The semantic cache's scope holds it.
  const std::string& canonical() const { return canonical_; }

 private:
  std::shared_ptr<const FilterNode> root_;
  std::string canonical_;
};

}  // namespace ragperf
