// batch/hashed_words_model.h defines HashedWordsModel, a small deterministic EmbeddingModel for
// the BatchProcessor tests: a text's vector is its bag of lower-cased words, each word hashed
// (FNV-1a) to one of `dim` signed components, L2-normalised. Texts with the same words (in any
// order or case) get the same vector; texts sharing no word are nearly orthogonal.
//
// It records every embed() call (the texts of each batch), rejects invalid UTF-8 like a real
// model (InputError naming the index), rejects any batch holding a text containing "POISON" (so
// that the per-text fallback can be tested), and can hold embed() at a gate until released.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"

namespace ragperf::testing {

class HashedWordsModel : public EmbeddingModel {
 public:
  explicit HashedWordsModel(size_t dim = 64) : dim_(dim) {}

  size_t dim() const override { return dim_; }
  std::string id() const override { return "hashed-words-" + std::to_string(dim_); }
  size_t max_tokens() const override { return 512; }
  size_t count_tokens(std::string_view text) const override { return words(text).size(); }

  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts = nullptr) override {
    {
      std::unique_lock lock(mutex_);
      calls_.emplace_back(texts.begin(), texts.end());
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !gated_; });
    }
    for (size_t i = 0; i < texts.size(); ++i) {
      if (ragperf::base::invalid_utf8_offset(texts[i])) {
        throw InputError("text " + std::to_string(i) + " is not valid UTF-8");
      }
      if (texts[i].find("POISON") != std::string::npos) {
        throw InputError("text " + std::to_string(i) + " is poisoned");
      }
    }
    EmbeddingMatrix m;
    m.rows = texts.size();
    m.dim = dim_;
    m.data.assign(m.rows * dim_, 0.0f);
    for (size_t i = 0; i < texts.size(); ++i) {
      auto row = m.row(i);
      const auto ws = words(texts[i]);
      if (ws.empty()) row[0] = 1.0f;
      for (const auto& w : ws) {
        uint64_t h = 1469598103934665603ull;
        for (unsigned char c : w) h = (h ^ c) * 1099511628211ull;
        row[h % dim_] += (h >> 63) ? 1.0f : -1.0f;
      }
      double norm = 0;
      for (float x : row) norm += static_cast<double>(x) * x;
      if (norm == 0) {
        row[0] = 1.0f;
        norm = 1;
      }
      for (float& x : row) x = static_cast<float>(x / std::sqrt(norm));
      if (token_counts) token_counts->push_back(ws.size());
    }
    return m;
  }

  /// The texts of every embed() call so far, in call order.
  std::vector<std::vector<std::string>> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  size_t n_calls() const {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }

  /// While closed, embed() records its call and then blocks until open_gate().
  void close_gate() {
    std::lock_guard lock(mutex_);
    gated_ = true;
  }
  void open_gate() {
    {
      std::lock_guard lock(mutex_);
      gated_ = false;
    }
    cv_.notify_all();
  }
  /// Waits (at most `limit`) until embed() has been entered `n` times in all.
  bool wait_entered(size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return entered_ >= n; });
  }

  static std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::string w;
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!w.empty()) {
        out.push_back(std::move(w));
        w.clear();
      }
    }
    if (!w.empty()) out.push_back(std::move(w));
    return out;
  }

 private:
  size_t dim_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::vector<std::string>> calls_;
  size_t entered_ = 0;
  bool gated_ = false;
};

}  // namespace ragperf::testing
