"""The guide's usage pattern 1, quick start: embed one query, fetch its top 4 rows through a pooled
connection, print the p50 of the "embedding" and "retrieval" stages.

Settings come from the environment / .env as in the guide: DATABASE_URL (or PG*), EMBED_MODEL
(a model folder or hub id), MIN_POOL_SIZE, MAX_POOL_SIZE. The table `documents` holds `text` and
`embedding vector(384)`.

    python examples/python/quick_start.py ["your question"]
"""

import asyncio
import sys

from ragperf import AsyncEmbedding, DatabaseConnectionPool, PerformanceMonitor


async def main(query):
    monitor = PerformanceMonitor()
    embed = AsyncEmbedding()
    pool = DatabaseConnectionPool()
    await pool.initialize()

    try:
        with monitor.track("embedding"):
            query_embedding = await embed.embed_single(query)

        with monitor.track("retrieval"):
            async with pool.acquire() as conn:
                results = await conn.fetch(
                    "SELECT * FROM documents ORDER BY embedding <=> $1::vector LIMIT 4",
                    "[" + ",".join(map(str, query_embedding)) + "]",
                )

        print(f"Query: {query}")
        print(f"Found {len(results)} documents")
        for i, row in enumerate(results, 1):
            print(f"  {i}. {row['text']}")
        print(f"Embedding p50: {monitor.get_stats('embedding')['p50'] * 1000:.3f} ms")
        print(f"Retrieval p50: {monitor.get_stats('retrieval')['p50'] * 1000:.3f} ms")
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "What is machine learning?"))
