"""The guide's usage pattern 2, basic async query: embed a query and return its top 4 rows from a
pooled connection (no monitor).

Settings: DATABASE_URL (or PG*), EMBED_MODEL, as in the guide. The table `documents` holds `text`
and `embedding vector(384)`.

    python examples/python/basic_async_query.py ["your question"]
"""

import asyncio
import sys

from ragperf import AsyncEmbedding, DatabaseConnectionPool


async def query_documents(pool, embed, query, top_k=4):
    embedding = await embed.embed_single(query)
    async with pool.acquire() as conn:
        return await conn.fetch(
            f"SELECT * FROM documents ORDER BY embedding <=> $1::vector LIMIT {int(top_k)}",
            "[" + ",".join(map(str, embedding)) + "]",
        )


async def main(query):
    embed = AsyncEmbedding()
    pool = DatabaseConnectionPool()
    await pool.initialize()
    try:
        rows = await query_documents(pool, embed, query)
        print(f"Query: {query}")
        for i, row in enumerate(rows, 1):
            print(f"  {i}. {row['text']}")
        return rows
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "How do transformers work?"))
