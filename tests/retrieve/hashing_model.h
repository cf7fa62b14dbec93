// tests/retrieve/hashing_model.h: a small deterministic EmbeddingModel for retrieval tests.
// Each lower-cased word maps to a fixed pseudo-random vector (seeded by its FNV-1a hash); a text
// is the L2-normalised mean of its words' vectors. Texts sharing words are similar, so ranking
// behaves like a real (if crude) bag-of-words model.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ragperf/embedding_model.h"
#include "ragperf/error.h"

namespace ragperf::testing {

class HashingModel : public EmbeddingModel {
 public:
  explicit HashingModel(size_t dim = 32, std::string name = "hash") : dim_(dim), name_(name) {}

  size_t dim() const override { return dim_; }
  std::string id() const override { return "test:" + name_ + "-" + std::to_string(dim_); }
  size_t max_tokens() const override { return 512; }
  size_t count_tokens(std::string_view text) const override { return words(text).size() + 2; }

  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts = nullptr) override {
    EmbeddingMatrix m;
    m.rows = texts.size();
    m.dim = dim_;
    m.data.assign(m.rows * dim_, 0.0f);
    if (token_counts) token_counts->clear();
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<std::string> ws = words(texts[i]);
      if (token_counts) token_counts->push_back(ws.size() + 2);
      auto row = m.row(i);
      if (ws.empty()) ws.push_back("<empty>");
      for (const std::string& w : ws) {
        std::vector<float> v = word_vector(w);
        for (size_t d = 0; d < dim_; ++d) row[d] += v[d];
      }
      double norm = 0;
      for (float x : row) norm += static_cast<double>(x) * x;
      norm = std::sqrt(norm);
      for (float& x : row) x = static_cast<float>(x / norm);
    }
    return m;
  }

  static std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!cur.empty()) {
        out.push_back(std::move(cur));
        cur.clear();
      }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
  }

 private:
  std::vector<float> word_vector(const std::string& w) const {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : w) h = (h ^ c) * 1099511628211ULL;
    std::mt19937_64 rng(h);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(dim_);
    for (float& x : v) x = normal(rng);
    return v;
  }

  size_t dim_;
  std::string name_;
};

}  // namespace ragperf::testing
