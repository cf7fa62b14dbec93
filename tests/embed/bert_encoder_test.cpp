// BERT encoder unit tests: small random-weight model folders of several shapes, dtypes,
// activations, poolings and truncation lengths against a plain double-precision reference forward
// written here; batch == single; corrupt files -> ModelError naming the file and the tensor.
#include "embed/bert_model.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "embed/bert_kernels.h"
#include "embed/safetensors.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"
#include "testing/testing.h"

namespace {

namespace fs = std::filesystem;
using ragperf::testing::TempDir;
using ragperf::testing::write_file;

struct Spec {
  size_t hidden = 48, heads = 4, layers = 2, inter = 96;
  std::string dtype = "F32";  // F32, F16, BF16
  std::string act = "gelu";   // gelu, gelu_new, gelu_pytorch_tanh, relu
  std::string pooling = "mean";
  bool normalize = true;
  size_t max_seq = 64;
  bool bert_prefix = false;
  size_t positions = 80;
};

const std::vector<std::string> kWords = {
    "the",    "quick",    "brown", "fox",       "jumps", "over",  "lazy", "dog", "vector",
    "search", "database", "query", "embedding", "model", "fast",  "slow", "cat", "##s",
    "##ing",  "a",        "is",    "of",        "and",   "to",    "in",   ",",   ".",
    "!",      "?",        "hello", "world",     "post",  "##gres"};

// Rounds like the stored dtype so that the reference sees exactly the stored weights.
float round_to(const std::string& dtype, float v) {
  if (dtype == "F16") {
    uint16_t h = 0;
    // via _Float16 when available
    _Float16 x = static_cast<_Float16>(v);
    std::memcpy(&h, &x, 2);
    return ragperf::embed::f16_to_f32(h);
  }
  if (dtype == "BF16") {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even
    return ragperf::embed::bf16_to_f32(static_cast<uint16_t>(bits >> 16));
  }
  return v;
}

void put(std::string& out, const std::string& dtype, float v) {
  if (dtype == "F32") {
    out.append(reinterpret_cast<const char*>(&v), 4);
  } else if (dtype == "F16") {
    _Float16 x = static_cast<_Float16>(v);
    out.append(reinterpret_cast<const char*>(&x), 2);
  } else {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bits += 0x7fff + ((bits >> 16) & 1);
    uint16_t h = static_cast<uint16_t>(bits >> 16);
    out.append(reinterpret_cast<const char*>(&h), 2);
  }
}

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;  // already rounded to the dtype
};

using Weights = std::map<std::string, Tensor>;

void write_safetensors(const fs::path& path, const Weights& w, const std::string& dtype,
                       const std::string& prefix) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : w) {
    const size_t begin = data.size();
    for (float v : t.data) put(data, dtype, v);
    header[prefix + name] = {
        {"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string head = header.dump();
  uint64_t len = head.size();
  std::string file(reinterpret_cast<const char*>(&len), 8);
  write_file(path, file + head + data);
}

// Builds a model folder; returns its weights for the reference.
Weights make_model(const fs::path& dir, const Spec& s, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::string vocab_text = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (const auto& w : kWords) vocab_text += w + "\n";
  const size_t vocab = 5 + kWords.size();
  write_file(dir / "vocab.txt", vocab_text);
  write_file(dir / "tokenizer_config.json", R"({"do_lower_case": true})");
  nlohmann::json config = {
      {"model_type", "bert"},          {"hidden_size", s.hidden},
      {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
      {"intermediate_size", s.inter},  {"hidden_act", s.act},
      {"layer_norm_eps", 1e-7},        {"max_position_embeddings", s.positions},
      {"type_vocab_size", 2},          {"vocab_size", vocab}};
  write_file(dir / "config.json", config.dump());
  nlohmann::json modules = nlohmann::json::array(
      {{{"idx", 0}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
       {{"idx", 1}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
  if (s.normalize) {
    modules.push_back(
        {{"idx", 2}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
  }
  write_file(dir / "modules.json", modules.dump());
  write_file(dir / "1_Pooling" / "config.json",
             nlohmann::json{{"word_embedding_dimension", s.hidden},
                            {"pooling_mode_cls_token", s.pooling == "cls"},
                            {"pooling_mode_mean_tokens", s.pooling == "mean"},
                            {"pooling_mode_max_tokens", s.pooling == "max"}}
                 .dump());
  write_file(dir / "sentence_bert_config.json",
             nlohmann::json{{"max_seq_length", s.max_seq}}.dump());

  Weights w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float sd, float mean = 0) {
    size_t n = 1;
    for (auto d : shape) n *= static_cast<size_t>(d);
    Tensor t{shape, std::vector<float>(n)};
    for (auto& v : t.data) v = round_to(s.dtype, mean + sd * normal(rng));
    w[name] = std::move(t);
  };
  const auto h = static_cast<int64_t>(s.hidden), in = static_cast<int64_t>(s.inter);
  add("embeddings.word_embeddings.weight", {static_cast<int64_t>(vocab), h}, 0.5f);
  add("embeddings.position_embeddings.weight", {static_cast<int64_t>(s.positions), h}, 0.5f);
  add("embeddings.token_type_embeddings.weight", {2, h}, 0.5f);
  add("embeddings.LayerNorm.weight", {h}, 0.1f, 1.0f);
  add("embeddings.LayerNorm.bias", {h}, 0.1f);
  for (size_t l = 0; l < s.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* q : {"query", "key", "value"}) {
      add(p + "attention.self." + q + ".weight", {h, h}, 0.15f);
      add(p + "attention.self." + q + ".bias", {h}, 0.1f);
    }
    add(p + "attention.output.dense.weight", {h, h}, 0.15f);
    add(p + "attention.output.dense.bias", {h}, 0.1f);
    add(p + "attention.output.LayerNorm.weight", {h}, 0.1f, 1.0f);
    add(p + "attention.output.LayerNorm.bias", {h}, 0.1f);
    add(p + "intermediate.dense.weight", {in, h}, 0.15f);
    add(p + "intermediate.dense.bias", {in}, 0.1f);
    add(p + "output.dense.weight", {h, in}, 0.15f);
    add(p + "output.dense.bias", {h}, 0.1f);
    add(p + "output.LayerNorm.weight", {h}, 0.1f, 1.0f);
    add(p + "output.LayerNorm.bias", {h}, 0.1f);
  }
  add("pooler.dense.weight", {h, h}, 0.1f);
  add("pooler.dense.bias", {h}, 0.1f);
  write_safetensors(dir / "model.safetensors", w, s.dtype, s.bert_prefix ? "bert." : "");
  return w;
}

// --- The reference: the textbook BERT forward in double precision, one sequence, no batching.
using Mat = std::vector<std::vector<double>>;

Mat linear(const Mat& x, const Tensor& w, const Tensor& b) {
  const size_t out = static_cast<size_t>(w.shape[0]), in = static_cast<size_t>(w.shape[1]);
  Mat y(x.size(), std::vector<double>(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (size_t o = 0; o < out; ++o) {
      double s = b.data[o];
      for (size_t i = 0; i < in; ++i) s += x[t][i] * w.data[o * in + i];
      y[t][o] = s;
    }
  return y;
}

void layer_norm(Mat& x, const Tensor& g, const Tensor& b, double eps) {
  for (auto& row : x) {
    double mean = 0, var = 0;
    for (double v : row) mean += v;
    mean /= static_cast<double>(row.size());
    for (double v : row) var += (v - mean) * (v - mean);
    var /= static_cast<double>(row.size());
    for (size_t c = 0; c < row.size(); ++c)
      row[c] = (row[c] - mean) / std::sqrt(var + eps) * g.data[c] + b.data[c];
  }
}

double activate(const std::string& act, double x) {
  if (act == "gelu") return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  if (act == "relu") return std::max(x, 0.0);
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

std::vector<double> reference(const Weights& w, const Spec& s, const std::vector<int32_t>& ids) {
  const size_t h = s.hidden, L = ids.size(), dh = s.hidden / s.heads;
  auto W = [&](const std::string& n) -> const Tensor& { return w.at(n); };
  Mat x(L, std::vector<double>(h));
  for (size_t i = 0; i < L; ++i)
    for (size_t c = 0; c < h; ++c)
      x[i][c] = W("embeddings.word_embeddings.weight").data[static_cast<size_t>(ids[i]) * h + c] +
                W("embeddings.position_embeddings.weight").data[i * h + c] +
                W("embeddings.token_type_embeddings.weight").data[c];
  layer_norm(x, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), 1e-7);
  for (size_t l = 0; l < s.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    Mat q = linear(x, W(p + "attention.self.query.weight"), W(p + "attention.self.query.bias"));
    Mat k = linear(x, W(p + "attention.self.key.weight"), W(p + "attention.self.key.bias"));
    Mat v = linear(x, W(p + "attention.self.value.weight"), W(p + "attention.self.value.bias"));
    Mat ctx(L, std::vector<double>(h, 0));
    for (size_t hd = 0; hd < s.heads; ++hd)
      for (size_t i = 0; i < L; ++i) {
        std::vector<double> sc(L);
        double mx = -1e300;
        for (size_t j = 0; j < L; ++j) {
          double d = 0;
          for (size_t e = 0; e < dh; ++e) d += q[i][hd * dh + e] * k[j][hd * dh + e];
          sc[j] = d / std::sqrt(static_cast<double>(dh));
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& z : sc) sum += (z = std::exp(z - mx));
        for (size_t j = 0; j < L; ++j)
          for (size_t e = 0; e < dh; ++e) ctx[i][hd * dh + e] += sc[j] / sum * v[j][hd * dh + e];
      }
    Mat a =
        linear(ctx, W(p + "attention.output.dense.weight"), W(p + "attention.output.dense.bias"));
    for (size_t i = 0; i < L; ++i)
      for (size_t c = 0; c < h; ++c) a[i][c] += x[i][c];
    layer_norm(a, W(p + "attention.output.LayerNorm.weight"),
               W(p + "attention.output.LayerNorm.bias"), 1e-7);
    Mat f = linear(a, W(p + "intermediate.dense.weight"), W(p + "intermediate.dense.bias"));
    for (auto& row : f)
      for (auto& z : row) z = activate(s.act, z);
    Mat o = linear(f, W(p + "output.dense.weight"), W(p + "output.dense.bias"));
    for (size_t i = 0; i < L; ++i)
      for (size_t c = 0; c < h; ++c) o[i][c] += a[i][c];
    layer_norm(o, W(p + "output.LayerNorm.weight"), W(p + "output.LayerNorm.bias"), 1e-7);
    x = o;
  }
  std::vector<double> out(h, 0);
  if (s.pooling == "cls") {
    out = x[0];
  } else if (s.pooling == "max") {
    out = x[0];
    for (size_t i = 1; i < L; ++i)
      for (size_t c = 0; c < h; ++c) out[c] = std::max(out[c], x[i][c]);
  } else {
    for (size_t i = 0; i < L; ++i)
      for (size_t c = 0; c < h; ++c) out[c] += x[i][c] / static_cast<double>(L);
  }
  if (s.normalize) {
    double n = 0;
    for (double z : out) n += z * z;
    for (double& z : out) z /= std::max(std::sqrt(n), 1e-12);
  }
  return out;
}

std::vector<std::string> sample_texts() {
  return {"the quick brown fox",
          "Hello, world!",
          "vector search in postgres is fast and the database is slow",
          "a",
          "",
          "cats jumping over the lazy dogs, quick quick quick fox fox fox dog dog dog vector "
          "search embedding model query database hello world the of and to in is a",
          "unknownword zzz the"};
}

void check_model(const Spec& s) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  const Weights w = make_model(dir, s);
  ragperf::Settings settings;
  auto model = ragperf::load_embedding_model(dir.string(), settings);
  ASSERT_EQ(model->dim(), s.hidden);
  ASSERT_EQ(model->max_tokens(), s.max_seq);
  auto tok = ragperf::WordPieceTokenizer::from_folder(dir);
  const auto texts = sample_texts();
  std::vector<size_t> counts;
  const ragperf::EmbeddingMatrix batch = model->embed(texts, &counts);
  ASSERT_EQ(batch.rows, texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tok.encode(texts[i], s.max_seq);
    EXPECT_EQ(counts[i], ids.size());
    EXPECT_LE(ids.size(), s.max_seq);
    const auto ref = reference(w, s, ids);
    const auto single = model->embed(std::vector<std::string>{texts[i]});
    for (size_t c = 0; c < s.hidden; ++c) {
      const double tol = 1e-5 * std::max(1.0, std::abs(ref[c]));
      ASSERT_NEAR(single.row(0)[c], ref[c], tol) << "text " << i << " component " << c;
      ASSERT_NEAR(batch.row(i)[c], single.row(0)[c], 1e-6 * std::max(1.0, std::abs(ref[c])))
          << "batch vs single, text " << i << " component " << c;
    }
  }
}

TEST(BertModel, MatchesReferenceF32GeluMeanNormalized) {
  check_model(Spec{});
}

TEST(BertModel, MatchesReferenceBf16TanhGeluClsUnnormalizedOddShape) {
  Spec s;
  s.hidden = 40;  // not a multiple of the vector width
  s.heads = 5;
  s.layers = 1;
  s.inter = 72;
  s.dtype = "BF16";
  s.act = "gelu_new";
  s.pooling = "cls";
  s.normalize = false;
  check_model(s);
}

TEST(BertModel, MatchesReferenceF16ReluMeanWithBertPrefix) {
  Spec s;
  s.hidden = 64;
  s.heads = 2;
  s.layers = 3;
  s.inter = 128;
  s.dtype = "F16";
  s.act = "relu";
  s.bert_prefix = true;
  check_model(s);
}

TEST(BertModel, MatchesReferencePytorchTanhMaxPoolingShortTruncation) {
  Spec s;
  s.act = "gelu_pytorch_tanh";
  s.pooling = "max";
  s.max_seq = 6;
  check_model(s);
}

TEST(BertModel, LongBatchUsesTheLargeGemmPathAndStillMatches) {
  // 60 tokens per text x several texts: more rows than the small-GEMM kernel takes.
  Spec s;
  s.hidden = 32;
  s.heads = 2;
  s.layers = 1;
  s.inter = 64;
  s.max_seq = 60;
  TempDir tmp;
  const Weights w = make_model(tmp / "m", s);
  ragperf::Settings settings;
  auto model = ragperf::load_embedding_model((tmp / "m").string(), settings);
  auto tok = ragperf::WordPieceTokenizer::from_folder(tmp / "m");
  std::string text;
  for (int i = 0; i < 80; ++i) text += kWords[static_cast<size_t>(i) % 17] + " ";
  std::vector<std::string> texts(5, text);
  texts.push_back("short one");
  const auto m = model->embed(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ref = reference(w, s, tok.encode(texts[i], s.max_seq));
    for (size_t c = 0; c < s.hidden; ++c) ASSERT_NEAR(m.row(i)[c], ref[c], 1e-5);
  }
}

TEST(BertModel, InvalidUtf8IsAnInputErrorNamingTheText) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  ragperf::Settings settings;
  auto model = ragperf::load_embedding_model((tmp / "m").string(), settings);
  std::vector<std::string> texts = {"fine", std::string("bad \xff\xfe text")};
  try {
    model->embed(texts);
    FAIL() << "expected InputError";
  } catch (const ragperf::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("text 1"), std::string::npos) << e.what();
  }
}

TEST(BertModel, IdIsStableAndDiffersBetweenWeights) {
  TempDir tmp;
  make_model(tmp / "a", Spec{}, 1);
  make_model(tmp / "b", Spec{}, 2);
  ragperf::Settings settings;
  auto a1 = ragperf::load_embedding_model((tmp / "a").string(), settings);
  auto a2 = ragperf::load_embedding_model((tmp / "a").string(), settings);
  auto b = ragperf::load_embedding_model((tmp / "b").string(), settings);
  EXPECT_EQ(a1->id(), a2->id());
  EXPECT_NE(a1->id(), b->id());
}

// --- Corrupt files.

std::string expect_model_error(const fs::path& dir, const std::string& must_contain) {
  ragperf::Settings settings;
  try {
    ragperf::load_embedding_model(dir.string(), settings);
  } catch (const ragperf::ModelError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(must_contain), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "expected ModelError containing " << must_contain;
  return "";
}

// Rewrites model.safetensors' header through `edit`, keeping the data section.
void edit_header(const fs::path& file, const std::function<void(nlohmann::json&)>& edit,
                 size_t drop_tail = 0) {
  std::string bytes = ragperf::testing::read_file(file);
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, len));
  std::string data = bytes.substr(8 + len);
  edit(header);
  data.resize(data.size() - drop_tail);
  const std::string head = header.dump();
  uint64_t n = head.size();
  write_file(file, std::string(reinterpret_cast<const char*>(&n), 8) + head + data);
}

TEST(BertModelErrors, OffsetsBeyondTheFile) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  const auto file = tmp / "m" / "model.safetensors";
  edit_header(
      file, [](nlohmann::json&) {}, 100);  // truncated file
  const auto msg = expect_model_error(tmp / "m", "model.safetensors");
  EXPECT_NE(msg.find("outside the data section"), std::string::npos) << msg;
}

TEST(BertModelErrors, ShapeAndDtypeSizeMismatch) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  edit_header(tmp / "m" / "model.safetensors",
              [](nlohmann::json& h) { h["encoder.layer.0.output.dense.bias"]["shape"] = {47}; });
  expect_model_error(tmp / "m", "encoder.layer.0.output.dense.bias");
  TempDir tmp2;
  make_model(tmp2 / "m", Spec{});
  edit_header(tmp2 / "m" / "model.safetensors",
              [](nlohmann::json& h) { h["embeddings.LayerNorm.bias"]["dtype"] = "F16"; });
  expect_model_error(tmp2 / "m", "embeddings.LayerNorm.bias");
}

TEST(BertModelErrors, UnsupportedDtype) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  edit_header(tmp / "m" / "model.safetensors",
              [](nlohmann::json& h) { h["embeddings.LayerNorm.bias"]["dtype"] = "I64"; });
  expect_model_error(tmp / "m", "I64");
}

// layer_norm_eps 1e300 would make every text embed to nearly the same vector: refused, naming
// the field; so are 0 and negative values.
TEST(BertModelErrors, LayerNormEpsOutsideItsRangeIsRefused) {
  for (const double eps : {1e300, 0.5, 0.0, -1e-12}) {
    TempDir tmp;
    make_model(tmp / "m", Spec{});
    auto config = nlohmann::json::parse(ragperf::testing::read_file(tmp / "m" / "config.json"));
    config["layer_norm_eps"] = eps;
    write_file(tmp / "m" / "config.json", config.dump());
    const auto msg = expect_model_error(tmp / "m", "layer_norm_eps");
    EXPECT_NE(msg.find("outside (0, 0.01]"), std::string::npos) << msg;
  }
}

// A FIFO in place of any file of the folder (config.json, the vocabulary) is refused at once,
// naming it, instead of waiting for a writer. A writer opens it after 2 s, so that a load that
// does wait still ends (and fails the timing and the message).
TEST(BertModelErrors, AFifoInPlaceOfAFileIsRefusedWithoutWaiting) {
  for (const char* name : {"config.json", "vocab.txt"}) {
    TempDir tmp;
    make_model(tmp / "m", Spec{});
    const fs::path fifo = tmp / "m" / name;
    fs::remove(fifo);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    std::thread writer([&] {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    });
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = expect_model_error(tmp / "m", name);
    EXPECT_NE(msg.find("is a FIFO, not a regular file"), std::string::npos) << msg;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << name;
    writer.join();
  }
}

TEST(BertModelErrors, MissingTensor) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  edit_header(tmp / "m" / "model.safetensors",
              [](nlohmann::json& h) { h.erase("encoder.layer.1.attention.self.key.weight"); });
  const auto msg = expect_model_error(tmp / "m", "encoder.layer.1.attention.self.key.weight");
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST(BertModelErrors, ShapeDisagreesWithConfig) {
  TempDir tmp;
  Spec s;
  make_model(tmp / "m", s);
  auto config = nlohmann::json::parse(ragperf::testing::read_file(tmp / "m" / "config.json"));
  config["intermediate_size"] = 100;
  write_file(tmp / "m" / "config.json", config.dump());
  const auto msg = expect_model_error(tmp / "m", "intermediate.dense.weight");
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  config["intermediate_size"] = 96;
  config["num_hidden_layers"] = 1;  // the file holds a second layer
  write_file(tmp / "m" / "config.json", config.dump());
  expect_model_error(tmp / "m", "encoder.layer.1");
}

TEST(BertModelErrors, BrokenHeaderAndFiles) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  const auto file = tmp / "m" / "model.safetensors";
  std::string bytes = ragperf::testing::read_file(file);
  uint64_t huge = 1ull << 40;
  std::memcpy(bytes.data(), &huge, 8);
  write_file(file, bytes);
  expect_model_error(tmp / "m", "header length");
  write_file(file, std::string("\x05\0\0\0\0\0\0\0{oops", 13));
  expect_model_error(tmp / "m", "not valid JSON");
  write_file(file, "abc");
  expect_model_error(tmp / "m", "too short");
  fs::remove(file);
  expect_model_error(tmp / "m", "model.safetensors");
  write_file(tmp / "m" / "config.json", "{not json");
  expect_model_error(tmp / "m", "config.json");
}

TEST(BertModelErrors, BadConfigValues) {
  TempDir tmp;
  make_model(tmp / "m", Spec{});
  auto config = nlohmann::json::parse(ragperf::testing::read_file(tmp / "m" / "config.json"));
  auto with = [&](const std::string& key, nlohmann::json value, const std::string& expect) {
    auto c = config;
    c[key] = value;
    write_file(tmp / "m" / "config.json", c.dump());
    expect_model_error(tmp / "m", expect);
  };
  with("hidden_act", "swish", "swish");
  with("num_attention_heads", 5, "num_attention_heads");
  with("hidden_size", -1, "hidden_size");
  with("position_embedding_type", "relative_key", "relative_key");
}

TEST(BertKernels, ErfAndExpAreAccurate) {
  double worst_erf = 0, worst_exp = 0;
  for (double x = -6; x <= 6; x += 0.001) {
    const double got = ragperf::embed::kernels::erf_approx(static_cast<float>(x));
    worst_erf = std::max(worst_erf, std::abs(got - std::erf(x)));
  }
  for (double x = -80; x <= 80; x += 0.01) {
    const double e = std::exp(static_cast<double>(static_cast<float>(x)));
    const double got = ragperf::embed::kernels::exp_approx(static_cast<float>(x));
    worst_exp = std::max(worst_exp, std::abs(got - e) / e);
  }
  EXPECT_LT(worst_erf, 5e-7);
  EXPECT_LT(worst_exp, 5e-7);
}

TEST(BertKernels, SmallGemmEqualsBlas) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 1);
  for (size_t m : {1, 5, 6, 7, 12, 13, 30, 100, 130}) {
    for (size_t n : {7, 16, 40, 96, 128}) {
      const size_t k = 37;
      std::vector<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
      for (auto& v : a) v = normal(rng);
      for (auto& v : b) v = normal(rng);
      ragperf::embed::kernels::gemm_small(a.data(), k, b.data(), n, c1.data(), n, m, n, k);
      ragperf::embed::kernels::gemm_blas(a.data(), k, b.data(), n, c2.data(), n, m, n, k);
      for (size_t i = 0; i < m * n; ++i) ASSERT_NEAR(c1[i], c2[i], 1e-4) << m << "x" << n;
      ragperf::embed::kernels::gemm_dnnl(a.data(), k, b.data(), n, c1.data(), n, m, n, k);
      for (size_t i = 0; i < m * n; ++i) ASSERT_NEAR(c1[i], c2[i], 1e-4) << m << "x" << n;
    }
  }
}

TEST(BertKernels, PackedGemmEqualsBlas) {
  namespace k = ragperf::embed::kernels;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0, 1);
  constexpr size_t p = k::kPanelCols;
  for (size_t m : {1, 5, 6, 7, 10, 12, 13, 30, 100}) {
    for (size_t n : {p, 2 * p + 7, 5 * p, size_t{3}}) {
      for (size_t kk : {size_t{1}, size_t{37}, size_t{384}}) {
        std::vector<float> a(m * kk), b(kk * n), c1(m * n, -1.0f), c2(m * n);
        for (auto& v : a) v = normal(rng);
        for (auto& v : b) v = normal(rng);
        const k::PackedMatrix w(b.data(), n, kk, n);
        ASSERT_EQ(w.unpack(), b);
        k::gemm_blas(a.data(), kk, b.data(), n, c2.data(), n, m, n, kk);
        // The whole product, then column blocks of whole panels (as the encoder's tasks do).
        k::gemm_packed(a.data(), kk, w, 0, n, c1.data(), n, m);
        for (size_t i = 0; i < m * n; ++i)
          ASSERT_NEAR(c1[i], c2[i], 1e-5 * (kk + std::abs(c2[i]))) << m << "x" << n << "x" << kk;
        std::fill(c1.begin(), c1.end(), -1.0f);
        for (size_t j0 = 0; j0 < n; j0 += p) {
          k::gemm_packed(a.data(), kk, w, j0, std::min(p, n - j0), c1.data() + j0, n, m);
        }
        for (size_t i = 0; i < m * n; ++i)
          ASSERT_NEAR(c1[i], c2[i], 1e-5 * (kk + std::abs(c2[i]))) << m << "x" << n << "x" << kk;
      }
    }
  }
}

}  // namespace
