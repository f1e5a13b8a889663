"""Helpers for the bulk runner's tests: a counting fake Plivo (an httpx MockTransport)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from _redis_keys import max_in_window as max_in_window  # shared with the Redis tests

from plivo_phlo_async import PhloClient

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
PHLO_ID = "3c1f5a0e-0000-4000-8000-000000000001"
NODE_ID = "3c1f5a0e-0000-4000-8000-0000000000b1"
BASE = "http://127.0.0.1/v1"
RUN_URL = f"{BASE}/account/{AUTH_ID}/phlo/{PHLO_ID}"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response] | httpx.Response]


def created(request: httpx.Request) -> httpx.Response:
    """Plivo's 201 for a run or an action."""
    return httpx.Response(
        201,
        json={"api_id": f"api-{request.extensions.get('seq', 0)}", "message": "ok"},
    )


@dataclass
class FakePlivo:
    """A MockTransport handler that records every request and its start time.

    ``respond(request, n)`` decides the answer of the ``n``-th request (1-based);
    it may be async, return a Response, or raise an httpx error.
    """

    respond: Callable[[httpx.Request, int], Any] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    active: int = 0
    peak_active: int = 0
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        n = next(self._seq)
        self.requests.append(request)
        self.starts.append(anyio.current_time())
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        try:
            if self.respond is None:
                await anyio.lowlevel.checkpoint()
                return httpx.Response(201, json={"api_id": f"api-{n}", "message": "ok"})
            answer = self.respond(request, n)
            if isinstance(answer, Awaitable):
                answer = await answer
            assert isinstance(answer, httpx.Response)
            return answer
        finally:
            self.active -= 1

    def bodies(self) -> list[Any]:
        return [json.loads(request.content) for request in self.requests]

    def sent_refs(self, key: str = "n") -> list[Any]:
        """The ``key`` field of every request body, in order of sending."""
        return [body[key] for body in self.bodies()]

    def client(self, **kwargs: Any) -> PhloClient:
        return PhloClient(
            AUTH_ID,
            "token",
            base_url=BASE,
            voice_base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
            **kwargs,
        )


@pytest.fixture
def plivo() -> FakePlivo:
    return FakePlivo()
