"""The HTTP layer: one connection pool, retries, timeouts, errors.

Resources hand this module a method, an absolute URL and an optional JSON
body; it sends the request with the SDK's headers, applies the retry policy of
:mod:`._retry` and returns the decoded JSON answer or raises a typed error.
Nothing here knows about PHLOs.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import math
import platform
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx
from pydantic import ValidationError

from ._environment import ca_error
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CannotConnectError,
    ClientClosedError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    ConnectTimeoutError,
    InternalServerError,
    InvalidParameterError,
    MethodNotAllowedError,
    NameResolutionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
)
from ._headers import ResponseHeaders
from ._httpx_patches import httpx_is_patched  # noqa: F401 - takes httpx's own methods now
from ._ratelimit import Limiter
from ._request_options import RequestOptions
from ._retry import (
    IDEMPOTENT_METHODS,
    RetryPolicy,
    may_have_been_sent,
    parse_retry_after,
    retryable_error,
    retryable_status,
)
from ._tracing import load_opentelemetry, start_attempt
from ._validation import describe, is_number, validate_path_id
from ._version import __version__

# The fast path (asyncio, its protocols) and the models (pydantic's machinery)
# load with the first client, not with ``import plivo_phlo_async``.
if TYPE_CHECKING:
    from ._fastpath import Answer
    from .types._base import PlivoObject

logger = logging.getLogger("plivo_phlo_async")

#: Bounded by default: a hung connection must not hold a bulk run forever.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)
DEFAULT_MAX_RETRIES = 2
#: The longest one attempt may take, as a multiple of the read timeout: the read
#: timeout bounds the gap between two reads, so a server dripping a byte at a
#: time could otherwise hold a request (and a bulk job) for hours.
ATTEMPT_DEADLINE_READS = 2.0
DEFAULT_MAX_CONNECTIONS = 100
USER_AGENT = (
    f"plivo-phlo-async/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
)

_STATUS_ERRORS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    408: RequestTimeoutError,
    429: RateLimitError,
}

# Indirection so tests can observe the waits without sleeping.
_sleep = anyio.sleep

TimeoutTypes = float | httpx.Timeout
ModelT = TypeVar("ModelT", bound="PlivoObject")


class _RedactedHeaders(dict[str, str]):
    """Request headers whose repr never shows the credentials."""

    def __repr__(self) -> str:
        shown = {k: ("[redacted]" if k.lower() == "authorization" else v) for k, v in self.items()}
        return repr(shown)


def with_headers(
    headers: Mapping[str, str], extra: tuple[tuple[str, str], ...]
) -> _RedactedHeaders:
    """``headers`` with ``extra`` replacing any of the same name (names ignore case)."""
    replaced = {name.lower() for name, _ in extra}
    merged = _RedactedHeaders(
        {name: value for name, value in headers.items() if name.lower() not in replaced}
    )
    merged.update(extra)
    return merged


#: Non-loopback hosts a client may reach over plain http (comma-separated), e.g.
#: the emulator as a docker-compose service: ``PLIVO_PHLO_INSECURE_HTTP_HOSTS=emulator``.
INSECURE_HTTP_HOSTS_ENV = "PLIVO_PHLO_INSECURE_HTTP_HOSTS"


def insecure_http_hosts(value: object) -> frozenset[str]:
    """The host names a client may reach over plain http, checked and lowercased.

    ``value`` is a host name, a comma-separated list of them, or an iterable of
    host names (None: none).
    """
    if value is None:
        return frozenset()
    if isinstance(value, str):
        names: list[object] = list(value.split(","))
    elif isinstance(value, (list, tuple, set, frozenset)):
        names = list(value)
    else:
        raise ConfigurationError(
            "insecure_http_hosts must be host names (a string or a list of strings)",
            field="insecure_http_hosts",
        )
    hosts = set()
    for name in names:
        if not isinstance(name, str):
            raise ConfigurationError(
                f"insecure_http_hosts must hold host names, not {type(name).__name__}",
                field="insecure_http_hosts",
            )
        host = name.strip().lower()
        if not host:
            continue
        if not all(part.isalnum() or part in "-._[]:" for part in host) or not host.isascii():
            raise ConfigurationError(
                f"insecure_http_hosts: {describe(name)} is not a host name",
                field="insecure_http_hosts",
            )
        hosts.add(host)
    return frozenset(hosts)


def check_base_url(name: str, url: str, insecure_hosts: frozenset[str] = frozenset()) -> str:
    """Require https, except for a loopback host (the local emulator) or a host
    the caller named in ``insecure_hosts`` (logged as a warning)."""
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, TypeError, UnicodeError) as exc:
        raise ConfigurationError(f"{name} is not a valid URL: {url!r}", field=name) from exc
    if parsed.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, got {url!r}", field=name)
    if parsed.port is not None and not 0 < parsed.port < 65536:
        # httpx parses any number; connecting would raise a raw OverflowError (0: port 80)
        raise ConfigurationError(f"{name} has a port outside 1-65535: {url!r}", field=name)
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise ConfigurationError(
            f"{name} must not carry credentials, a query or a fragment", field=name
        )
    if not host.startswith("[") and any(len(label) > 63 for label in host.rstrip(".").split(".")):
        raise ConfigurationError(
            f"{name} has a host name label longer than 63 characters: {url!r}", field=name
        )
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        if parsed.host.lower() not in insecure_hosts:
            raise ConfigurationError(
                f"{name} must use https (plain http is only allowed for a loopback host, or "
                f"a host named in insecure_http_hosts / {INSECURE_HTTP_HOSTS_ENV}), got {url!r}",
                field=name,
            )
        logger.warning(
            "%s uses plain http to %s: the auth token and every payload cross the network "
            "unencrypted (allowed by insecure_http_hosts / %s)",
            name,
            parsed.host,
            INSECURE_HTTP_HOSTS_ENV,
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive_seconds(value: object) -> bool:
    if not is_number(value):
        return False
    try:
        seconds = float(value)  # an int too large for a float is no timeout either
    except OverflowError:
        return False
    return math.isfinite(seconds) and seconds > 0


def coerce_timeout(timeout: TimeoutTypes, *, per_call: bool = False) -> httpx.Timeout:
    """A validated ``httpx.Timeout``: every phase finite and > 0, or None (no limit).

    Raises :class:`ConfigurationError` for a client's setting and
    :class:`InvalidParameterError` for a per-call argument, both naming ``timeout``.
    """
    if isinstance(timeout, httpx.Timeout):
        phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        if all(phase is None or _positive_seconds(phase) for phase in phases):
            return timeout
    elif _positive_seconds(timeout):
        return httpx.Timeout(timeout)
    reason = f"must be a finite number of seconds > 0 or an httpx.Timeout, not {describe(timeout)}"
    if per_call:
        raise InvalidParameterError("timeout", reason)
    raise ConfigurationError(f"timeout {reason}", field="timeout")


def coerce_deadline(deadline: float | None) -> float | None:
    """A validated ``attempt_deadline`` (None: twice the read timeout)."""
    if deadline is None or _positive_seconds(deadline):
        return deadline
    raise ConfigurationError(
        "attempt_deadline must be a finite number of seconds > 0 or None, "
        f"not {describe(deadline)}",
        field="attempt_deadline",
    )


def resolve_deadline(timeout: httpx.Timeout, deadline: float | None) -> float | None:
    """The bound on one attempt: the one set, else twice the read timeout."""
    if deadline is not None:
        return deadline
    return None if timeout.read is None else timeout.read * ATTEMPT_DEADLINE_READS


class Requester:
    """Sends the SDK's requests, with retries, through one pool: the fast path
    of :mod:`._fastpath` under asyncio, else one ``httpx.AsyncClient``.

    Shared by a client and every copy made with ``with_options``; only the
    client that created it closes it, and closing is final for all of them.
    """

    def __init__(
        self,
        *,
        auth_id: str,
        auth_token: str,
        http_client: httpx.AsyncClient | None,
        max_connections: int,
        proxy: str | httpx.URL | httpx.Proxy | None,
        default_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        from ._fastpath import KEEPALIVE_EXPIRY, Sender

        load_opentelemetry()
        #: Internal: what ``plivo_phlo_async.webhooks`` checks Plivo's signatures with.
        self.auth_token = auth_token
        credentials = base64.b64encode(f"{auth_id}:{auth_token}".encode()).decode("ascii")
        # Built once: every request reuses the same header objects, the caller's
        # default_headers (checked) included, so they cost nothing per request.
        self.get_headers = with_headers(
            {
                "Authorization": f"Basic {credentials}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            default_headers,
        )
        self.post_headers = with_headers(
            {**self.get_headers, "Content-Type": "application/json"}, default_headers
        )
        self.owns_client = http_client is None

        def make_http_client() -> httpx.AsyncClient:
            return httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=max_connections,
                    max_keepalive_connections=max_connections,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
                proxy=proxy,
                timeout=DEFAULT_TIMEOUT,
                follow_redirects=False,
            )

        def own_http_client(*, sending: bool = True) -> httpx.AsyncClient:
            """The SDK's own httpx client: at construction, then for each further loop.

            httpx loads the CA certificates here: unloadable ones are a
            ConfigurationError; no free descriptor is, while sending, a connect
            error (nothing sent, retried) and at construction the OSError itself.
            """
            try:
                return make_http_client()
            except OSError as exc:
                error = ca_error(exc)
                if error is not None:
                    raise error from exc
                if not sending:
                    raise
                raise httpx.ConnectError(f"cannot set up TLS: {exc}") from exc

        # The seam (see _fastpath): under asyncio the client's own pool is the
        # fast path; an injected client, a proxy or trio go through httpx. The
        # SDK's own pools and httpx clients are per event loop and per process.
        self.sender = Sender(
            http_client=own_http_client(sending=False) if http_client is None else http_client,
            fast_allowed=self.owns_client and proxy is None,
            max_connections=max_connections,
            get_headers=self.get_headers,
            post_headers=self.post_headers,
            make_http_client=own_http_client if self.owns_client else None,
        )

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The injected ``httpx.AsyncClient``, or the SDK's own (the first one made)."""
        return self.sender.http_client

    @property
    def is_closed(self) -> bool:
        if self.sender.closed:
            return True
        return not self.owns_client and self.sender.http_client.is_closed

    async def aclose(self) -> None:
        """Close for good: every pool, and the ``httpx.AsyncClient``s the SDK made."""
        await self.sender.aclose()

    async def request(  # noqa: C901 - every exit of an attempt in one loop, on purpose
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        timeout: httpx.Timeout,
        deadline: float | None,
        retry: RetryPolicy,
        limiter: Limiter | None = None,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> Answer:
        """Send one logical request, retrying only where that is safe.

        ``content`` is the JSON body, encoded once by the resource that
        validated it; ``deadline`` bounds each attempt whole, in seconds.
        With a ``limiter``, every attempt waits for a start slot first, and a
        429 pauses everyone sharing the limiter for its ``Retry-After``.
        ``extra_headers`` (checked) replace or add to the client's headers.
        """
        send = self.sender.send
        headers = None
        if extra_headers:
            headers = with_headers(
                self.get_headers if content is None else self.post_headers, extra_headers
            )
        attempts = retry.max_retries + 1
        debug = logger.isEnabledFor(logging.DEBUG)
        for attempt in range(1, attempts + 1):
            if self.is_closed:
                raise ClientClosedError("the client is closed; create a new PhloClient")
            if limiter is not None and limiter.try_acquire() is None:
                await limiter.acquire()  # a RateLimiterUnavailableError: nothing sent
            started = time.perf_counter()
            span = start_attempt(method, url, attempt)
            try:
                response = await send(method, url, content, timeout, deadline, headers)
            except httpx.TransportError as exc:
                if span is not None:
                    span.failed(exc)
                sent = may_have_been_sent(exc) and method not in IDEMPOTENT_METHODS
                if self.is_closed and not sent:  # closed under it: nothing more is sent
                    raise ClientClosedError(
                        "the client was closed while the request was in flight"
                    ) from exc
                if attempt == attempts or not retryable_error(exc, method):
                    if debug:
                        _log_attempt(method, url, attempt, attempts, repr(exc), started, None)
                    raise _transport_error(exc, method, url, attempt) from exc
                delay = retry.backoff(attempt)
                if debug:
                    _log_attempt(method, url, attempt, attempts, repr(exc), started, delay)
                await _sleep(delay)
                continue
            except BaseException as exc:  # cancelled, or closed under it: no answer
                if span is not None:
                    span.failed(exc)
                raise
            if span is not None:
                span.answered(response)
            status = response.status_code
            if 200 <= status < 300:
                if debug:
                    _log_attempt(method, url, attempt, attempts, str(status), started, None)
                return response

            full = response.to_httpx()  # errors carry the full httpx.Response
            retry_after = parse_retry_after(full.headers.get("retry-after"))
            if status == 429:
                delay = retry.rate_limit_delay(retry_after, attempt)
                if limiter is not None:  # the limit is the account's: everyone waits
                    await limiter.pause(delay)
            else:
                delay = retry.backoff(attempt)
            if attempt == attempts or not retryable_status(status, method):
                if debug:
                    _log_attempt(method, url, attempt, attempts, str(status), started, None)
                raise _status_error(full, method, retry_after, attempt)
            if debug:
                _log_attempt(method, url, attempt, attempts, str(status), started, delay)
            if status != 429 or limiter is None:  # else the next acquire waits the pause
                await _sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")


class BaseClient:
    """What every resource needs: where to send, how long to wait, how often
    to retry, and the transport that does it."""

    def __init__(
        self,
        *,
        requester: Requester,
        auth_id: str,
        base_url: str,
        voice_base_url: str,
        timeout: httpx.Timeout,
        attempt_deadline: float | None,
        retry: RetryPolicy,
        limiter: Limiter | None = None,
        options: RequestOptions | None = None,
    ) -> None:
        self._requester = requester
        self._limiter = limiter
        self._options = options
        self._auth_id = auth_id
        self._base_url = base_url
        self._voice_base_url = voice_base_url
        self._timeout = timeout
        self._attempt_deadline = attempt_deadline
        self._default_deadline = resolve_deadline(timeout, attempt_deadline)
        self._retry = retry
        account = validate_path_id("auth_id", auth_id)
        # The URLs that embed the account are built once, not per request.
        self._account_url = f"{base_url}/account/{account}"
        self._voice_call_url = f"{voice_base_url}/Account/{account}/Call/"

    @property
    def _auth_token(self) -> str:
        """Internal, for :mod:`plivo_phlo_async.webhooks` only: the account's auth
        token, which signs Plivo's callbacks. Never shown (not in ``repr``)."""
        return self._requester.auth_token

    async def _request(
        self,
        method: str,
        url: str,
        cast_to: type[ModelT],
        *,
        content: bytes | None = None,
        timeout: TimeoutTypes | None = None,
        options: RequestOptions | None = None,
    ) -> ModelT:
        if timeout is None:
            resolved, deadline = self._timeout, self._default_deadline
        else:
            resolved = coerce_timeout(timeout, per_call=True)
            deadline = resolve_deadline(resolved, self._attempt_deadline)
        if self._options is not None:
            options = self._options.merged(options)
        extra_headers: tuple[tuple[str, str], ...] = ()
        if options is not None:  # the escape hatches: checked when they were given
            url = options.url(url)
            if content is not None:
                content = options.content(content)
            extra_headers = options.headers
        response = await self._requester.request(
            method,
            url,
            content=content,
            timeout=resolved,
            deadline=deadline,
            retry=self._retry,
            limiter=self._limiter,
            extra_headers=extra_headers,
        )
        return _parse_success(response, cast_to)


def _log_attempt(
    method: str,
    url: str,
    attempt: int,
    attempts: int,
    outcome: str,
    started: float,
    retry_in: float | None,
) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    suffix = "" if retry_in is None else f"; retrying in {retry_in:.2f} s"
    logger.debug(
        "%s %s attempt %d/%d: %s in %.1f ms%s",
        method,
        url,
        attempt,
        attempts,
        outcome,
        elapsed_ms,
        suffix,
    )


def _parse_success(response: Answer, cast_to: type[ModelT]) -> ModelT:
    """Decode a 2xx answer into its model; the request did succeed either way."""
    try:
        data = json.loads(response.content) if response.content else {}
        model = cast_to.model_validate(data)
    # json.JSONDecodeError, pydantic's ValidationError, and RecursionError for a
    # body nested deeper than the parser (or the model) can follow.
    except (ValueError, RecursionError) as exc:
        full = response.to_httpx()
        if isinstance(exc, ValidationError):
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            reason = f"{where}: {first['msg']}" if where else first["msg"]
            problem = f"does not match {cast_to.__name__} ({reason})"
        elif isinstance(exc, RecursionError):
            problem = "is nested too deeply to read"
        else:
            problem = "is not JSON"
        raise APIResponseValidationError(
            f"{full.request.method} {full.request.url} answered "
            f"{full.status_code} with a body that {problem}; "
            "the request succeeded, do not send it again",
            response=full,
        ) from exc
    model._http_status = response.status_code
    model._http_headers = ResponseHeaders(response.headers)
    return model


def _decode_error_body(response: httpx.Response) -> Any:
    """The error answer's JSON, or None when it has none we can read (not JSON,
    or nested deeper than the parser follows): the status error is raised anyway."""
    try:
        return json.loads(response.content) if response.content else None
    except (ValueError, RecursionError):
        return None


def _status_error(
    response: httpx.Response, method: str, retry_after: float | None, attempts: int
) -> APIStatusError:
    status = response.status_code
    body = _decode_error_body(response)
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("error") or body.get("message") or "")
    elif response.content:
        detail = response.text[:200]
    summary = f"{status} {response.reason_phrase}".strip()
    text = f"{method} {response.request.url} failed with {summary}"
    if detail:
        text += f": {detail}"
    if attempts > 1:
        text += f" (after {attempts} attempts)"

    unknown = method not in IDEMPOTENT_METHODS and (status == 408 or status >= 500)
    if unknown:
        text += "; outcome unknown: Plivo may have executed it, so it was not retried"
        cls: type[APIStatusError] = (
            StatusOutcomeUnknownError if status == 408 else ServerOutcomeUnknownError
        )
        return cls(text, response=response, body=body)
    if status == 429:
        return RateLimitError(text, response=response, body=body, retry_after=retry_after)
    cls = _STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(text, response=response, body=body)


def _transport_error(
    error: httpx.TransportError, method: str, url: str, attempts: int
) -> APIConnectionError:
    request = _request_of(error)
    reason = str(error) or type(error).__name__
    unresolved = _unresolved_host(error, request) if isinstance(error, httpx.ConnectError) else None
    if unresolved is not None and "cannot resolve host name" not in reason:  # httpx's path
        reason = f"cannot resolve host name {unresolved!r}: {reason}"
    text = f"{method} {url} failed: {reason}"
    if attempts > 1:
        text += f" (after {attempts} attempts)"
    timed_out = isinstance(error, httpx.TimeoutException)
    if method not in IDEMPOTENT_METHODS and may_have_been_sent(error):
        text += "; outcome unknown: Plivo may have executed it, so it was not retried"
        if timed_out:
            return TimeoutOutcomeUnknownError(text, request=request)
        return ConnectionOutcomeUnknownError(text, request=request)
    # Never sent. Only a failure to reach the API at all is a CannotConnectError:
    # a pool timeout (the pool was busy) or a request refused locally is not.
    if unresolved is not None:
        return NameResolutionError(text, host=unresolved, request=request)
    if isinstance(error, httpx.ConnectTimeout):
        return ConnectTimeoutError(text, request=request)
    if timed_out:
        return APITimeoutError(text, request=request)
    if isinstance(error, (httpx.ConnectError, httpx.ProxyError)):
        return CannotConnectError(text, request=request)
    return APIConnectionError(text, request=request)


def _unresolved_host(error: BaseException, request: httpx.Request | None) -> str | None:
    """The host name, when the connect failed because it did not resolve.

    Both paths chain the resolver's ``socket.gaierror`` under the
    ``httpx.ConnectError`` (httpx through httpcore's own ConnectError).
    """
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, socket.gaierror):
            return request.url.host if request is not None else "(unknown)"
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _request_of(error: httpx.TransportError) -> httpx.Request | None:
    try:
        return error.request
    except RuntimeError:  # httpx raises when the error carries no request
        return None
