// cli/cli_expect.h: the check every CLI test makes of a command that must fail: a non-zero
// exit, nothing on stdout, one line on stderr that contains `needle`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "testing/testing.h"

namespace ragperf::testing {

inline void expect_cli_failure(const std::string& cmd, const std::string& input,
                               const std::string& needle) {
  const CommandResult r = run_command(cmd, input);
  EXPECT_NE(r.status, 0) << "input: " << input;
  EXPECT_EQ(r.out, "") << "no partial output";
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

}  // namespace ragperf::testing
