#include "embed/bert_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "embed/bert_kernels.h"
#include "ragperf/error.h"
#include "ragperf/runtime.h"

namespace ragperf::embed {

namespace {

using Shape = std::vector<int64_t>;

int64_t i64(size_t v) {
  return static_cast<int64_t>(v);
}

std::vector<float> vec(const SafetensorsFile& f, const std::string& name, size_t n) {
  return f.require(name, {i64(n)}).to_f32();
}

// A PyTorch Linear weight [out, in] as F32 transposed to [in, out], written into `dst` with row
// stride `ld` starting at column `col0`.
void transpose_into(const TensorView& t, size_t out, size_t in, float* dst, size_t ld,
                    size_t col0) {
  std::vector<float> row(in);
  for (size_t o = 0; o < out; ++o) {
    t.copy_f32(o * in, in, row.data());
    for (size_t i = 0; i < in; ++i) dst[i * ld + col0 + o] = row[i];
  }
}

kernels::PackedMatrix linear_t(const SafetensorsFile& f, const std::string& name, size_t out,
                               size_t in) {
  const TensorView& t = f.require(name, {i64(out), i64(in)});
  std::vector<float> w(out * in);
  transpose_into(t, out, in, w.data(), out, 0);
  return kernels::PackedMatrix(w.data(), out, in, out);
}

// Splits [0, n) into chunks of `step` (the last one shorter).
size_t n_chunks(size_t n, size_t step) {
  return (n + step - 1) / step;
}

thread_local std::vector<float> tls_scratch;

}  // namespace

BertEncoder::BertEncoder(const BertConfig& config, std::shared_ptr<const SafetensorsFile> weights)
    : config_(config), runtime_(Runtime::shared()), weights_(std::move(weights)) {
  const SafetensorsFile& f = *weights_;
  const size_t h = config_.hidden_size;
  const size_t inter = config_.intermediate_size;
  word_ = &f.require("embeddings.word_embeddings.weight", {i64(config_.vocab_size), i64(h)});
  position_ = &f.require("embeddings.position_embeddings.weight",
                         {i64(config_.max_position_embeddings), i64(h)});
  token_type_ =
      &f.require("embeddings.token_type_embeddings.weight", {i64(config_.type_vocab_size), i64(h)});
  emb_ln_g_ = vec(f, "embeddings.LayerNorm.weight", h);
  emb_ln_b_ = vec(f, "embeddings.LayerNorm.bias", h);
  layers_.resize(config_.n_layers);
  for (size_t l = 0; l < config_.n_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    Layer& L = layers_[l];
    std::vector<float> w_qkv(h * 3 * h);
    L.b_qkv.resize(3 * h);
    const char* parts[3] = {"query", "key", "value"};
    for (size_t q = 0; q < 3; ++q) {
      const std::string base = p + "attention.self." + parts[q];
      transpose_into(f.require(base + ".weight", {i64(h), i64(h)}), h, h, w_qkv.data(), 3 * h,
                     q * h);
      f.require(base + ".bias", {i64(h)}).copy_f32(0, h, L.b_qkv.data() + q * h);
    }
    L.w_qkv = kernels::PackedMatrix(w_qkv.data(), 3 * h, h, 3 * h);
    L.w_o = linear_t(f, p + "attention.output.dense.weight", h, h);
    L.b_o = vec(f, p + "attention.output.dense.bias", h);
    L.ln1_g = vec(f, p + "attention.output.LayerNorm.weight", h);
    L.ln1_b = vec(f, p + "attention.output.LayerNorm.bias", h);
    L.w_i = linear_t(f, p + "intermediate.dense.weight", inter, h);
    L.b_i = vec(f, p + "intermediate.dense.bias", inter);
    L.w_out = linear_t(f, p + "output.dense.weight", h, inter);
    L.b_out = vec(f, p + "output.dense.bias", h);
    L.ln2_g = vec(f, p + "output.LayerNorm.weight", h);
    L.ln2_b = vec(f, p + "output.LayerNorm.bias", h);
  }
  const std::string extra = "encoder.layer." + std::to_string(config_.n_layers) + ".";
  for (const auto& [name, t] : f.tensors()) {
    if (name.find(extra) != std::string::npos) {
      throw ModelError(f.path().string() + ": tensor '" + name + "' belongs to a layer beyond " +
                       "num_hidden_layers = " + std::to_string(config_.n_layers) +
                       " in config.json; the two files disagree");
    }
  }
}

const std::vector<BertEncoder::RowMajorLayer>& BertEncoder::row_major_weights() const {
  std::call_once(row_major_once_, [this] {
    row_major_.resize(layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      row_major_[l] = {L.w_qkv.unpack(), L.w_o.unpack(), L.w_i.unpack(), L.w_out.unpack()};
    }
  });
  return row_major_;
}

double BertEncoder::flops(const std::vector<size_t>& lengths) const {
  const double h = static_cast<double>(config_.hidden_size);
  const double inter = static_cast<double>(config_.intermediate_size);
  double total = 0;
  for (size_t len : lengths) {
    const double t = static_cast<double>(len);
    total += t * (2 * h * 3 * h + 2 * h * h + 2 * 2 * h * inter) + 2 * 2 * t * t * h;
  }
  return total * static_cast<double>(config_.n_layers);
}

namespace {

// C[M, N] = A · B + bias (+activation), parallel over row and column blocks. `w_row_major`
// (row-major [K, N]) is given in the library GEMM modes only; otherwise the packed kernel runs.
// Rows per task, at most (the packed kernel walks each weight panel once per task).
constexpr size_t kRowsPerTask = 256;
// Up to this many rows a product is split by columns only.
constexpr size_t kFewRows = 48;

void dense(Runtime& pool, const float* a, size_t m, const kernels::PackedMatrix& w,
           const float* w_row_major, const std::vector<float>& bias, float* c, bool activate,
           Activation act) {
  const size_t k = w.rows();
  const size_t n = w.cols();
  const size_t threads = pool.compute_threads();
  size_t mb = m <= kFewRows
                  ? m
                  : std::clamp<size_t>((m + 2 * threads - 1) / (2 * threads), 64, kRowsPerTask);
  size_t nb = n;
  const size_t row_blocks = n_chunks(m, mb);
  if (row_blocks < 2 * threads) {
    // Few rows: split the columns too, in whole panels.
    constexpr size_t p = kernels::kPanelCols;
    size_t want = (2 * threads + row_blocks - 1) / row_blocks;
    nb = std::max<size_t>(p, ((n / want) + p - 1) / p * p);
  }
  const size_t col_blocks = n_chunks(n, nb);
  pool.parallel_for(row_blocks * col_blocks, [&](size_t task) {
    const size_t i0 = (task / col_blocks) * mb;
    const size_t j0 = (task % col_blocks) * nb;
    const size_t mi = std::min(mb, m - i0);
    const size_t nj = std::min(nb, n - j0);
    if (w_row_major) {
      kernels::gemm(a + i0 * k, k, w_row_major + j0, n, c + i0 * n + j0, n, mi, nj, k);
    } else {
      kernels::gemm_packed(a + i0 * k, k, w, j0, nj, c + i0 * n + j0, n, mi);
    }
    kernels::bias_act(c + i0 * n + j0, n, mi, nj, bias.data() + j0, activate, act);
  });
}

void layer_norm_rows(Runtime& pool, const float* x, const float* residual, float* out, size_t rows,
                     size_t cols, const std::vector<float>& g, const std::vector<float>& b,
                     float eps) {
  if (rows <= 32) {  // a few microseconds: not worth waking the pool
    kernels::add_layer_norm(x, residual, out, rows, cols, g.data(), b.data(), eps);
    return;
  }
  const size_t rb =
      std::max<size_t>(1, std::min<size_t>(64, rows / (2 * pool.compute_threads()) + 1));
  pool.parallel_for(n_chunks(rows, rb), [&](size_t task) {
    const size_t r0 = task * rb;
    const size_t n = std::min(rb, rows - r0);
    kernels::add_layer_norm(x + r0 * cols, residual ? residual + r0 * cols : nullptr,
                            out + r0 * cols, n, cols, g.data(), b.data(), eps);
  });
}

}  // namespace

void BertEncoder::forward(const std::vector<std::vector<int32_t>>& sequences,
                          std::vector<float>& hidden, bool first_token_only,
                          const std::vector<size_t>& second_starts) const {
  RAGPERF_ASSERT(second_starts.empty() || second_starts.size() == sequences.size());
  RAGPERF_ASSERT(second_starts.empty() || config_.type_vocab_size >= 2);
  const size_t h = config_.hidden_size;
  const size_t inter = config_.intermediate_size;
  const size_t n_heads = config_.n_heads;
  const size_t dh = config_.head_dim();
  std::vector<size_t> offsets(sequences.size() + 1, 0);
  for (size_t s = 0; s < sequences.size(); ++s) {
    const size_t len = sequences[s].size();
    RAGPERF_ASSERT(len >= 1 && len <= config_.max_position_embeddings);
    offsets[s + 1] = offsets[s] + len;
  }
  const size_t t = offsets.back();
  hidden.assign(t * h, 0.0f);
  if (t == 0) return;
  Runtime& pool = *runtime_;

  // Embeddings: word + token type (0, or 1 from a pair's second text on) + position, in
  // Hugging Face's order, then LayerNorm.
  std::vector<float> x(t * h);
  {
    std::vector<float> type0(h);
    token_type_->copy_f32(0, h, type0.data());
    std::vector<float> type1;
    if (!second_starts.empty()) {
      type1.resize(h);
      token_type_->copy_f32(h, h, type1.data());
    }
    pool.parallel_for(sequences.size(), [&](size_t s) {
      std::vector<float> pos(h);
      const size_t second = second_starts.empty() ? sequences[s].size() : second_starts[s];
      for (size_t i = 0; i < sequences[s].size(); ++i) {
        const int32_t id = sequences[s][i];
        RAGPERF_ASSERT(id >= 0 && static_cast<size_t>(id) < config_.vocab_size);
        float* row = x.data() + (offsets[s] + i) * h;
        word_->copy_f32(static_cast<size_t>(id) * h, h, row);
        position_->copy_f32(i * h, h, pos.data());
        const float* type = i < second ? type0.data() : type1.data();
        for (size_t c = 0; c < h; ++c) row[c] = (row[c] + type[c]) + pos[c];
        kernels::add_layer_norm(row, nullptr, row, 1, h, emb_ln_g_.data(), emb_ln_b_.data(),
                                config_.layer_norm_eps);
      }
    });
  }

  // The library GEMM modes (measurements) run on row-major copies of the weights.
  const std::vector<RowMajorLayer>* row_major =
      kernels::gemm_mode() == kernels::GemmMode::kAuto ? nullptr : &row_major_weights();
  auto rm = [&](size_t li, size_t which) -> const float* {
    return row_major ? (*row_major)[li][which].data() : nullptr;
  };

  // Few tokens (the products split by columns only) on the packed kernel: the QKV projection
  // runs per head, fused with attention.
  const bool fuse_qkv =
      !row_major && t <= kFewRows && dh % kernels::kPanelCols == 0 && h % kernels::kPanelCols == 0;

  std::vector<float> qkv(t * 3 * h);
  std::vector<float> ctx(t * h);
  std::vector<float> tmp(t * h);
  std::vector<float> ffn(t * inter);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));

  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& L = layers_[li];
    // With first_token_only, the last layer needs keys and values of every token but queries,
    // and everything after attention, for each sequence's first token only.
    const bool first_only = first_token_only && li + 1 == layers_.size();
    // Attention of sequence s, head `head` over that sequence's tokens (qkv holds its Q, K, V).
    auto attend = [&](size_t s, size_t head) {
      const size_t len = offsets[s + 1] - offsets[s];
      const size_t o = offsets[s];
      const size_t q_rows = first_only ? 1 : len;
      // S = Q_h · K_h^T (K transposed into [dh, lp], lp = len rounded up to 16), softmax over
      // the sequence's own len keys, ctx_h = P · V_h.
      const size_t lp = (len + 15) / 16 * 16;
      std::vector<float>& buf = tls_scratch;
      buf.assign(dh * lp + q_rows * lp, 0.0f);
      float* kt = buf.data();
      float* scores = kt + dh * lp;
      for (size_t j = 0; j < len; ++j) {
        const float* kj = qkv.data() + (o + j) * 3 * h + h + head * dh;
        for (size_t d = 0; d < dh; ++d) kt[d * lp + j] = kj[d] * scale;
      }
      kernels::gemm(qkv.data() + o * 3 * h + head * dh, 3 * h, kt, lp, scores, lp, q_rows, lp, dh);
      for (size_t i = 0; i < q_rows; ++i) kernels::softmax(scores + i * lp, len);
      float* out = ctx.data() + (first_only ? s : o) * h + head * dh;
      kernels::gemm(scores, lp, qkv.data() + o * 3 * h + 2 * h + head * dh, 3 * h, out, h, q_rows,
                    dh, len);
    };
    if (fuse_qkv) {
      // Few tokens: one loop per head computes that head's Q, K and V columns (whole panels)
      // and then its attention, so no thread waits between the projection and attention.
      pool.parallel_for(n_heads, [&](size_t head) {
        for (size_t part = 0; part < 3; ++part) {
          const size_t j0 = part * h + head * dh;
          kernels::gemm_packed(x.data(), h, L.w_qkv, j0, dh, qkv.data() + j0, 3 * h, t);
          kernels::bias_act(qkv.data() + j0, 3 * h, t, dh, L.b_qkv.data() + j0, false,
                            config_.activation);
        }
        for (size_t s = 0; s < sequences.size(); ++s) attend(s, head);
      });
    } else {
      dense(pool, x.data(), t, L.w_qkv, rm(li, 0), L.b_qkv, qkv.data(), false, config_.activation);
      // Attention per (sequence, head).
      pool.parallel_for(sequences.size() * n_heads,
                        [&](size_t task) { attend(task / n_heads, task % n_heads); });
    }

    size_t rows = t;
    if (first_only) {  // keep each sequence's first row: [n_sequences, h]
      rows = sequences.size();
      // offsets[s] >= s: rows move down, possibly onto themselves.
      for (size_t s = 0; s < rows; ++s)
        std::memmove(x.data() + s * h, x.data() + offsets[s] * h, h * sizeof(float));
    }
    dense(pool, ctx.data(), rows, L.w_o, rm(li, 1), L.b_o, tmp.data(), false, config_.activation);
    layer_norm_rows(pool, tmp.data(), x.data(), x.data(), rows, h, L.ln1_g, L.ln1_b,
                    config_.layer_norm_eps);
    dense(pool, x.data(), rows, L.w_i, rm(li, 2), L.b_i, ffn.data(), true, config_.activation);
    dense(pool, ffn.data(), rows, L.w_out, rm(li, 3), L.b_out, tmp.data(), false,
          config_.activation);
    layer_norm_rows(pool, tmp.data(), x.data(), x.data(), rows, h, L.ln2_g, L.ln2_b,
                    config_.layer_norm_eps);
    if (first_only) x.resize(rows * h);
  }
  hidden.swap(x);
}

}  // namespace ragperf::embed
