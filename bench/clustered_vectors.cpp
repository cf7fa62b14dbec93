// bench/clustered_vectors.cpp: see clustered_vectors.h.
#include "clustered_vectors.h"

#include <random>

namespace ragperf::bench {

ClusteredVectors::ClusteredVectors(size_t dim, uint32_t space_seed)
    : dim_(dim), map_(kLatent * dim), centres_(200) {
  std::mt19937 rng(space_seed);
  std::normal_distribution<float> g(0, 1);
  for (auto& x : map_) x = g(rng);
  for (auto& c : centres_) {
    c.resize(kLatent);
    for (auto& x : c) x = g(rng);
  }
}

std::vector<float> ClusteredVectors::sample(size_t n, uint32_t seed) const {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::uniform_int_distribution<size_t> pick(0, centres_.size() - 1);
  std::vector<float> out(n * dim_);
  std::vector<float> z(kLatent);
  for (size_t i = 0; i < n; ++i) {
    const auto& c = centres_[pick(rng)];
    for (size_t l = 0; l < kLatent; ++l) z[l] = c[l] + 0.5f * g(rng);
    for (size_t j = 0; j < dim_; ++j) {
      float s = 0.05f * g(rng);
      for (size_t l = 0; l < kLatent; ++l) s += z[l] * map_[l * dim_ + j];
      out[i * dim_ + j] = s;
    }
  }
  return out;
}

}  // namespace ragperf::bench
