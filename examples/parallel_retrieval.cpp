// Parallel multi-table retrieval, as in the guide: embed the question once, search every table at
// the same time, merge and deduplicate the hits.
//
//   ragperf demo                                   # fills table pgdocs (GloVe demo model)
//   build/release/examples/example_parallel_retrieval ~/.ragperf/models/glove-6b-100d
//       "how do I create an index concurrently" pgdocs [more tables, name@postgresql://...]
//   (one command line)
//
// The store is the one `ragperf` uses: PostgreSQL when DATABASE_URL is set, else the embedded
// store under RAGPERF_HOME.
// GCC's -Wnull-dereference misfires inside Asio's inlined scheduler (a system header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#pragma GCC diagnostic pop
#include <iostream>

#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "ragperf/retriever.h"
#include "ragperf/vector_store.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL QUESTION TABLE [TABLE...]\n";
    return 2;
  }
  try {
    const ragperf::Settings settings = ragperf::load_settings();
    std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);
    std::shared_ptr<ragperf::EmbeddingModel> model =
        ragperf::load_embedding_model(argv[1], settings);
    const std::vector<std::string> tables(argv + 3, argv + argc);

    ragperf::PerformanceMonitor monitor;
    ragperf::ParallelRetrieverOptions options;
    options.monitor = &monitor;                                       // embed, query, merge, total
    options.open_location = ragperf::default_store_opener(settings);  // name@postgresql://...
    ragperf::ParallelRetriever retriever(store, model, tables, model->dim(), options);

    // 1. The guide's call, future form: retrieve_parallel(query, top_k, deduplicate).
    ragperf::RetrieveResult result = retriever.retrieve_parallel(argv[2], 4, true).get();
    for (const ragperf::RetrievedHit& hit : result.hits) {
      std::cout << hit.score << "  [" << hit.source_table << "]  "
                << ragperf::make_snippet(hit.text, 100) << "\n";
    }

    // 2. The same from a coroutine, with reciprocal-rank fusion and partial results.
    boost::asio::io_context io;
    auto fused = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<ragperf::RetrieveResult> {
          ragperf::RetrieveOptions o;
          o.top_k = 4;
          o.fusion = ragperf::Fusion::kRrf;
          o.partial_results = true;  // a failing table is listed in failures, not thrown
          co_return co_await retriever.async_retrieve_parallel(argv[2], o);
        },
        boost::asio::use_future);
    io.run();
    ragperf::RetrieveResult r = fused.get();
    std::cout << "\nRRF: " << r.hits.size() << " hits, " << r.failures.size() << " failed tables\n";

    std::cout << "\n" << monitor.export_metrics(ragperf::MetricsFormat::kJson) << "\n";
  } catch (const ragperf::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
