# Compiler flags shared by every ragperf target (applied through ragperf_options).
add_library(ragperf_options INTERFACE)
target_compile_options(ragperf_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wimplicit-fallthrough)
if(RAGPERF_WERROR)
  target_compile_options(ragperf_options INTERFACE -Werror)
endif()
if(RAGPERF_NATIVE AND NOT RAGPERF_SANITIZE AND NOT RAGPERF_FUZZ)
  # -mno-avx512f: GCC 12 miscompiles AVX-512 code on this project's machines (an
  # initializer_list {1,1,1,0} of doubles came out as all ones); AVX2 + FMA are kept.
  target_compile_options(ragperf_options INTERFACE -march=native -mno-avx512f)
endif()
if(RAGPERF_SANITIZE)
  target_compile_options(ragperf_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(ragperf_options INTERFACE -fsanitize=address,undefined)
endif()
if(RAGPERF_FUZZ)
  # libFuzzer's coverage counters in every component; the harnesses link the fuzzer's main
  # (fuzz/CMakeLists.txt). UBSan findings abort, so libFuzzer reports them as crashes.
  target_compile_options(ragperf_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(ragperf_options INTERFACE -fsanitize=address,undefined)
endif()
target_include_directories(ragperf_options INTERFACE
  ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
