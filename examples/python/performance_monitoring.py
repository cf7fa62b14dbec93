"""The guide's usage pattern 5, performance monitoring: time the "embedding", "retrieval" and
"processing" stages of a few queries, then print the p50 and p95 of each from get_stats().

Settings: DATABASE_URL (or PG*), EMBED_MODEL, as in the guide. The tables "documents", "articles"
and "papers" hold `id`, `text` and `embedding vector(384)`.

    python examples/python/performance_monitoring.py ["question 1" "question 2" ...]
"""

import asyncio
import sys

from ragperf import AsyncEmbedding, DatabaseConnectionPool, ParallelRetriever, PerformanceMonitor

DEFAULT_QUERIES = ["What is machine learning?", "How do vector indexes work?", "What is RAG?"]


async def main(queries):
    monitor = PerformanceMonitor()
    embed = AsyncEmbedding()
    pool = DatabaseConnectionPool()
    await pool.initialize()
    try:
        retriever = ParallelRetriever(
            pool=pool,
            embed_model=embed,
            tables=["documents", "articles", "papers"],
            embed_dim=384,
        )
        for query in queries:
            with monitor.track("embedding"):
                await embed.embed_single(query)
            with monitor.track("retrieval"):
                results = await retriever.retrieve(query)
            with monitor.track("processing"):
                context = "\n".join(r["text"] for r in results)
            print(f"Query: {query} -> {len(results)} results, {len(context)} characters of context")

        print(f"Pool healthy: {await pool.health_check()}")
        stats = monitor.get_stats()
        for name in ("embedding", "retrieval", "processing"):
            s = stats[name]
            print(f"{name}: count {s['count']}, p50 {s['p50'] * 1000:.3f} ms, p95 {s['p95'] * 1000:.3f} ms")
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or DEFAULT_QUERIES))
