"""The services the scale-out tests use answer (or their tests skip visibly, or fail in CI)."""

from __future__ import annotations

import psycopg
import redis.asyncio as aioredis


async def test_redis_answers(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.ping() is True
    finally:
        await client.aclose()


async def test_postgres_answers(postgres_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        cursor = await conn.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)
