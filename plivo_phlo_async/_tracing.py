"""OpenTelemetry spans for the SDK's requests, on every path (fast path or httpx).

One CLIENT span per attempt (a retry is a new span with
``http.request.resend_count``, as the HTTP semantic conventions ask), named
after the method, with the conventions' attributes and the PHLO ids the URL
or the answer carries. The URL is recorded without credentials (the SDK puts
none in it; the Authorization header and the token are never recorded).

Costs nothing measurable when ``opentelemetry-api`` is not installed (one
``None`` check per attempt) or when no tracer provider is set (one global
read): no span objects are built then.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from ._fastpath import Answer

__all__ = ["AttemptSpan", "load_opentelemetry", "start_attempt"]

_SCOPE: Final = "plivo_phlo_async"
_API_ID: Final = re.compile(rb'"api_id"\s*:\s*"([^"\\]{1,200})"')
_TRACER: list[Any] = [None, None]  # [provider, its tracer]: built once per provider
_UNSET: Final = object()
#: opentelemetry-api builds the provider named here on first use.
_PROVIDER_FROM_ENV: Final = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
#: ``opentelemetry.trace``, or None when the otel extra is not installed; _UNSET
#: until :func:`load_opentelemetry` (its import costs ms, not ``import plivo_phlo_async``'s).
_trace: Any = _UNSET


def load_opentelemetry() -> Any:
    """Import ``opentelemetry.trace`` once, if installed (a client does it when built)."""
    global _trace
    if _trace is _UNSET:
        try:
            from opentelemetry import trace
        except ImportError:  # the otel extra is not installed
            _trace = None
        else:
            _trace = trace
    return _trace


def _tracer() -> Any:
    """The SDK's tracer, or None when there is nothing to record spans."""
    trace = _trace
    if trace is _UNSET:
        trace = load_opentelemetry()
    if trace is None:
        return None
    # The API's global, read directly: get_tracer_provider() looks at the
    # environment on every call while none is set (microseconds per attempt).
    provider: Any = getattr(trace, "_TRACER_PROVIDER", _UNSET)
    if provider is None and not _PROVIDER_FROM_ENV:
        return None
    if provider is None or provider is _UNSET:
        provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None  # no SDK configured: spans would be dropped anyway
    if _TRACER[0] is not provider:
        from ._version import __version__

        _TRACER[:] = [provider, provider.get_tracer(_SCOPE, __version__)]
    return _TRACER[1]


class AttemptSpan:
    """The span of one attempt; :meth:`answered` or :meth:`failed` ends it."""

    __slots__ = ("_span", "_starts_run")

    def __init__(self, span: Any, starts_run: bool) -> None:
        self._span = span
        self._starts_run = starts_run  # the answer's api_id is the new run's id

    def answered(self, answer: Answer) -> None:
        span = self._span
        status = answer.status_code
        span.set_attribute("http.response.status_code", status)
        match = _API_ID.search(answer.content[:4096]) if answer.content else None
        if match is not None:
            api_id = match.group(1).decode("utf-8", "replace")
            span.set_attribute("plivo.api_id", api_id)
            if self._starts_run and status < 300:
                span.set_attribute("plivo.run_id", api_id)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(_trace.Status(_trace.StatusCode.ERROR))
        span.end()

    def failed(self, error: BaseException) -> None:
        span = self._span
        span.set_attribute("error.type", _error_type(error))
        span.set_status(_trace.Status(_trace.StatusCode.ERROR, str(error)[:200]))
        span.end()


def start_attempt(method: str, url: str, attempt: int) -> AttemptSpan | None:
    """A started span for this attempt, or None when nothing records spans."""
    tracer = _tracer()
    if tracer is None:
        return None
    described = _URLS.get(url)
    if described is None:
        described = _describe(url)
    attributes = {"http.request.method": method, **described}
    if attempt > 1:
        attributes["http.request.resend_count"] = attempt - 1
    span = tracer.start_span(method, kind=_trace.SpanKind.CLIENT, attributes=attributes)
    starts_run = (
        method == "POST"
        and "plivo.phlo_id" in described
        and ("plivo.node_id" not in described and "plivo.run_id" not in described)
    )
    return AttemptSpan(span, starts_run)


_URLS: dict[str, dict[str, Any]] = {}  # the SDK's URLs repeat: described once each


def _describe(url: str) -> dict[str, Any]:
    """A URL's span attributes: parsed once per URL (httpx.URL costs ~50 us)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # never any userinfo in url.full
    attributes: dict[str, Any] = {
        "url.full": urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)),
        "server.address": parts.hostname or "",
        "server.port": parts.port or (443 if parts.scheme == "https" else 80),
        **_phlo_ids(parts.path),
    }
    if len(_URLS) >= 1024:
        _URLS.clear()
    _URLS[url] = attributes
    return attributes


def _phlo_ids(path: str) -> dict[str, str]:
    """``plivo.phlo_id``, ``plivo.node_type``/``plivo.node_id`` and ``plivo.run_id``
    from an API path (``/account/{id}/phlo/{phlo}/{node_type}/{node}/...``)."""
    parts = path.split("/")
    ids: dict[str, str] = {}
    if "phlo" in parts:
        at = parts.index("phlo")
        rest = parts[at + 1 :]
        if rest and rest[0]:
            ids["plivo.phlo_id"] = rest[0]
        if len(rest) >= 3 and rest[1] == "runs" and rest[2]:
            ids["plivo.run_id"] = rest[2]
        elif len(rest) >= 3 and rest[2]:
            ids["plivo.node_type"] = rest[1]
            ids["plivo.node_id"] = rest[2]
    return ids


def _error_type(error: BaseException) -> str:
    """The conventions' ``error.type``: the exception's fully qualified class name."""
    cls = type(error)
    return (
        f"{cls.__module__}.{cls.__qualname__}"
        if cls.__module__ != "builtins"
        else (cls.__qualname__)
    )
