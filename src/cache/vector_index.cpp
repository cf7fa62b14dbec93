#include "cache/vector_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "base/distance.h"
#include "cache/hamming.h"
#include "ragperf/error.h"

namespace ragperf::cache {

size_t signature_radius(float threshold) {
  const double t = std::clamp(static_cast<double>(threshold), -1.0, 1.0);
  const double p = std::acos(t) / M_PI;  // chance that one hyperplane separates the pair
  const double n = static_cast<double>(kSignatureBits);
  return static_cast<size_t>(std::ceil(n * p + 4.0 * std::sqrt(n * p * (1 - p))));
}

VectorIndex::VectorIndex(size_t dim, size_t signature_min_rows)
    : dim_(dim), signature_min_rows_(signature_min_rows), hyperplanes_(dim * kSignatureBits) {
  std::mt19937 rng(20240607);  // fixed: the same signatures in every run
  std::normal_distribution<float> normal(0, 1);
  // Hyperplane b is column b of [dim, kSignatureBits], so that one pass over the query gives
  // every projection with vector FMAs across the bits.
  for (size_t b = 0; b < kSignatureBits; ++b)
    for (size_t d = 0; d < dim_; ++d) hyperplanes_[d * kSignatureBits + b] = normal(rng);
}

void VectorIndex::signature(const float* v, uint64_t* out) const {
  typedef float v8f __attribute__((vector_size(32), aligned(4)));
  constexpr size_t kGroup = 64;  // bits per pass: 8 accumulators of 8 lanes
  for (size_t w = 0; w < kSignatureWords; ++w) out[w] = 0;
  for (size_t b0 = 0; b0 < kSignatureBits; b0 += kGroup) {
    v8f acc[kGroup / 8] = {};
    for (size_t d = 0; d < dim_; ++d) {
      const auto* h = reinterpret_cast<const v8f*>(hyperplanes_.data() + d * kSignatureBits + b0);
      for (size_t j = 0; j < kGroup / 8; ++j) acc[j] += v[d] * h[j];
    }
    for (size_t j = 0; j < kGroup / 8; ++j)
      for (size_t l = 0; l < 8; ++l) {
        const size_t b = b0 + j * 8 + l;
        if (acc[j][l] >= 0) out[b / 64] |= uint64_t{1} << (b % 64);
      }
  }
}

void VectorIndex::add(uint64_t entry_id, std::span<const float> v) {
  RAGPERF_ASSERT(v.size() == dim_);
  RAGPERF_ASSERT(!row_of_.count(entry_id));
  row_of_[entry_id] = row_ids_.size();
  row_ids_.push_back(entry_id);
  rows_.insert(rows_.end(), v.begin(), v.end());
  uint64_t sig[kSignatureWords];
  signature(v.data(), sig);
  for (size_t w = 0; w < kSignatureWords; ++w) signatures_[w].push_back(sig[w]);
}

void VectorIndex::remove(uint64_t entry_id) {
  auto it = row_of_.find(entry_id);
  if (it == row_of_.end()) return;
  const size_t row = it->second;
  const size_t last = row_ids_.size() - 1;
  if (row != last) {
    std::memcpy(rows_.data() + row * dim_, rows_.data() + last * dim_, dim_ * sizeof(float));
    for (auto& column : signatures_) column[row] = column[last];
    row_ids_[row] = row_ids_[last];
    row_of_[row_ids_[row]] = row;
  }
  row_ids_.pop_back();
  rows_.resize(row_ids_.size() * dim_);
  for (auto& column : signatures_) column.pop_back();
  row_of_.erase(it);
}

std::vector<VectorMatch> VectorIndex::search(std::span<const float> q, float threshold,
                                             size_t max_results) const {
  RAGPERF_ASSERT(q.size() == dim_);
  std::vector<VectorMatch> out;
  const size_t n = row_ids_.size();
  const size_t radius = signature_radius(threshold);
  if (n < signature_min_rows_ || radius >= kSignatureBits / 2) {
    const float* row = rows_.data();
    for (size_t r = 0; r < n; ++r, row += dim_) {
      const float sim = base::dot(q.data(), row, dim_);
      if (sim >= threshold) out.push_back({row_ids_[r], sim});
    }
  } else {
    uint64_t qs[kSignatureWords];
    signature(q.data(), qs);
    // Rows whose first two signature words lie within the radius (cache/hamming.h), then the
    // other words for those, and an exact dot product for rows still within it. A partial
    // distance only grows, so nothing in range is lost.
    static_assert(kSignatureWords >= 2);
    constexpr size_t kBlock = 1024;
    uint32_t rows[kBlock];
    uint16_t dist[kBlock];
    const uint64_t* c0 = signatures_[0].data();
    const uint64_t* c1 = signatures_[1].data();
    const auto r128 = static_cast<unsigned>(radius);
    for (size_t start = 0; start < n; start += kBlock) {
      const size_t len = std::min(kBlock, n - start);
      const size_t found =
          hamming_128_within(c0 + start, c1 + start, qs[0], qs[1], len, r128, rows, dist);
      for (size_t f = 0; f < found; ++f) {
        const size_t r = start + rows[f];
        size_t d = dist[f];
        for (size_t w = 2; w < kSignatureWords && d <= radius; ++w)
          d += static_cast<size_t>(__builtin_popcountll(signatures_[w][r] ^ qs[w]));
        if (d > radius) continue;
        const float sim = base::dot(q.data(), rows_.data() + r * dim_, dim_);
        if (sim >= threshold) out.push_back({row_ids_[r], sim});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const VectorMatch& a, const VectorMatch& b) { return a.similarity > b.similarity; });
  if (out.size() > max_results) out.resize(max_results);
  return out;
}

}  // namespace ragperf::cache
