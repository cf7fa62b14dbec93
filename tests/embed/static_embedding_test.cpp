#include "ragperf/static_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::TempDir;
using testing::write_file;

const char* kGlove =
    "the 1 0 0 0\n"
    "cat 0 1 0 0\n"
    "sat 0 0 1 0\n"
    ", 0 0 0 1\n"
    "café 1 1 0 0\n";

/// The L2-normalised vector written in `spec` ("1 1 1 0"). Parsed at run time: GCC 12 with
/// -mavx512f miscompiles some constant initializer lists ({1, 1, 1, 0} becomes all ones).
std::vector<float> normalised(const char* spec) {
  std::vector<double> v;
  for (char* end = nullptr;; spec = end) {
    double x = std::strtod(spec, &end);
    if (end == spec) break;
    v.push_back(x);
  }
  double n = 0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  std::vector<float> out;
  for (double x : v) out.push_back(static_cast<float>(x / n));
  return out;
}

/// SIF weight of the word on line `rank` (1-based) of a vectors file of `n` words, from the
/// formula in ragperf/static_model.h: a / (a + p), p = 1 / (rank * H_n).
double sif(size_t rank, size_t n) {
  double h = 0;
  for (size_t r = 1; r <= n; ++r) h += 1.0 / static_cast<double>(r);
  return 1e-3 / (1e-3 + 1.0 / (static_cast<double>(rank) * h));
}

/// `v` L2-normalised.
std::vector<float> unit(const std::vector<double>& v) {
  double n = 0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  std::vector<float> out;
  for (double x : v) out.push_back(static_cast<float>(x / n));
  return out;
}

void expect_row(const EmbeddingMatrix& m, size_t row, const std::vector<float>& want) {
  ASSERT_EQ(m.dim, want.size());
  for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(m.row(row)[j], want[j], 1e-6) << j;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(StaticModel, GloveSifWeightedSumOfKnownWordsNormalised) {
  TempDir tmp;
  write_file(tmp / "glove-mini" / "vectors.txt", kGlove);
  ASSERT_TRUE(is_static_model(tmp / "glove-mini"));
  auto model = load_static_model(tmp / "glove-mini");
  EXPECT_EQ(model->dim(), 4u);
  std::vector<std::string> texts{"The CAT sat", "cat, cat", "Café", "unknown words only", ""};
  std::vector<size_t> counts;
  auto m = model->embed(texts, &counts);
  ASSERT_EQ(m.rows, 5u);
  // the (rank 1) + cat (rank 2) + sat (rank 3), each weighted by its SIF weight.
  expect_row(m, 0, unit({sif(1, 5), sif(2, 5), sif(3, 5), 0}));
  // Every occurrence counts; punctuation is its own token (rank 4).
  expect_row(m, 1, unit({0, 2 * sif(2, 5), 0, sif(4, 5)}));
  expect_row(m, 2, normalised("1 1 0 0"));        // accents kept, case folded
  expect_row(m, 3, std::vector<float>(4, 0.0f));  // all OOV: the zero vector
  expect_row(m, 4, std::vector<float>(4, 0.0f));
  EXPECT_EQ(counts, (std::vector<size_t>{3, 3, 1, 3, 0}));
  EXPECT_EQ(model->count_tokens("cat, cat"), 3u);
  // The weighting is part of the id, so stores embedded with a plain mean are not mixed.
  EXPECT_EQ(model->id().size() - model->id().rfind("-sif1"), 5u) << model->id();
  // Frequent words weigh little: "the cat" points almost at "cat" (the weighs half as much as
  // cat at rank 1 vs 2 in this 5-word file; in GloVe 6B, 0.013 vs 0.93 at rank 1000).
  EXPECT_NEAR(sif(1, 5) / sif(2, 5), 0.5, 0.01);
  // Batched equals single.
  for (size_t i = 0; i < texts.size(); ++i) {
    auto one = model->embed(std::span<const std::string>(&texts[i], 1));
    for (size_t j = 0; j < 4; ++j) EXPECT_EQ(one.row(0)[j], m.row(i)[j]);
  }
}

TEST(StaticModel, Word2VecHeaderAndFileOrFolderGiveTheSameId) {
  TempDir tmp;
  write_file(tmp / "w2v" / "vectors.txt", std::string("5 4\n") + kGlove);
  auto a = load_static_model(tmp / "w2v");
  auto b = load_static_model(tmp / "w2v" / "vectors.txt");
  EXPECT_EQ(a->dim(), 4u);
  EXPECT_EQ(a->id(), b->id());
  EXPECT_EQ(a->id().rfind("static:w2v@", 0), 0u) << a->id();
  // The header line is not a word: the same ranks, so the same weights as without it.
  write_file(tmp / "plain" / "vectors.txt", kGlove);
  std::vector<std::string> t{"the cat sat , café"};
  EXPECT_EQ(a->embed(t).data, load_static_model(tmp / "plain")->embed(t).data);
  // Another content gives another id.
  write_file(tmp / "w2v2" / "vectors.txt", std::string("5 4\n") + kGlove + "dog 0 0 1 1\n");
  EXPECT_THROW(load_static_model(tmp / "w2v2"), ModelError);  // header says 5, file has 6
  write_file(tmp / "w2v2" / "vectors.txt", std::string(kGlove) + "dog 0 0 1 1\n");
  auto c = load_static_model(tmp / "w2v2");
  EXPECT_NE(c->id().substr(c->id().find('@')), a->id().substr(a->id().find('@')));
}

TEST(StaticModel, CacheIsUsedAndInvalidatedWhenTheFileChanges) {
  TempDir tmp;
  auto file = tmp / "m" / "vectors.txt";
  write_file(file, kGlove);
  auto first = load_static_model(tmp / "m");
  ASSERT_TRUE(std::filesystem::exists(tmp / "m" / "vectors.txt.ragperf-cache"));
  auto second = load_static_model(tmp / "m");  // from the cache
  std::vector<std::string> t{"the cat sat , café"};
  auto a = first->embed(t);
  auto b = second->embed(t);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(first->id(), second->id());
  // A changed file (different size) must not be answered from the stale cache.
  write_file(file, "the 0 0 0 2\ncat 0 0 2 0\n");
  auto third = load_static_model(tmp / "m");
  auto c = third->embed(std::vector<std::string>{"the"});
  expect_row(c, 0, normalised("0 0 0 1"));
  // A damaged cache is ignored.
  write_file(tmp / "m" / "vectors.txt.ragperf-cache", "garbage");
  auto fourth = load_static_model(tmp / "m");
  expect_row(fourth->embed(std::vector<std::string>{"cat"}), 0, normalised("0 0 1 0"));
}

TEST(StaticModel, MalformedTextFilesNameFileAndLine) {
  TempDir tmp;
  auto f = tmp / "bad.txt";
  write_file(f, "the 1 0 0\ncat 0 1\nsat 0 0 1\n");
  EXPECT_EQ(message_of([&] { load_static_model(f); }),
            f.string() +
                ":2: expected a word and 3 numbers, found 2 numbers; the file is truncated or "
                "mixes dimensions");
  write_file(f, "the 1 0 0\ncat 0 x1 0\n");
  EXPECT_EQ(message_of([&] { load_static_model(f); }),
            f.string() + ":2: value 2 'x1' is not a finite number");
  write_file(f, "the 1 0 nan\n");
  EXPECT_NE(message_of([&] { load_static_model(f); }).find(":1: value 3 'nan'"), std::string::npos);
  write_file(f, "\n\n");
  EXPECT_EQ(message_of([&] { load_static_model(f); }), f.string() + ": no word vectors found");
  write_file(f, "3 0\n");
  EXPECT_NE(message_of([&] { load_static_model(f); }).find("dimension 0"), std::string::npos);
  EXPECT_THROW(load_static_model(tmp / "missing"), ModelError);
  write_file(tmp / "notmodel" / "readme.md", "hello");
  EXPECT_FALSE(is_static_model(tmp / "notmodel"));
  EXPECT_THROW(load_static_model(tmp / "notmodel"), ModelError);
}

TEST(StaticModel, InvalidUtf8NamesTheText) {
  TempDir tmp;
  write_file(tmp / "v.txt", kGlove);
  auto model = load_static_model(tmp / "v.txt");
  std::vector<std::string> texts{"the cat", std::string("bad \xff byte")};
  std::string msg = message_of([&] { model->embed(texts); });
  EXPECT_EQ(msg.rfind("text 1: ", 0), 0u) << msg;
}

TEST(StaticModel, BertFolderIsNotStatic) {
  auto bert = testing::shared_dir() / "models" / "bert-l2-h384-cls-f32";
  ASSERT_TRUE(std::filesystem::exists(bert));
  EXPECT_FALSE(is_static_model(bert));
}

/// Writes a safetensors file holding one F32 tensor `name` of shape [rows, cols].
void write_safetensors(const std::filesystem::path& path, const std::string& name, size_t rows,
                       size_t cols, const std::vector<float>& values) {
  std::string header = R"({")" + name + R"(":{"dtype":"F32","shape":[)" + std::to_string(rows) +
                       "," + std::to_string(cols) + R"(],"data_offsets":[0,)" +
                       std::to_string(values.size() * 4) + "]}}";
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out += header;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  write_file(path, out);
}

TEST(StaticModel, Model2VecSafetensorsWithWordPiece) {
  TempDir tmp;
  auto dir = tmp / "m2v";
  // Rows: [PAD] play ##ing run ##s
  write_safetensors(dir / "model.safetensors", "embeddings", 5, 3,
                    {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  write_file(dir / "vocab.txt", "[PAD]\nplay\n##ing\nrun\n##s\n");
  ASSERT_TRUE(is_static_model(dir));
  auto model = load_static_model(dir);
  EXPECT_EQ(model->dim(), 3u);
  std::vector<std::string> texts{"Playing", "runs xyz", "xyz"};
  std::vector<size_t> counts;
  auto m = model->embed(texts, &counts);
  expect_row(m, 0, normalised("1 1 0"));
  expect_row(m, 1,
             normalised("1 1 2"));  // run + ##s; xyz is unknown and skipped
  expect_row(m, 2, std::vector<float>(3, 0.0f));
  EXPECT_EQ(counts, (std::vector<size_t>{2, 3, 1}));
  EXPECT_EQ(model->id().rfind("static:m2v@", 0), 0u);
  EXPECT_EQ(model->id().find("sif"), std::string::npos);  // Model2Vec: a plain mean, unweighted

  // The same weights with a tokenizer.json WordPiece vocabulary.
  auto dir2 = tmp / "m2v-json";
  std::filesystem::create_directories(dir2);
  std::filesystem::copy_file(dir / "model.safetensors", dir2 / "model.safetensors");
  write_file(
      dir2 / "tokenizer.json",
      R"({"model":{"type":"WordPiece","vocab":{"[PAD]":0,"play":1,"##ing":2,"run":3,"##s":4}}})");
  auto m2 = load_static_model(dir2)->embed(texts);
  EXPECT_EQ(m2.data, m.data);
}

TEST(StaticModel, Model2VecMismatchesAreModelErrors) {
  TempDir tmp;
  auto dir = tmp / "m";
  write_safetensors(dir / "model.safetensors", "embeddings", 2, 2, {1, 0, 0, 1});
  write_file(dir / "vocab.txt", "a\nb\nc\n");
  EXPECT_NE(message_of([&] { load_static_model(dir); }).find("has 2 rows but the vocabulary has 3"),
            std::string::npos);
  std::filesystem::remove(dir / "vocab.txt");
  write_file(dir / "tokenizer.json", R"({"model":{"type":"Unigram","vocab":[]}})");
  EXPECT_NE(message_of([&] { load_static_model(dir); }).find("'Unigram' is not supported"),
            std::string::npos);
  write_file(dir / "tokenizer.json", "{broken");
  EXPECT_NE(message_of([&] { load_static_model(dir); }).find("is not valid JSON"),
            std::string::npos);
  std::filesystem::remove(dir / "tokenizer.json");
  EXPECT_NE(message_of([&] { load_static_model(dir); }).find("neither tokenizer.json nor vocab"),
            std::string::npos);
  write_safetensors(dir / "model.safetensors", "embeddings", 2, 2, {1, NAN, 0, 1});
  write_file(dir / "vocab.txt", "a\nb\n");
  EXPECT_NE(message_of([&] { load_static_model(dir); }).find("non-finite"), std::string::npos);
}

}  // namespace
}  // namespace ragperf
