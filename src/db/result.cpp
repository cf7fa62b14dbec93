// Parameters and results of db::Connection in binary format (include/ragperf/db_pool.h).
#include <bit>
#include <charconv>
#include <cstring>

#include "db/result_data.h"
#include "ragperf/pgvector.h"

namespace ragperf::db {
namespace {

uint64_t be(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string be_bytes(uint64_t v, int n) {
  std::string s(static_cast<size_t>(n), '\0');
  for (int i = n - 1; i >= 0; --i, v >>= 8) s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

std::string type_name(uint32_t oid) {
  switch (oid) {
    case kOidBool:
      return "bool";
    case kOidBytea:
      return "bytea";
    case kOidInt8:
      return "int8";
    case kOidInt2:
      return "int2";
    case kOidInt4:
      return "int4";
    case kOidText:
      return "text";
    case kOidJson:
      return "json";
    case kOidJsonb:
      return "jsonb";
    case kOidFloat4:
      return "float4";
    case kOidFloat8:
      return "float8";
    case kOidVarchar:
      return "varchar";
    default:
      return "type oid " + std::to_string(oid);
  }
}

bool is_text_like(uint32_t oid) {
  return oid == kOidText || oid == kOidVarchar || oid == kOidBpchar || oid == kOidName ||
         oid == kOidChar || oid == kOidJson;
}

}  // namespace

// ---- Param -----------------------------------------------------------------------------------

Param::Param(bool v) : oid_(kOidBool), data_(1, v ? '\1' : '\0') {}
Param::Param(long long v) : oid_(kOidInt8), data_(be_bytes(static_cast<uint64_t>(v), 8)) {}
Param::Param(double v) : oid_(kOidFloat8), data_(be_bytes(std::bit_cast<uint64_t>(v), 8)) {}
Param::Param(std::span<const float> v) : oid_(0), data_(pgvector::encode(v)) {}

Param Param::bytes(std::string data) {
  Param p;
  p.oid_ = kOidBytea;
  p.data_ = std::move(data);
  return p;
}

Param Param::jsonb(std::string json) {
  Param p;
  p.oid_ = kOidJsonb;
  p.data_ = "\1" + json;
  return p;
}

Param Param::text_as(std::string text, uint32_t oid) {
  Param p;
  p.oid_ = oid;
  p.binary_ = false;
  p.data_ = std::move(text);
  return p;
}

// ---- Field -----------------------------------------------------------------------------------

namespace {
[[noreturn]] void wrong_type(const Field& f, const char* wanted) {
  throw InputError("column '" + std::string(f.name()) + "' is " + type_name(f.type_oid()) +
                   ", cannot read it as " + wanted + "; cast it in SQL (e.g. ::" +
                   (std::strcmp(wanted, "int") == 0 ? "int8" : "text") + ") or use another getter");
}
[[noreturn]] void null_value(const Field& f, const char* wanted) {
  throw InputError("column '" + std::string(f.name()) + "' is NULL, cannot read it as " + wanted +
                   "; check is_null() first or use COALESCE in SQL");
}
}  // namespace

bool Field::is_null() const {
  return PQgetisnull(r_->get(), row_, col_) != 0;
}
uint32_t Field::type_oid() const {
  return PQftype(r_->get(), col_);
}
std::string_view Field::name() const {
  return PQfname(r_->get(), col_);
}

std::string_view Field::bytes() const {
  return {PQgetvalue(r_->get(), row_, col_),
          static_cast<size_t>(PQgetlength(r_->get(), row_, col_))};
}

int64_t Field::as_int() const {
  if (is_null()) null_value(*this, "int");
  const auto b = bytes();
  switch (type_oid()) {
    case kOidInt2:
      return static_cast<int16_t>(be(b.data(), 2));
    case kOidInt4:
      return static_cast<int32_t>(be(b.data(), 4));
    case kOidInt8:
      return static_cast<int64_t>(be(b.data(), 8));
    case kOidOid:
      return static_cast<int64_t>(be(b.data(), 4));
    case kOidBool:
      return b[0] ? 1 : 0;
    default:
      wrong_type(*this, "int");
  }
}

double Field::as_double() const {
  if (is_null()) null_value(*this, "double");
  const auto b = bytes();
  switch (type_oid()) {
    case kOidFloat4:
      return std::bit_cast<float>(static_cast<uint32_t>(be(b.data(), 4)));
    case kOidFloat8:
      return std::bit_cast<double>(be(b.data(), 8));
    case kOidInt2:
    case kOidInt4:
    case kOidInt8:
    case kOidOid:
      return static_cast<double>(as_int());
    default:
      wrong_type(*this, "double");
  }
}

bool Field::as_bool() const {
  if (is_null()) null_value(*this, "bool");
  if (type_oid() != kOidBool) wrong_type(*this, "bool");
  return bytes()[0] != 0;
}

std::string Field::as_text() const {
  if (is_null()) null_value(*this, "text");
  const uint32_t oid = type_oid();
  const auto b = bytes();
  if (is_text_like(oid) || oid == kOidBytea) return std::string(b);
  if (oid == kOidJsonb) return b.empty() ? std::string() : std::string(b.substr(1));
  char buf[64];
  switch (oid) {
    case kOidBool:
      return as_bool() ? "true" : "false";
    case kOidInt2:
    case kOidInt4:
    case kOidInt8:
    case kOidOid:
      return std::to_string(as_int());
    case kOidFloat4:
    case kOidFloat8: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, as_double());
      return std::string(buf, ec == std::errc() ? end : buf);
    }
    default:
      if (oid >= 16384) {  // extension type: pgvector's vector
        try {
          return pgvector::to_text(pgvector::decode(b));
        } catch (const InputError&) {
        }
      }
      wrong_type(*this, "text");
  }
}

std::vector<float> Field::as_vector() const {
  if (is_null()) null_value(*this, "vector");
  if (type_oid() < 16384) wrong_type(*this, "vector");
  try {
    return pgvector::decode(bytes());
  } catch (const InputError& e) {
    throw InputError("column '" + std::string(name()) + "': " + e.what());
  }
}

// ---- Row / Result ----------------------------------------------------------------------------

int Row::size() const {
  return PQnfields(r_->get());
}

Field Row::operator[](int column) const {
  if (column < 0 || column >= size())
    throw InputError("column index " + std::to_string(column) + " out of range: the row has " +
                     std::to_string(size()) + " columns (statement: " + r_->statement() + ")");
  return Field(r_.get(), row_, column);
}

Field Row::operator[](std::string_view column) const {
  for (int c = 0; c < size(); ++c)
    if (column == PQfname(r_->get(), c)) return Field(r_.get(), row_, c);
  std::string names;
  for (int c = 0; c < size(); ++c) names += std::string(c ? ", " : "") + PQfname(r_->get(), c);
  throw InputError("no column '" + std::string(column) + "' in the result; columns: " + names +
                   " (statement: " + r_->statement() + ")");
}

int Result::rows() const {
  return data_ ? PQntuples(data_->get()) : 0;
}
int Result::columns() const {
  return data_ ? PQnfields(data_->get()) : 0;
}

std::string_view Result::column_name(int column) const {
  if (column < 0 || column >= columns())
    throw InputError("column index " + std::to_string(column) + " out of range: the result has " +
                     std::to_string(columns()) + " columns");
  return PQfname(data_->get(), column);
}

Row Result::operator[](int row) const {
  if (row < 0 || row >= rows())
    throw InputError("row index " + std::to_string(row) + " out of range: the result has " +
                     std::to_string(rows()) + " rows");
  return Row(data_, row);
}

uint64_t Result::affected() const {
  if (!data_) return 0;
  const char* s = PQcmdTuples(const_cast<PGresult*>(data_->get()));
  return s && *s ? std::strtoull(s, nullptr, 10) : 0;
}

std::string_view Result::command() const {
  if (!data_) return {};
  const char* s = PQcmdStatus(const_cast<PGresult*>(data_->get()));
  return s ? s : "";
}

}  // namespace ragperf::db
