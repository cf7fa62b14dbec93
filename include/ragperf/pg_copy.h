// ragperf/pg_copy.h defines BinaryCopyWriter: builds the data of `COPY ... FROM STDIN (FORMAT
// BINARY)` (PostgreSQL's binary COPY format) row by row, for PooledConnection::copy_write().
//
//   ragperf::db::BinaryCopyWriter w;                  // writes the 19-byte header
//   for (const auto& d : docs) {
//     w.begin_row(3);                                 // number of columns
//     w.add_int8(d.id); w.add_text(d.text); w.add_vector(d.embedding);
//   }
//   w.finish();                                       // trailer
//   co_await conn.copy_from("COPY docs (id, text, embedding) FROM STDIN (FORMAT BINARY)",
//   w.data());
//
// For large loads, send w.data() in chunks: copy_write(w.data()); w.clear(); (clear() keeps the
// header sent; call finish() once, before the last copy_write()).
// Thread-safety: a plain value; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ragperf::db {

class BinaryCopyWriter {
 public:
  BinaryCopyWriter();  // appends the header

  /// Starts a row of `n_fields` columns; the add_* calls that follow must number exactly that.
  void begin_row(int n_fields);
  void add_null();
  void add_bool(bool v);
  void add_int4(int32_t v);
  void add_int8(int64_t v);
  void add_float4(float v);
  void add_float8(double v);
  void add_text(std::string_view v);   // text, varchar
  void add_bytea(std::string_view v);  // bytea
  void add_jsonb(std::string_view json);
  void add_vector(
      std::span<const float> v);  // pgvector `vector` (throws InputError, see pgvector.h)
  /// Appends the trailer; no rows may follow.
  void finish();

  const std::string& data() const { return buf_; }
  /// Drops the buffered bytes (already sent), keeping the row count.
  void clear() { buf_.clear(); }
  uint64_t rows() const { return rows_; }

 private:
  void field(std::string_view bytes);
  void be32(uint32_t v);
  std::string buf_;
  uint64_t rows_ = 0;
};

}  // namespace ragperf::db
