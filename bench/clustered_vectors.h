// bench/clustered_vectors.h: embedding-like synthetic vectors for the store benchmarks: points
// clustered in a 32-dim latent space (200 centres), mapped linearly into `dim` dimensions plus
// noise, from fixed seeds, so ANN recall behaves as on real embeddings rather than on isotropic
// noise (where every method looks worse than it is).
//
//   ragperf::bench::ClusteredVectors data(384, 7);
//   std::vector<float> rows = data.sample(2000, 1);   // [2000, 384], row-major
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ragperf::bench {

class ClusteredVectors {
 public:
  /// The space (the linear map and the centres) comes from `space_seed`.
  ClusteredVectors(size_t dim, uint32_t space_seed);
  /// `n` vectors from seed `seed`, row-major [n, dim].
  std::vector<float> sample(size_t n, uint32_t seed) const;
  size_t dim() const { return dim_; }

 private:
  static constexpr size_t kLatent = 32;
  size_t dim_;
  std::vector<float> map_;
  std::vector<std::vector<float>> centres_;
};

}  // namespace ragperf::bench
