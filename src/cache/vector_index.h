// cache/vector_index.h defines VectorIndex: the similarity tier of one cache scope, mapping
// entry ids to unit-length embeddings and answering "which entries are at least this similar".
//
//   VectorIndex index(384);
//   index.add(entry_id, unit_vector);                 // [dim], already L2-normalised
//   auto matches = index.search(unit_query, 0.95);   // best first, all with similarity >= 0.95
//   index.remove(entry_id);
//
// Rows live in a contiguous row-major matrix [rows, dim]. A search first scans 256-bit
// random-hyperplane signatures (SimHash: the Hamming distance estimates the angle; the first
// 128 bits of every row with AVX2 popcounts (cache/hamming.h), then the rest only for rows still
// within range) and computes the exact dot product only for rows whose signature lies within
// the radius the threshold allows; below `signature_min_rows` rows, or for thresholds too
// low to prune, it computes every dot product. Removal swaps the last row into the hole.
//
// Not thread-safe for writers: add/remove need exclusive access; search() may run concurrently
// with other searches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace ragperf::cache {

struct VectorMatch {
  uint64_t entry_id;
  float similarity;
};

/// Bits of the random-hyperplane (SimHash) signature kept per row.
inline constexpr size_t kSignatureBits = 256;
inline constexpr size_t kSignatureWords = kSignatureBits / 64;

/// Largest Hamming distance between signatures that a pair with cosine >= threshold exceeds
/// with probability < 4e-5 (mean + 4 sigma of Binomial(kSignatureBits, acos(threshold) / pi)).
size_t signature_radius(float threshold);

class VectorIndex {
 public:
  /// Below `signature_min_rows` rows every row's dot product is computed (no prefilter).
  explicit VectorIndex(size_t dim, size_t signature_min_rows = 256);

  size_t dim() const { return dim_; }
  size_t size() const { return row_ids_.size(); }

  void add(uint64_t entry_id, std::span<const float> unit_vector);
  void remove(uint64_t entry_id);
  /// Entries with similarity >= threshold, best first (at most `max_results`).
  std::vector<VectorMatch> search(std::span<const float> unit_query, float threshold,
                                  size_t max_results = 8) const;

 private:
  void signature(const float* v, uint64_t* out) const;

  size_t dim_;
  size_t signature_min_rows_;
  std::vector<float> rows_;  // [rows, dim_]
  // Signatures column-major: signatures_[w][row] is word w of the row's signature, so a scan can
  // read the first two words of every row and only then the rest for rows still in range.
  std::vector<uint64_t> signatures_[kSignatureWords];
  std::vector<float> hyperplanes_;  // [dim_, kSignatureBits], N(0, 1), fixed seed
  std::vector<uint64_t> row_ids_;   // [rows]: the entry in each row
  std::unordered_map<uint64_t, size_t> row_of_;
};

}  // namespace ragperf::cache
