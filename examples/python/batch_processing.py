"""The guide's usage pattern 3, batch processing: embed a list of queries in one embed_batch call,
then run one pooled top-4 fetch per query concurrently with asyncio.gather.

Settings: DATABASE_URL (or PG*), EMBED_MODEL, MIN_POOL_SIZE, MAX_POOL_SIZE, as in the guide. The
table `documents` holds `text` and `embedding vector(384)`.

    python examples/python/batch_processing.py ["question 1" "question 2" ...]
"""

import asyncio
import sys

from ragperf import AsyncEmbedding, DatabaseConnectionPool

DEFAULT_QUERIES = [
    "What is machine learning?",
    "How do neural networks learn?",
    "What is a vector database?",
]


async def search(pool, embedding, top_k=4):
    async with pool.acquire() as conn:
        return await conn.fetch(
            f"SELECT * FROM documents ORDER BY embedding <=> $1::vector LIMIT {int(top_k)}",
            "[" + ",".join(map(str, embedding)) + "]",
        )


async def main(queries):
    embed = AsyncEmbedding()
    pool = DatabaseConnectionPool()
    await pool.initialize()
    try:
        embeddings = await embed.embed_batch(queries)
        all_results = await asyncio.gather(*(search(pool, e) for e in embeddings))

        for query, rows in zip(queries, all_results):
            print(f"Query: {query}")
            for i, row in enumerate(rows, 1):
                print(f"  {i}. {row['text']}")
        stats = embed.get_stats()
        print(f"Embedded {len(queries)} queries: {stats['throughput_embeddings_per_sec']:.1f} embeddings/s")
        pool_stats = pool.get_stats()
        print(f"Pool: size {pool_stats['pool_size']}, free {pool_stats['pool_free']}, "
              f"queries {pool_stats['total_queries']}")
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or DEFAULT_QUERIES))
