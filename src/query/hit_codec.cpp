#include "query/hit_codec.h"

#include <cstdint>
#include <cstring>

namespace ragperf::query {
namespace {

constexpr std::string_view kMagic = "RPH4";

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

void put_f32(std::string& out, float v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return false;
    std::memcpy(&v, in_.data(), 4);
    in_.remove_prefix(4);
    return true;
  }
  bool u8(uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool f32(float& v) {
    if (in_.size() < 4) return false;
    std::memcpy(&v, in_.data(), 4);
    in_.remove_prefix(4);
    return true;
  }
  bool str(std::string& s) {
    uint32_t n = 0;
    if (!u32(n) || in_.size() < n) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

 private:
  std::string_view in_;
};

}  // namespace

std::string encode_hits(const std::vector<RetrievedHit>& hits) {
  size_t bytes = kMagic.size() + 4;
  for (const auto& h : hits) {
    bytes += 13 + 8 * 4 + h.id.size() + h.text.size() + h.metadata_json.size() + h.source.size() +
             h.source_table.size();
    for (const auto& t : h.source_tables) bytes += 4 + t.size();
  }
  std::string out;
  out.reserve(bytes);
  out += kMagic;
  put_u32(out, static_cast<uint32_t>(hits.size()));
  for (const auto& h : hits) {
    put_f32(out, h.score);
    put_f32(out, h.similarity);
    out += static_cast<char>(h.retrieval_score ? 1 : 0);
    put_f32(out, h.retrieval_score.value_or(0.0f));
    put_u32(out, static_cast<uint32_t>(h.vector_rank));
    put_u32(out, static_cast<uint32_t>(h.text_rank));
    put_str(out, h.id);
    put_str(out, h.text);
    put_str(out, h.metadata_json);
    put_str(out, h.source);
    put_str(out, h.source_table);
    put_u32(out, static_cast<uint32_t>(h.source_tables.size()));
    for (const auto& t : h.source_tables) put_str(out, t);
  }
  return out;
}

std::optional<std::vector<RetrievedHit>> decode_hits(std::string_view payload) {
  if (payload.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  Reader r(payload.substr(kMagic.size()));
  uint32_t count = 0;
  if (!r.u32(count)) return std::nullopt;
  // Each hit takes at least 45 bytes: a count larger than that is malformed, not a huge alloc.
  constexpr size_t kMinHitBytes = 13 + 8 * 4;
  if (count > r.rest().size() / kMinHitBytes) return std::nullopt;
  std::vector<RetrievedHit> hits(count);
  for (auto& h : hits) {
    uint32_t tables = 0;
    uint8_t reranked = 0;
    float retrieval_score = 0;
    uint32_t vector_rank = 0, text_rank = 0;
    if (!r.f32(h.score) || !r.f32(h.similarity) || !r.u8(reranked) || reranked > 1 ||
        !r.f32(retrieval_score) || !r.u32(vector_rank) || !r.u32(text_rank) || !r.str(h.id) ||
        !r.str(h.text) || !r.str(h.metadata_json) || !r.str(h.source) || !r.str(h.source_table) ||
        !r.u32(tables) || tables > r.rest().size() / 4) {
      return std::nullopt;
    }
    if (reranked) h.retrieval_score = retrieval_score;
    h.vector_rank = vector_rank;
    h.text_rank = text_rank;
    h.source_tables.resize(tables);
    for (auto& t : h.source_tables) {
      if (!r.str(t)) return std::nullopt;
    }
  }
  if (!r.done()) return std::nullopt;
  return hits;
}

}  // namespace ragperf::query
