"""For the rate-limit tests: a Redis key prefix of one's own per test (its keys are
deleted afterwards; import the fixture into the test module), and ``max_in_window``
to count request starts in any window (the bulk tests use it too)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted when the test ends."""
    import redis

    prefix = f"plivo-phlo-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = keys_under(redis_url, prefix)
    if keys:
        with redis.Redis.from_url(redis_url) as connection:
            connection.delete(*keys)


def keys_under(redis_url: str, prefix: str) -> list[bytes]:
    """The keys under ``prefix`` (a test's own: ``redis_prefix``)."""
    import redis

    with redis.Redis.from_url(redis_url) as connection:
        return list(connection.scan_iter(match=f"{prefix}*"))


def max_in_window(starts: list[float], window: float) -> int:
    """Most start times within any half-open window [t, t + window)."""
    ordered = sorted(starts)
    best = 0
    low = 0
    for high, stamp in enumerate(ordered):
        while ordered[low] <= stamp - window:
            low += 1
        best = max(best, high - low + 1)
    return best
