"""Whether a mocking library (or OpenTelemetry) has patched httpx's send path.

The fast path steps aside while httpx is patched, so that a mock sees every
request. httpx's own methods are taken when this module loads, which
``import plivo_phlo_async`` does: the fast path itself loads with the first
client, which a test may well build inside ``respx.mock`` or under
pytest-httpx, when those methods are already the mock's.
"""

from __future__ import annotations

import sys
from typing import Final

import httpx

__all__ = ["httpx_instrumented", "httpx_is_patched"]

# Attributes that mocking libraries replace: respx (httpcore's pool, or
# AsyncClient._transport_for_url), pytest-httpx (httpx's transport).
_PATCH_POINTS: Final = (
    (httpx.AsyncHTTPTransport, "handle_async_request"),
    (httpx.AsyncClient, "_transport_for_url"),
    (httpx.AsyncClient, "send"),
)


def _is_otel_wrapper(value: object) -> bool:
    """Whether ``value`` is OpenTelemetry's httpx instrumentation wrapping a method.

    It wraps with ``wrapt``: a wrapper whose ``_self_wrapper`` (a
    ``functools.partial`` in recent versions) lives in an ``opentelemetry``
    module. A mock's replacement does not look like that.
    """
    wrapper = getattr(value, "_self_wrapper", None)
    wrapper = getattr(wrapper, "func", wrapper)
    return str(getattr(wrapper, "__module__", "")).startswith("opentelemetry.")


def _unwrapped(value: object) -> object:
    """httpx's own method, even if instrumentation wrapped it before this import."""
    return getattr(value, "__wrapped__", value) if _is_otel_wrapper(value) else value


# (the class's live namespace, the attribute, what it holds unpatched)
_UNPATCHED: Final = tuple(
    (cls.__dict__, name, _unwrapped(cls.__dict__.get(name))) for cls, name in _PATCH_POINTS
)


def _httpcore_pool() -> object:
    """httpcore's pool method as it is now, or None while httpcore is not loaded.

    httpcore (and the trio it imports when installed) costs 60 ms at import: it
    is left to httpx, which loads it with its first transport. Nothing can
    have patched it before it is loaded; once it is, its own method is the one
    defined in an ``httpcore.`` module (respx's replacement is not).
    """
    pool_class = getattr(sys.modules.get("httpcore"), "AsyncConnectionPool", None)
    return None if pool_class is None else vars(pool_class).get("handle_async_request")


def _is_httpcore_own(method: object) -> bool:
    return str(getattr(_unwrapped(method), "__module__", "")).startswith("httpcore.")


def httpx_is_patched() -> bool:
    """True while a mocking library has replaced part of httpx's send path."""
    for namespace, name, original in _UNPATCHED:  # any() is slower per request
        if namespace.get(name) is not original:
            return True
    pool = _httpcore_pool()
    return pool is not None and not _is_httpcore_own(pool)


def httpx_instrumented() -> bool:
    """True while httpx is patched, and only by OpenTelemetry's instrumentation
    (it wraps ``AsyncHTTPTransport.handle_async_request``); a mock must see every
    request, so any other patch makes this False."""
    patched = False
    for namespace, name, original in _UNPATCHED:
        current = namespace.get(name)
        if current is original:
            continue
        if not _is_otel_wrapper(current):
            return False
        patched = True
    pool = _httpcore_pool()
    if pool is not None and not _is_httpcore_own(pool):
        return False  # a mock of httpcore's pool: it must see every request
    return patched
