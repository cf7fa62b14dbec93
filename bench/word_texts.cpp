#include "word_texts.h"

#include <algorithm>
#include <fstream>
#include <random>

namespace ragperf::bench {

std::vector<std::string> word_texts(const std::filesystem::path& vocab_file, size_t count,
                                    size_t lo, size_t hi, uint32_t seed) {
  std::vector<std::string> words;
  std::ifstream in(vocab_file);
  std::string w;
  while (std::getline(in, w)) {
    if (w.size() >= 3 &&
        std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      words.push_back(w);
  }
  if (words.empty()) words = {"alpha", "beta", "gamma"};
  std::mt19937 rng(seed);
  std::vector<std::string> texts;
  for (size_t i = 0; i < count; ++i) {
    const size_t n = lo + rng() % (hi - lo + 1);
    std::string t;
    for (size_t k = 0; k + 2 < n; ++k) {
      if (k) t += ' ';
      t += words[rng() % words.size()];
    }
    texts.push_back(t);
  }
  return texts;
}

}  // namespace ragperf::bench
