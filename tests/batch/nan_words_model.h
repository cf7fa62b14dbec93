// batch/nan_words_model.h defines NanWordsModel: HashedWordsModel (batch/hashed_words_model.h)
// whose vector for a text containing "NANVEC" has a NaN in its first component. The store then
// rejects that one query (InputError: non-finite value), which lets the BatchProcessor tests check
// that a store error in one query of a batch reaches only that query's future.
#pragma once

#include <limits>
#include <string>

#include "batch/hashed_words_model.h"

namespace ragperf::testing {

class NanWordsModel : public HashedWordsModel {
 public:
  explicit NanWordsModel(size_t dim = 64) : HashedWordsModel(dim) {}

  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts = nullptr) override {
    EmbeddingMatrix m = HashedWordsModel::embed(texts, token_counts);
    for (size_t i = 0; i < texts.size(); ++i) {
      if (texts[i].find("NANVEC") != std::string::npos) {
        m.row(i)[0] = std::numeric_limits<float>::quiet_NaN();
      }
    }
    return m;
  }
};

}  // namespace ragperf::testing
