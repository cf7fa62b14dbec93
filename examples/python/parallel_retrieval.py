"""The guide's usage pattern 4, parallel multi-table retrieval: ParallelRetriever embeds the query
once, searches "documents", "articles" and "papers" at the same time, and merges the hits by score,
deduplicated.

Settings: DATABASE_URL (or PG*), EMBED_MODEL, as in the guide. Each table holds `id`, `text` and
`embedding vector(384)`.

    python examples/python/parallel_retrieval.py ["your question"]
"""

import asyncio
import sys

from ragperf import AsyncEmbedding, DatabaseConnectionPool, ParallelRetriever


async def main(query):
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
        results = await retriever.retrieve_parallel(query=query, top_k=4, deduplicate=True)

        print(f"Query: {query}")
        print(f"Found {len(results)} results across 3 tables")
        for i, result in enumerate(results, 1):
            print(f"  {i}. [{result['source_table']}] {result['score']:.4f} {result['text']}")
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "What is deep learning?"))
