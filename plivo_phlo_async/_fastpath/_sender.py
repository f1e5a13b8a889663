"""The seam: which path one attempt of a request takes.

Both paths keep one contract: failures are ``httpx.TransportError``
subclasses carrying the request, and answers are :class:`~._answer.Answer`
objects whose body is capped and decoded the same way.

* The fast path (:class:`~._pool.FastPool`): the default under asyncio for the
  client's own pool.
* httpx: the ``httpx.AsyncClient`` (the SDK's own or an injected one). Used
  under trio, with a proxy (argument or environment), for an injected
  ``http_client`` (always honoured), and while httpx's transports are patched
  by a mocking library (respx, pytest-httpx) so that the mock sees every
  request.
* httpx over :class:`~._transport.FastTransport`: the client's own pool under
  asyncio while OpenTelemetry's httpx instrumentation (and nothing else) has
  patched httpx: whatever wraps ``httpx.AsyncClient`` still sees each request,
  at the fast pool's speed (the SDK's own spans, :mod:`.._tracing`, trace it).
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Mapping
from typing import Final

import anyio
import httpcore
import httpx
import sniffio

from .._exceptions import ClientClosedError
from ._answer import MAX_BODY_BYTES, Answer, decode_body
from ._pool import FastPool
from ._transport import ATTEMPT_DEADLINE, FastTransport

__all__ = ["Sender", "httpx_instrumented", "httpx_is_patched", "proxy_in_environment"]

# Attributes that mocking libraries replace: respx (httpcore's pool, or
# AsyncClient._transport_for_url), pytest-httpx (httpx's transport).
_PATCH_POINTS: Final = (
    (httpcore.AsyncConnectionPool, "handle_async_request"),
    (httpx.AsyncHTTPTransport, "handle_async_request"),
    (httpx.AsyncClient, "_transport_for_url"),
    (httpx.AsyncClient, "send"),
)


_URL_CACHE_SIZE: Final = 1024


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


def httpx_is_patched() -> bool:
    """True while a mocking library has replaced part of httpx's send path."""
    for namespace, name, original in _UNPATCHED:  # noqa: SIM110 (any() is slower per request)
        if namespace.get(name) is not original:
            return True
    return False


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
    return patched


def proxy_in_environment() -> bool:
    """httpx honours HTTP(S)_PROXY/ALL_PROXY; the fast path does not speak to proxies."""
    return any(key in ("http", "https", "all") for key in urllib.request.getproxies())


class Sender:
    """Sends one attempt of a request by the fast path or through httpx.

    The fast path is chosen per request: only under asyncio, only for the
    client's own pool (no injected ``http_client``), without a proxy, and not
    while httpx is patched by a mock. Its pool is created lazily inside the
    running loop, so a client may be constructed outside any event loop.
    Closing is final: a closed sender never opens another pool.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient,
        fast_allowed: bool,
        max_connections: int,
        get_headers: Mapping[str, str],
        post_headers: Mapping[str, str],
    ) -> None:
        self.http_client = http_client
        self.fast_allowed = fast_allowed and not proxy_in_environment()
        self.closed = False
        self._max_connections = max_connections
        self._get_headers = get_headers
        self._post_headers = post_headers
        # Built once: httpx copies an httpx.Headers without normalising it again.
        self._httpx_get_headers = httpx.Headers(get_headers)
        self._httpx_post_headers = httpx.Headers(post_headers)
        self._fast: FastPool | None = None
        self._instrumented: httpx.AsyncClient | None = None
        self._instrumented_loop: asyncio.AbstractEventLoop | None = None
        # The SDK's URLs repeat: parsed once each, not by every build_request.
        self._urls: dict[str, httpx.URL] = {}

    def fast_pool(self) -> FastPool | None:
        """The pool the next request in this task would use, or None for httpx."""
        if not self.fast_allowed or httpx_is_patched():
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio, or no loop
            return None
        fast = self._fast
        if fast is not None and fast.loop is loop:
            return fast
        try:
            if sniffio.current_async_library() != "asyncio":
                return None
        except sniffio.AsyncLibraryNotFoundError:
            return None
        if fast is not None and not fast.loop.is_closed():
            return None  # in use by another running loop: share nothing, use httpx here
        if self.closed:
            return None
        self._fast = FastPool(
            loop,
            max_connections=self._max_connections,
            get_headers=self._get_headers,
            post_headers=self._post_headers,
        )
        return self._fast

    async def send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        timeout: httpx.Timeout,
        deadline: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One attempt, bounded whole by ``deadline`` seconds (None: no bound).

        ``headers`` replace the client's whole header set for this request
        (None: the client's own, whose encoding the fast path keeps cached).
        """
        if self.closed:
            raise ClientClosedError("the client is closed; create a new PhloClient")
        fast = self.fast_pool()
        if fast is not None:
            return await fast.send(method, url, content, timeout, deadline, headers)
        http_client = self.http_client
        if self.fast_allowed and httpx_instrumented():
            http_client = self._instrumented_client() or http_client
        if headers is None:
            headers = self._get_headers if content is None else self._post_headers
            httpx_headers = self._httpx_get_headers if content is None else self._httpx_post_headers
        else:
            httpx_headers = httpx.Headers(headers)
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        request = http_client.build_request(
            method, parsed, headers=httpx_headers, content=content, timeout=timeout
        )
        if deadline is None:
            return await self._send_httpx(http_client, request, url, headers, content)
        if _sent_by_fast_transport(http_client, parsed):
            # The pool bounds the exchange itself: no cancel scope per request.
            request.extensions[ATTEMPT_DEADLINE] = deadline
            return await self._send_httpx(http_client, request, url, headers, content)
        try:
            with anyio.fail_after(deadline):
                return await self._send_httpx(http_client, request, url, headers, content)
        except TimeoutError:
            # Where httpx was when time ran out is not known: treat it as sent.
            raise httpx.ReadTimeout(
                "timed out: the attempt deadline passed", request=request
            ) from None

    def _instrumented_client(self) -> httpx.AsyncClient | None:
        """The client's own httpx client over :class:`FastTransport`, for this loop
        (None where it cannot run: trio, or a closed sender)."""
        try:
            if sniffio.current_async_library() != "asyncio" or self.closed:
                return None
            loop = asyncio.get_running_loop()
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):
            return None
        client = self._instrumented
        if client is not None and self._instrumented_loop is loop:
            return client
        if (
            client is not None
            and self._instrumented_loop is not None
            and (not self._instrumented_loop.is_closed())
        ):
            return None  # bound to another running loop: the plain httpx client here
        self._instrumented_loop = loop
        self._instrumented = httpx.AsyncClient(
            transport=FastTransport(self._max_connections), follow_redirects=False
        )
        return self._instrumented

    async def _send_httpx(
        self,
        http_client: httpx.AsyncClient,
        request: httpx.Request,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> Answer:
        """Send through httpx, reading the body raw so that it is capped and decoded
        like the fast path's (httpx would raise on a coding it cannot undo and lose
        the status)."""
        response = await http_client.send(request, stream=True)
        raw_headers = list(response.headers.raw)
        try:
            body = response.content  # read (and decoded) already: a mock's answer
        except httpx.ResponseNotRead:
            body = decode_body(raw_headers, await _read_raw(response, request))
        reason = response.extensions.get("reason_phrase", b"")
        return Answer(
            response.status_code,
            reason if isinstance(reason, bytes) else b"",
            raw_headers,
            body,
            request.method,
            url,
            headers,
            content,
            request=request,
        )

    async def aclose(self) -> None:
        self.closed = True
        instrumented, self._instrumented = self._instrumented, None
        if instrumented is not None:
            await instrumented.aclose()
        fast, self._fast = self._fast, None
        if fast is None or fast.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if fast.loop is running:
            await fast.aclose()
        else:  # closed from another loop or thread: close in the pool's own loop
            fast.loop.call_soon_threadsafe(fast.abort_all)


def _sent_by_fast_transport(http_client: httpx.AsyncClient, url: httpx.URL) -> bool:
    """Whether ``http_client`` sends ``url`` through a :class:`FastTransport`
    (which honours the ``attempt_deadline`` extension), as far as can be told."""
    try:
        transport = http_client._transport_for_url(url)
    except Exception:  # httpx's internals changed: bound the attempt the generic way
        return False
    return isinstance(transport, FastTransport)


async def _read_raw(response: httpx.Response, request: httpx.Request) -> bytes:
    """The body as sent, at most :data:`MAX_BODY_BYTES`; the response is closed after."""
    try:
        chunks: list[bytes] = []
        size = 0
        stream = response.stream
        # The stream itself, as aiter_raw reads it, without its per-request bookkeeping.
        chunks_read = stream if isinstance(stream, httpx.AsyncByteStream) else response.aiter_raw()
        async for chunk in chunks_read:
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise httpx.RemoteProtocolError("response body too large", request=request)
            chunks.append(chunk)
    finally:
        await response.aclose()
    return b"".join(chunks)
