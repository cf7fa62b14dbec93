// db/result_data.h: the libpq result behind db::Result (private to src/db).
#pragma once

#include <libpq-fe.h>

#include <string>

#include "ragperf/db_pool.h"

namespace ragperf::db {

// Type OIDs of the built-in types ragperf encodes and decodes.
enum : uint32_t {
  kOidBool = 16,
  kOidBytea = 17,
  kOidChar = 18,
  kOidName = 19,
  kOidInt8 = 20,
  kOidInt2 = 21,
  kOidInt4 = 23,
  kOidText = 25,
  kOidOid = 26,
  kOidJson = 114,
  kOidFloat4 = 700,
  kOidFloat8 = 701,
  kOidBpchar = 1042,
  kOidVarchar = 1043,
  kOidJsonb = 3802,
};

class ResultData {
 public:
  ResultData(PGresult* res, std::string statement) : res_(res), statement_(std::move(statement)) {}
  ~ResultData() { PQclear(res_); }
  ResultData(const ResultData&) = delete;
  ResultData& operator=(const ResultData&) = delete;
  const PGresult* get() const { return res_; }
  const std::string& statement() const { return statement_; }

 private:
  PGresult* res_;
  std::string statement_;
};

}  // namespace ragperf::db
