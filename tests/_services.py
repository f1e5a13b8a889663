"""Where the tests find Redis and PostgreSQL, and what happens when they are missing.

Addresses come from environment variables with the development machines'
defaults. A missing service skips its tests with the reason shown (a user's
machine need not run them) unless ``PLIVO_PHLO_REQUIRE_SERVICES=1`` (set by
``.ci/run``), which turns that skip into a failure: CI always runs them.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("PLIVO_PHLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "PLIVO_PHLO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("PLIVO_PHLO_REQUIRE_SERVICES", "") not in ("", "0")

_DEFAULT_PORTS = {"redis": 6379, "postgresql": 5432}
_reachable: dict[str, str | None] = {}


def unavailable(url: str) -> str | None:
    """Why the service at ``url`` cannot be used (None when a TCP connect works)."""
    if url not in _reachable:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        try:
            with socket.create_connection((host, port), timeout=2):
                _reachable[url] = None
        except OSError as exc:
            _reachable[url] = f"nothing answers at {host}:{port} ({exc})"
    return _reachable[url]


def require(name: str, url: str) -> str:
    """``url`` if the service answers; else skip (or fail, in CI) with the reason."""
    reason = unavailable(url)
    if reason is None:
        return url
    message = f"{name} is not available: {reason}; set its URL in the environment"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (PLIVO_PHLO_REQUIRE_SERVICES is set: it must run)")
    pytest.skip(message)
