// Binary COPY data (include/ragperf/pg_copy.h).
#include "ragperf/pg_copy.h"

#include <bit>

#include "ragperf/error.h"
#include "ragperf/pgvector.h"

namespace ragperf::db {

BinaryCopyWriter::BinaryCopyWriter() {
  static constexpr char kHeader[] = "PGCOPY\n\377\r\n";  // 11 bytes incl. the NUL
  buf_.append(kHeader, 11);
  be32(0);  // flags
  be32(0);  // header extension length
}

void BinaryCopyWriter::be32(uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  buf_.append(b, 4);
}

void BinaryCopyWriter::begin_row(int n_fields) {
  if (n_fields < 1 || n_fields > 1600)
    throw InputError("binary COPY: a row needs 1..1600 fields, got " + std::to_string(n_fields));
  buf_.push_back(static_cast<char>(n_fields >> 8));
  buf_.push_back(static_cast<char>(n_fields & 0xff));
  ++rows_;
}

void BinaryCopyWriter::field(std::string_view bytes) {
  be32(static_cast<uint32_t>(bytes.size()));
  buf_.append(bytes);
}

void BinaryCopyWriter::add_null() {
  be32(0xffffffffu);
}
void BinaryCopyWriter::add_bool(bool v) {
  be32(1);
  buf_.push_back(v ? 1 : 0);
}
void BinaryCopyWriter::add_int4(int32_t v) {
  be32(4);
  be32(static_cast<uint32_t>(v));
}
void BinaryCopyWriter::add_int8(int64_t v) {
  be32(8);
  be32(static_cast<uint32_t>(static_cast<uint64_t>(v) >> 32));
  be32(static_cast<uint32_t>(v));
}
void BinaryCopyWriter::add_float4(float v) {
  be32(4);
  be32(std::bit_cast<uint32_t>(v));
}
void BinaryCopyWriter::add_float8(double v) {
  const auto bits = std::bit_cast<uint64_t>(v);
  be32(8);
  be32(static_cast<uint32_t>(bits >> 32));
  be32(static_cast<uint32_t>(bits));
}
void BinaryCopyWriter::add_text(std::string_view v) {
  field(v);
}
void BinaryCopyWriter::add_bytea(std::string_view v) {
  field(v);
}
void BinaryCopyWriter::add_jsonb(std::string_view json) {
  be32(static_cast<uint32_t>(json.size() + 1));
  buf_.push_back(1);  // jsonb binary format version
  buf_.append(json);
}
void BinaryCopyWriter::add_vector(std::span<const float> v) {
  const size_t at = buf_.size();
  be32(static_cast<uint32_t>(pgvector::wire_size(v.size())));
  try {
    pgvector::encode_to(v, buf_);
  } catch (...) {
    buf_.resize(at);
    throw;
  }
}
void BinaryCopyWriter::finish() {
  buf_.push_back(static_cast<char>(0xff));
  buf_.push_back(static_cast<char>(0xff));
}

}  // namespace ragperf::db
