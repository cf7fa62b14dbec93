// BatchProcessor with a real BERT model folder (../shared/models): a query answered inside a
// batch of others gets the same hits, with the same scores, as the same query embedded and
// searched alone (batched == single), through EmbeddingModel and through AsyncEmbedding.
#include "ragperf/batch_processor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/local_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

const char* const kDocs[] = {
    "PostgreSQL stores vectors with the pgvector extension.",
    "HNSW indexes trade a little recall for much faster search.",
    "A connection pool reuses database connections across requests.",
    "Batching queries amortises the cost of one forward pass.",
    "A semantic cache answers repeated questions without the model.",
    "Tokenizers split text into word pieces before the encoder runs.",
    "Mean pooling averages the token vectors of the last layer.",
    "Cosine similarity compares the directions of two vectors.",
    "The weather today is sunny with a light breeze.",
    "Bread dough needs time to rise before baking.",
};

const char* const kQueries[] = {"how do I store embeddings in postgres",
                                "why is approximate search faster",
                                "what does a pool of connections do",
                                "how to answer repeated questions quickly",
                                "what is mean pooling",
                                "is it going to rain",
                                "how long should dough rise"};

TEST(BatchProcessorModel, BatchedHitsEqualSingleHits) {
  const auto folder = testing::shared_dir() / "models" / "bert-l2-h384-mean-f16";
  Settings settings;
  std::shared_ptr<EmbeddingModel> model = load_embedding_model(folder.string(), settings);
  testing::TempDir dir;
  auto store = std::make_shared<LocalStore>(dir.path());
  store->ensure_collection("docs", model->dim(), Metric::kCosine, model->id());
  std::vector<std::string> texts(std::begin(kDocs), std::end(kDocs));
  const auto m = model->embed(texts);
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < texts.size(); ++i) {
    Chunk c;
    c.id = "doc" + std::to_string(i);
    c.text = texts[i];
    c.content_hash = c.id;
    c.embedding.assign(m.row(i).begin(), m.row(i).end());
    chunks.push_back(std::move(c));
  }
  store->add("docs", chunks);

  auto async = std::make_shared<AsyncEmbedding>(model, "cpu", 32);
  BatchProcessorOptions o;
  o.batch_size = 16;
  o.timeout = std::chrono::seconds(30);
  o.search.top_k = 3;
  BatchProcessor direct(model, store, "docs", o);
  BatchProcessor via_async(async, store, "docs", o);
  for (BatchProcessor* p : {&direct, &via_async}) {
    std::vector<std::future<std::vector<Hit>>> fs;
    for (const char* q : kQueries) fs.push_back(p->add_query(q));
    p->process_batch();
    for (size_t i = 0; i < fs.size(); ++i) {
      const auto batched = fs[i].get();
      const auto v = model->embed(std::vector<std::string>{kQueries[i]});
      const auto single = store->search("docs", v.row(0), {.top_k = 3});
      ASSERT_EQ(batched.size(), single.size()) << kQueries[i];
      for (size_t k = 0; k < single.size(); ++k) {
        EXPECT_EQ(batched[k].id, single[k].id) << kQueries[i] << " rank " << k;
        EXPECT_NEAR(batched[k].score, single[k].score, 1e-4) << kQueries[i] << " rank " << k;
      }
    }
    EXPECT_EQ(p->get_stats().batches, 1u) << "seven queries, one forward pass";
  }
}

}  // namespace
}  // namespace ragperf
