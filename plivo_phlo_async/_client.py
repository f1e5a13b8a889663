"""``PhloClient``: credentials, configuration, and the resources."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from ._base_client import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    INSECURE_HTTP_HOSTS_ENV,
    BaseClient,
    Requester,
    TimeoutTypes,
    check_base_url,
    coerce_deadline,
    coerce_timeout,
)
from ._base_client import (
    insecure_http_hosts as check_insecure_hosts,
)
from ._environment import check_ca_directory, check_environment_proxies, check_proxy
from ._exceptions import ConfigurationError
from ._ratelimit import DEFAULT_RATE_LIMIT, Limiter, RateLimit, make_limiter
from ._request_options import (
    ExtraBody,
    ExtraHeaders,
    ExtraQuery,
    RequestOptions,
    client_options,
)
from ._retry import RetryPolicy
from ._types import NOT_GIVEN, NotGiven
from ._validation import SURROGATE, check_path_id, is_int

# The bulk package loads on first use: in PhloClient.bulk, or when a bulk name
# is read from the package (plivo_phlo_async.JournalError). The resources, and
# with them the models and pydantic's machinery, load with the first client.
if TYPE_CHECKING:
    from .bulk import BulkRunner, CircuitBreaker, OutcomeCallback
    from .resources import Calls, PhloResource

DEFAULT_BASE_URL = "https://phlorunner.plivo.com/v1"
DEFAULT_VOICE_BASE_URL = "https://api.plivo.com/v1"
#: Read when ``base_url`` / ``voice_base_url`` are not given (pinned names).
BASE_URL_ENV = "PLIVO_PHLO_BASE_URL"
VOICE_BASE_URL_ENV = "PLIVO_API_BASE_URL"


class PhloClient(BaseClient):
    """An asyncio (and trio) client for Plivo's PHLO API and outbound calls.

    Credentials default to ``PLIVO_AUTH_ID`` and ``PLIVO_AUTH_TOKEN``, base
    URLs to ``PLIVO_PHLO_BASE_URL`` and ``PLIVO_API_BASE_URL`` (then Plivo's). One
    client owns one connection pool: create it once, share it, and close it
    with ``await client.aclose()`` or ``async with``; closing is final. An
    ``http_client`` you pass in is used as is and left open for you to close;
    it belongs to one event loop and must not be shared across ``os.fork()``.
    The SDK's own pools are per event loop and per process (a forked child
    never uses the parent's connections): see "Process models" in the README.

    ``timeout`` bounds each phase of an attempt (connect, write, the gap
    between two reads, the wait for a pool slot); ``attempt_deadline`` bounds
    an attempt whole (default: twice the read timeout), so a server dripping
    its answer a byte at a time cannot hold a request for long.

    Base URLs must use https, except for a loopback host (the local
    emulator). ``insecure_http_hosts`` (default: ``PLIVO_PHLO_INSECURE_HTTP_HOSTS``,
    comma-separated) names other hosts allowed over plain http, such as the
    emulator as a docker-compose service; each use is logged as a warning.

    A setting that cannot work raises :class:`ConfigurationError` naming the
    argument or the environment variable, before anything is sent: a wrong
    type, a credential that is not text, an auth id with ``:``, a proxy
    (``proxy``, or ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` for the SDK's own
    httpx client) that httpx could not use, or CA certificates
    (``SSL_CERT_FILE``/``SSL_CERT_DIR``) that do not load.

    ``rate_limit`` (a :class:`RateLimit`; default none) makes every request
    of this client, and of its bulk runners, wait for a start slot; a 429
    pauses all of them for its ``Retry-After``. With ``RateLimit(...,
    redis=URL)`` every process and machine on the account shares the limit
    (see :class:`RateLimit` for ``bulk_share``).

    ``default_headers`` are sent with every request (a ``User-Agent`` of your
    own replaces the SDK's); the headers that frame a request or carry the
    credentials stay the SDK's. Every method but ``Phlo.run`` also takes
    ``extra_headers=``, ``extra_query=`` and ``extra_body=`` for one request;
    ``with_options`` takes them for every request of a copy.
    """

    phlo: PhloResource
    """PHLOs: ``client.phlo.get(phlo_id)``, and ``client.phlo(phlo_id)`` for a :class:`Phlo`."""
    calls: Calls
    """Outbound calls through the Voice API: ``client.calls.create(...)``."""

    def __init__(
        self,
        auth_id: str | None = None,
        auth_token: str | None = None,
        *,
        base_url: str | None = None,
        voice_base_url: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        attempt_deadline: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        proxy: str | httpx.URL | httpx.Proxy | None = None,
        http_client: httpx.AsyncClient | None = None,
        insecure_http_hosts: str | Iterable[str] | None = None,
        rate_limit: RateLimit | None = None,
        default_headers: ExtraHeaders | None = None,
        _copy: _Copy | None = None,
    ) -> None:
        if _copy is None:
            auth_id = _credential("auth_id", auth_id, "PLIVO_AUTH_ID")
            auth_token = _credential("auth_token", auth_token, "PLIVO_AUTH_TOKEN")
            if base_url is None:
                base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
            if voice_base_url is None:
                voice_base_url = os.environ.get(VOICE_BASE_URL_ENV) or DEFAULT_VOICE_BASE_URL
            try:
                check_path_id(auth_id)
            except ValueError as exc:
                raise ConfigurationError(f"auth id is not valid: {exc}", field="auth_id") from None
            if ":" in auth_id:
                raise ConfigurationError(
                    "auth id must not contain ':' (in Basic credentials the first ':' ends the "
                    "id, RFC 7617)",
                    field="auth_id",
                )
            _check_retries(max_retries)
            if not is_int(max_connections) or max_connections < 1:
                raise ConfigurationError(
                    f"max_connections must be >= 1, not {max_connections!r}",
                    field="max_connections",
                )
            if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
                raise ConfigurationError(
                    "http_client must be an httpx.AsyncClient", field="http_client"
                )
            if proxy is not None:
                check_proxy(proxy)
            elif http_client is None:  # httpx reads these only for a client of the SDK's own
                check_environment_proxies()
            if http_client is None:
                check_ca_directory()
            insecure_hosts = check_insecure_hosts(
                insecure_http_hosts
                if insecure_http_hosts is not None
                else os.environ.get(INSECURE_HTTP_HOSTS_ENV)
            )
            headers = client_options(default_headers, names=_DEFAULT_HEADERS_NAMES)
            requester = Requester(
                auth_id=auth_id,
                auth_token=auth_token,
                http_client=http_client,
                max_connections=max_connections,
                proxy=proxy,
                default_headers=() if headers is None else headers.headers,
            )
            base_url = check_base_url("base_url", base_url, insecure_hosts)
            voice_base_url = check_base_url("voice_base_url", voice_base_url, insecure_hosts)
        else:  # a with_options copy: the pool, account and URLs are its client's, checked
            parent = _copy.client
            requester, auth_id = parent._requester, parent._auth_id
            base_url, voice_base_url = parent._base_url, parent._voice_base_url
            _check_retries(max_retries)
        shared = None if _copy is None else _copy.limiter
        super().__init__(
            requester=requester,
            auth_id=auth_id,
            base_url=base_url,
            voice_base_url=voice_base_url,
            timeout=coerce_timeout(timeout),
            attempt_deadline=coerce_deadline(attempt_deadline),
            retry=RetryPolicy(max_retries=max_retries),
            limiter=_limiter_for(rate_limit, auth_id) if shared is None else shared,
            options=None if _copy is None else _copy.options,
        )
        self._owns_pool = _copy is None
        self._owns_limiter = shared is None
        from .resources import Calls, PhloResource  # with the first client, not at import

        self.phlo = PhloResource(self)
        self.calls = Calls(self)

    @property
    def auth_id(self) -> str:
        """The Plivo account id every request is made for (the token is never shown)."""
        return self._auth_id

    @property
    def base_url(self) -> str:
        """The PHLO API's base URL (``.../v1``), checked to be https or an allowed host."""
        return self._base_url

    @property
    def voice_base_url(self) -> str:
        """The Voice API's base URL, where ``calls.create`` sends."""
        return self._voice_base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The per-phase timeout of every attempt (connect, write, read, pool)."""
        return self._timeout

    @property
    def attempt_deadline(self) -> float | None:
        """The bound on one attempt in seconds (None: no bound), resolved from the default."""
        return self._default_deadline

    @property
    def max_retries(self) -> int:
        """How many times a failed request may be retried (a POST only when never sent)."""
        return self._retry.max_retries

    @property
    def is_closed(self) -> bool:
        """Whether the client is closed: every request then raises :class:`ClientClosedError`."""
        return self._requester.is_closed

    @property
    def rate_limit(self) -> RateLimit | None:
        """The limit every request of this client waits for (None: none)."""
        return None if self._limiter is None else self._limiter.limit

    @property
    def limiter(self) -> Limiter | None:
        """The limiter behind :attr:`rate_limit`, shared with ``with_options`` copies
        and with this client's bulk runners."""
        return self._limiter

    def with_options(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        attempt_deadline: float | None = None,
        max_retries: int | None = None,
        rate_limit: RateLimit | NotGiven | None = NOT_GIVEN,
        default_headers: ExtraHeaders | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> PhloClient:
        """A client with other defaults that shares this one's connection pool.

        Closing the copy leaves the pool open; the original client owns it,
        and once it is closed every copy is closed too. The copy shares this
        client's limiter unless ``rate_limit`` is given (None: no limit).

        ``default_headers`` and ``extra_headers`` are sent with every request
        of the copy, ``extra_query`` added to every URL, and ``extra_body``
        merged into every JSON body (POSTs: runs, actions, calls), on top of
        this client's; a method's own ``extra_...`` arguments go on top of
        them. This is how ``Phlo.run``, whose keywords are all payload, gets
        them: ``client.with_options(extra_headers={...}).phlo(id).run(...)``.

        Sends nothing, so nothing to retry. Raises :class:`ConfigurationError` for a
        setting, header, query parameter or body key that cannot work.
        """
        options = self._options
        for more in (
            client_options(default_headers, names=_DEFAULT_HEADERS_NAMES),
            client_options(extra_headers, extra_query, extra_body),
        ):
            if more is not None:
                options = more if options is None else options.merged(more)
        share_limiter = isinstance(rate_limit, NotGiven)
        return PhloClient(  # the constructor, so a copy is made as every client is
            timeout=self._timeout if timeout is None else timeout,
            attempt_deadline=self._attempt_deadline
            if attempt_deadline is None
            else attempt_deadline,
            max_retries=self.max_retries if max_retries is None else max_retries,
            rate_limit=None if isinstance(rate_limit, NotGiven) else rate_limit,
            _copy=_Copy(self, options, self._limiter if share_limiter else None),
        )

    def bulk(
        self,
        jobs: Iterable[Any] | AsyncIterable[Any],
        *,
        phlo_id: str | None = None,
        concurrency: int = 64,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        journal: str | os.PathLike[str] | None = None,
        max_retries: int | None = None,
        on_outcome: OutcomeCallback | None = None,
        retry_failed: bool = False,
        circuit_breaker: CircuitBreaker | None = None,
        lease: float = 30.0,
    ) -> BulkRunner:
        """A :class:`~plivo_phlo_async.bulk.BulkRunner` for many jobs; nothing is sent yet.

        ``jobs`` is any iterable or async iterable of ``RunJob``,
        ``NodeActionJob`` or ``MemberActionJob`` (with ``phlo_id``, plain
        mappings are run payloads for that PHLO). ``rate_limit`` left as
        ``DEFAULT_RATE_LIMIT`` is this client's limit when it has one (the
        runner then shares its limiter, taking at most its ``bulk_share``),
        else Plivo's 300 requests per 5 s (None: no limit); ``max_retries`` None
        means this client's; ``circuit_breaker`` None means the default
        ``CircuitBreaker()``; ``lease`` is how many seconds the journal's
        claims on jobs outlive this run if it dies (another runner then takes
        over its unsent jobs). See :mod:`plivo_phlo_async.bulk`.

        Sends nothing until the runner is run; it retries only what was never sent
        and reports every job's :class:`~plivo_phlo_async.bulk.Outcome`. Raises
        :class:`ConfigurationError` for a setting that cannot work.
        """
        from .bulk import DEFAULT_CIRCUIT_BREAKER, BulkRunner, RunOptions

        if circuit_breaker is None:
            circuit_breaker = DEFAULT_CIRCUIT_BREAKER
        return BulkRunner._of(self, jobs, RunOptions.of(locals()))

    async def aclose(self) -> None:
        """Close the client for good (an ``http_client`` passed in is left open).

        A copy made by :meth:`with_options` does not close the pool it shares.
        Sends nothing; requests made after it raise :class:`ClientClosedError`.
        """
        try:
            if self._owns_pool:
                await self._requester.aclose()
        finally:
            if self._owns_limiter and self._limiter is not None:
                await self._limiter.aclose()

    async def __aenter__(self) -> PhloClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"PhloClient(auth_id={self._auth_id!r}, base_url={self._base_url!r}, "
            f"voice_base_url={self._voice_base_url!r}, max_retries={self.max_retries})"
        )


_DEFAULT_HEADERS_NAMES = ("default_headers", "extra_query", "extra_body")


@dataclasses.dataclass(frozen=True, slots=True)
class _Copy:
    """What :meth:`PhloClient.with_options` hands the constructor of its copy:
    the client whose pool, account and URLs it shares (checked when that
    client was made), the request options it sends, and the limiter it
    shares (None: it has its own ``rate_limit``, or none)."""

    client: PhloClient
    options: RequestOptions | None
    limiter: Limiter | None


def _credential(field: str, value: object, variable: str) -> str:
    """``value``, else the environment's; refused unless it is text that can be sent.

    A byte that is not UTF-8 in the environment arrives as a lone surrogate,
    which no encoding can send. The value itself is never quoted: it may be the token.
    """
    if value is None:
        value = os.environ.get(variable)
    what = field.replace("_", " ")
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{field} must be a str, not {type(value).__name__}", field=field)
    if not value:
        raise ConfigurationError(f"no {what}: pass {field} or set {variable}", field=field)
    if SURROGATE.search(value):
        raise ConfigurationError(
            f"{what} ({field} or {variable}) is not valid text: it holds a byte that is "
            "not UTF-8 (a lone surrogate)",
            field=field,
        )
    return value


def _limiter_for(rate_limit: object, auth_id: str) -> Limiter | None:
    if rate_limit is None:
        return None
    if not isinstance(rate_limit, RateLimit):
        raise ConfigurationError(
            f"rate_limit must be a RateLimit or None, not {type(rate_limit).__name__}",
            field="rate_limit",
        )
    return make_limiter(rate_limit, auth_id)


def _check_retries(max_retries: object) -> None:
    if not is_int(max_retries) or max_retries < 0:
        raise ConfigurationError(
            f"max_retries must be an integer >= 0, not {max_retries!r}", field="max_retries"
        )


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_VOICE_BASE_URL", "PhloClient"]
