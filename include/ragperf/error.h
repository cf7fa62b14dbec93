// ragperf/error.h defines the exception types every public ragperf operation throws.
//
// Each type names one kind of failure; callers catch the most specific one they can handle
// and `ragperf::Error` for the rest. A message names the failing value and the remedy:
//
//   try {
//     auto settings = ragperf::load_settings();
//   } catch (const ragperf::ConfigError& e) {
//     std::cerr << e.what() << "\n";  // "MAX_POOL_SIZE='abc' is not an integer; ..."
//   }
//
// `RAGPERF_ASSERT(cond)` guards invariants (bugs, not user errors): it aborts with the
// expression, file and line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ragperf {

/// Kind of failure, stable across releases; maps to an HTTP status in the server.
enum class ErrorCode {
  kConfig,         // invalid setting (environment, .env, profile, argument)
  kModel,          // model folder missing, unreadable or inconsistent
  kInput,          // bad user input (text, JSON line, file)
  kConnection,     // cannot reach or authenticate to a database server
  kQuery,          // the database rejected a statement
  kPoolExhausted,  // no pooled connection became free within the acquire timeout
  kTimeout,        // an operation exceeded its deadline
  kOverloaded,     // a bounded queue is full; retry later
  kUnavailable,    // the component is closed or shutting down
  kCancelled,      // the caller gave up (stop token, deadline) before the work ran
};

/// Base of every ragperf exception.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

#define RAGPERF_DEFINE_ERROR(Name, Code)                                \
  class Name : public Error {                                           \
   public:                                                              \
    explicit Name(const std::string& message) : Error(Code, message) {} \
  }

RAGPERF_DEFINE_ERROR(ConfigError, ErrorCode::kConfig);
RAGPERF_DEFINE_ERROR(ModelError, ErrorCode::kModel);
RAGPERF_DEFINE_ERROR(InputError, ErrorCode::kInput);
RAGPERF_DEFINE_ERROR(ConnectionError, ErrorCode::kConnection);
RAGPERF_DEFINE_ERROR(PoolExhaustedError, ErrorCode::kPoolExhausted);
RAGPERF_DEFINE_ERROR(TimeoutError, ErrorCode::kTimeout);
RAGPERF_DEFINE_ERROR(OverloadedError, ErrorCode::kOverloaded);
RAGPERF_DEFINE_ERROR(UnavailableError, ErrorCode::kUnavailable);
RAGPERF_DEFINE_ERROR(CancelledError, ErrorCode::kCancelled);

#undef RAGPERF_DEFINE_ERROR

/// A statement the server rejected: carries SQLSTATE, the server's message and the statement.
class QueryError : public Error {
 public:
  QueryError(std::string sqlstate, std::string server_message, std::string statement)
      : Error(ErrorCode::kQuery, "query failed [SQLSTATE " + sqlstate + "]: " + server_message +
                                     " (statement: " + statement + ")"),
        sqlstate_(std::move(sqlstate)),
        server_message_(std::move(server_message)),
        statement_(std::move(statement)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  const std::string& server_message() const noexcept { return server_message_; }
  const std::string& statement() const noexcept { return statement_; }

 private:
  std::string sqlstate_;
  std::string server_message_;
  std::string statement_;
};

}  // namespace ragperf

/// Aborts with the expression, file and line when an invariant does not hold.
#define RAGPERF_ASSERT(cond)                                                                       \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "ragperf: assertion failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
