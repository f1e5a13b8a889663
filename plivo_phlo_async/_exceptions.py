"""The error hierarchy.

Everything the SDK raises derives from :class:`PlivoError`. Bad input is caught
before any request is sent and raises a :class:`ValueError` subclass; failures
that come back from Plivo (or never get there) raise an :class:`APIError`.

A request that may have reached Plivo but whose answer was lost (a POST that
got a 5xx or 408, timed out while reading, or lost its connection after
sending) raises an :class:`OutcomeUnknownError` subclass. PHLO runs and node
actions start real phone calls, so the SDK never retries those on its own:
the caller decides whether to check and re-send.

The tree (``+`` marks a second base: a class is caught by either)::

    PlivoError
    +-- InvalidParameterError (+ ValueError)   bad argument; nothing sent
    +-- ConfigurationError (+ ValueError)      bad client setup; nothing sent
    +-- ClientClosedError                      the client was closed; nothing sent
    +-- RateLimiterUnavailableError            the shared limit (Redis) is down; nothing sent
    +-- JournalError                           a bulk journal cannot be used
    +-- APIError                               a request was attempted and did not succeed
        +-- APIConnectionError                 no HTTP answer
        |   +-- CannotConnectError             no connection: nothing sent
        |   |   +-- NameResolutionError        the host name does not resolve
        |   |   +-- ConnectTimeoutError (+ APITimeoutError)
        |   +-- APITimeoutError                connect, read, write or pool timeout
        |   |   +-- TimeoutOutcomeUnknownError (+ OutcomeUnknownError)
        |   +-- ConnectionOutcomeUnknownError (+ OutcomeUnknownError)
        +-- APIResponseValidationError         2xx with a body the SDK cannot read: it ran
        +-- APIStatusError                     an HTTP error status; .status_code, .body
        |   +-- BadRequestError                400
        |   +-- AuthenticationError            401
        |   +-- PermissionDeniedError          403
        |   +-- NotFoundError                  404
        |   +-- MethodNotAllowedError          405
        |   +-- RequestTimeoutError            408
        |   |   +-- StatusOutcomeUnknownError (+ OutcomeUnknownError)   a POST's 408
        |   +-- RateLimitError                 429; .retry_after
        |   +-- InternalServerError            5xx
        |       +-- ServerOutcomeUnknownError (+ OutcomeUnknownError)   a POST's 5xx
        +-- OutcomeUnknownError                may have run: never re-sent by the SDK

``RateLimiterUnavailableError`` lives in :mod:`._ratelimit` and ``JournalError``
in :mod:`.bulk`; every public error reports ``plivo_phlo_async`` as its module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CannotConnectError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectTimeoutError",
    "ConnectionOutcomeUnknownError",
    "InternalServerError",
    "InvalidParameterError",
    "MethodNotAllowedError",
    "NameResolutionError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PlivoError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerOutcomeUnknownError",
    "StatusOutcomeUnknownError",
    "TimeoutOutcomeUnknownError",
]


class PlivoError(Exception):
    """Base class of every error this SDK raises."""

    #: True when the request may have been executed by Plivo although no
    #: success was seen: re-sending it could start a second phone call.
    outcome_unknown: ClassVar[bool] = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the state, not the constructor call: most errors take keyword
        # arguments (``response=``, ``field``/``reason``) that ``Exception``'s
        # own pickling would not pass back, so they could not cross a process
        # (multiprocessing, a task queue's result backend).
        return (_rebuilt, (type(self), self.args, self.__dict__))


class InvalidParameterError(PlivoError, ValueError):
    """An argument failed validation; no request was sent.

    ``field`` names the first offending argument and ``reason`` says what is
    wrong with it; ``errors`` lists every problem found as ``(field, reason)``.
    """

    def __init__(self, field: str, reason: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        self.field = field
        self.reason = reason
        self.errors: list[tuple[str, str]] = list(errors) or [(field, reason)]
        details = "; ".join(f"{name}: {why}" for name, why in self.errors)
        super().__init__(f"invalid {field!r}: {reason}" if len(self.errors) == 1 else details)


class ConfigurationError(PlivoError, ValueError):
    """The client was set up wrongly (missing credentials, unsafe base URL...).

    ``field`` names the offending argument, or the environment variable
    (``SSL_CERT_FILE``, ``HTTPS_PROXY``...) as it is set, when one is to blame.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ClientClosedError(PlivoError):
    """The client was closed (``aclose()`` or the end of ``async with``).

    Closing is final: nothing is sent after it, and no request is retried
    into a new connection pool. Create a new ``PhloClient``. Deliberately not
    an :class:`APIConnectionError`, so that nothing retries it.
    """


class APIError(PlivoError):
    """A request was attempted and did not succeed."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIConnectionError(APIError):
    """No HTTP answer was received (connection refused, reset, lost...)."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout expired."""


class CannotConnectError(APIConnectionError):
    """No connection to the API could be made, so nothing was sent: refused,
    unreachable, a TLS handshake or certificate failure, a proxy that refused,
    a host name that does not resolve, or a connect timeout.

    Unlike other connection errors it says the API itself is out of reach,
    which is why the bulk runner's circuit breaker counts it.
    """


class NameResolutionError(CannotConnectError):
    """The API's host name could not be resolved (DNS); ``host`` is the name."""

    def __init__(self, message: str, *, host: str, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)
        self.host = host


class ConnectTimeoutError(APITimeoutError, CannotConnectError):
    """The connection was not made within the connect timeout (nothing was sent)."""


class APIResponseValidationError(APIError):
    """Plivo answered with a success status but a body the SDK cannot read.

    The request itself succeeded: do not re-send it.
    """

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code


class APIStatusError(APIError):
    """Plivo answered with an error status.

    ``error`` and ``server_message`` hold the ``error`` and ``message`` texts
    of Plivo's JSON answer when it had them; ``api_id`` identifies the request
    for Plivo's support.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.body = body
        fields = body if isinstance(body, dict) else {}
        self.api_id: str | None = _text_or_none(fields.get("api_id"))
        self.error: str | None = _text_or_none(fields.get("error"))
        self.server_message: str | None = _text_or_none(fields.get("message"))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, "
            f"api_id={self.api_id!r}, message={self.message!r})"
        )


class BadRequestError(APIStatusError):
    """400: a parameter is missing or invalid."""


class AuthenticationError(APIStatusError):
    """401: the auth id or token was refused."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials may not use this resource."""


class NotFoundError(APIStatusError):
    """404: the PHLO, node, member or run does not exist."""


class MethodNotAllowedError(APIStatusError):
    """405: the HTTP method is not allowed on this URL."""


class RequestTimeoutError(APIStatusError):
    """408: the server gave up waiting for the request."""


class RateLimitError(APIStatusError):
    """429: the account's request limit (300 per 5 s) was exceeded.

    ``retry_after`` is the wait Plivo asked for, in seconds, when it said.
    The request was not processed, so it is safe to send again later.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, response=response, body=body)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx: Plivo failed while handling the request."""


class OutcomeUnknownError(APIError):
    """The request may have been executed although no success was seen.

    Raised for a POST (a PHLO run, a node or member action, a call) that got
    a 5xx or 408, timed out while waiting for the answer, or lost its
    connection after sending. It is never retried automatically because a
    second attempt could start a second phone call: check the outcome (for a
    run, ``get_run``) before sending again. Catch this class to handle every
    such case; each concrete subclass is also the ordinary error of its kind.
    """

    outcome_unknown: ClassVar[bool] = True


class ServerOutcomeUnknownError(InternalServerError, OutcomeUnknownError):
    """A POST got a 5xx answer: Plivo may have executed it before failing."""


class StatusOutcomeUnknownError(RequestTimeoutError, OutcomeUnknownError):
    """A POST got a 408 answer: a proxy or Plivo may have processed it."""


class TimeoutOutcomeUnknownError(APITimeoutError, OutcomeUnknownError):
    """A POST was sent but its answer did not arrive in time."""


class ConnectionOutcomeUnknownError(APIConnectionError, OutcomeUnknownError):
    """A POST was sent but the connection was lost before the answer."""


def _rebuilt(cls: type[PlivoError], args: tuple[Any, ...], state: dict[str, Any]) -> PlivoError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


def _text_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
