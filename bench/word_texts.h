// bench/word_texts.h makes the benchmarks' input texts: random sequences of whole lower-case words
// from a model's vocab.txt, so that each word is one WordPiece token and a text of n words is
// about n + 2 tokens. The same seed gives the same texts.
//
//   auto passages = ragperf::bench::word_texts(model / "vocab.txt", 50, 120, 136, /*seed=*/7);
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ragperf::bench {

/// `count` texts of lo..hi tokens ([CLS]/[SEP] included), words drawn from `vocab_file`
/// (entries of 3+ letters a-z; "alpha beta gamma" when it has none or cannot be read).
std::vector<std::string> word_texts(const std::filesystem::path& vocab_file, size_t count,
                                    size_t lo, size_t hi, uint32_t seed);

}  // namespace ragperf::bench
