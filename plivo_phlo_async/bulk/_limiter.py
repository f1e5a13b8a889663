"""The bulk runner's rate limit: moved to :mod:`plivo_phlo_async._ratelimit`
(the client uses it too); kept importable from here."""

from __future__ import annotations

from .._ratelimit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiter

__all__ = ["DEFAULT_RATE_LIMIT", "RateLimit", "RateLimiter"]
