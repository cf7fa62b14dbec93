// fuzz/check.h: RAGPERF_FUZZ_CHECK(condition) for a harness's own checks of what a parser
// promises (a documented invariant, the only exception type it may throw). A failed check
// prints the condition and its place and aborts, which libFuzzer reports as a crash and keeps
// the input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RAGPERF_FUZZ_CHECK(condition)                                                    \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
