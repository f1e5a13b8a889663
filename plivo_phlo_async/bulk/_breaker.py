"""When a bulk run stops on its own: the circuit breaker that keeps it from
grinding against an API it cannot reach (only failures that certainly sent
nothing count), and the words it stops with after a 401 or 403
(:func:`refused_reason`) or a 404 for the PHLO (:func:`unknown_phlo_reason`).
The rules: docs/bulk.md, "Circuit breaker".
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

import anyio

from .._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    CannotConnectError,
    ConfigurationError,
    ConnectTimeoutError,
    NameResolutionError,
    PlivoError,
)
from .._validation import is_int, is_number


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    """When a bulk run stops sending because the API cannot be reached.

    ``failures``: connection failures in a row (across all workers) that open
    it; a failed name resolution opens it at once. ``cool_down``: seconds
    before the first probe, doubled before each next one. ``probes``: failed
    probes after which the run stops. The defaults (5, 4 s, 3) give up about
    28 s after the API became unreachable.
    """

    failures: int = 5
    cool_down: float = 4.0
    probes: int = 3

    def __post_init__(self) -> None:
        for name in ("failures", "probes"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ConfigurationError(
                    f"CircuitBreaker {name} must be an integer >= 1, not {value!r}", field=name
                )
        cool_down = self.cool_down
        if not is_number(cool_down) or not 0 <= cool_down < math.inf:
            raise ConfigurationError(
                f"CircuitBreaker cool_down must be a finite number of seconds >= 0, "
                f"not {cool_down!r}",
                field="cool_down",
            )

    def cool_down_before(self, probe: int) -> float:
        """Seconds to wait before probe number ``probe`` (1-based)."""
        return self.cool_down * 2.0 ** (probe - 1)


DEFAULT_CIRCUIT_BREAKER = CircuitBreaker()


class _State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    GAVE_UP = "gave up"


class Breaker:
    """The breaker's state, shared by every worker of one run (one event loop)."""

    def __init__(self, policy: CircuitBreaker, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.policy = policy
        self._sleep = sleep
        self._state = _State.CLOSED
        self._in_a_row = 0
        self._failed_probes = 0
        self._probing = False
        self._changed = anyio.Event()

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def gave_up(self) -> bool:
        return self._state is _State.GAVE_UP

    async def admit(self) -> bool:
        """Wait until a request may go; True when it goes as the probe.

        Returns at once while closed. Raises :class:`BreakerGaveUp` once the
        breaker has given up (nothing more is to be sent).
        """
        while True:
            state = self._state
            if state is _State.CLOSED:
                return False
            if state is _State.GAVE_UP:
                raise BreakerGaveUp
            if not self._probing:
                self._probing = True
                try:
                    await self._sleep(self.policy.cool_down_before(self._failed_probes + 1))
                except BaseException:
                    self._probing = False
                    self._notify()
                    raise
                if self._state is _State.OPEN:
                    return True
                self._probing = False  # closed meanwhile by an answer: go as usual
                continue
            await self._changed.wait()

    def reached(self, *, probe: bool) -> None:
        """An attempt reached the API (any answer, or an unknown outcome): close."""
        self._in_a_row = 0
        if probe:
            self._probing = False
        if self._state is _State.OPEN:
            self._state = _State.CLOSED
            self._failed_probes = 0
            self._notify()

    def failed(self, error: CannotConnectError, *, probe: bool) -> None:
        """An attempt could not connect; open or give up when it is time to."""
        was_probing = probe and self._probing
        if probe:
            self._probing = False  # (closed meanwhile: the next opening needs a prober)
        state = self._state
        if state is _State.CLOSED:
            self._in_a_row += 1
            if isinstance(error, NameResolutionError) or self._in_a_row >= self.policy.failures:
                self._state = _State.OPEN
                self._failed_probes = 0
                self._notify()
            return
        if was_probing and state is _State.OPEN:
            self._failed_probes += 1
            if self._failed_probes >= self.policy.probes:
                self._state = _State.GAVE_UP
            self._notify()

    def released(self, *, probe: bool) -> None:
        """The attempt proved nothing either way (e.g. the pool was busy)."""
        if probe and self._probing:
            self._probing = False
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


class BreakerGaveUp(Exception):  # noqa: N818 - a signal between the breaker and the runner
    """The breaker gave up: the run stops."""


def cannot_connect_reason(error: APIConnectionError) -> str:
    """``cannot connect to HOST:PORT: why`` (``cannot resolve host name`` for DNS)."""
    detail = str(error.__cause__ or error) or type(error).__name__
    if isinstance(error, ConnectTimeoutError):
        detail = f"no connection within the connect timeout ({detail})"
    if isinstance(error, NameResolutionError):
        if "cannot resolve host name" in detail:
            return detail
        return f"cannot resolve host name {error.host!r}: {detail}"
    request = error.request
    if request is None:
        return f"cannot connect: {detail}"
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"cannot connect to {url.host}:{port}: {detail}"


def may_have_reached(error: PlivoError) -> bool:
    """Whether the failed attempt may have reached the API, so counts as sent:
    an answer came (any status), or the outcome is unknown. A connection
    error before sending, a closed client or a refused argument did not."""
    return error.outcome_unknown or isinstance(error, (APIStatusError, APIResponseValidationError))


def refused_reason(error: APIStatusError) -> str:
    """Why a 401 or 403 stopped the run, in the words jobs are skipped with."""
    what = (
        "authentication failed" if isinstance(error, AuthenticationError) else "permission denied"
    )
    detail = error.error or error.server_message or error.response.reason_phrase
    return f"stopped: {what} ({error.status_code}): {detail}".rstrip(": ")


def unknown_phlo_reason(phlo_id: str, error: APIStatusError) -> str:
    """Why a 404 for a PHLO run stopped the run: the URL names only the PHLO,
    so no job for it can succeed with this account and base URL. The answer's
    words are added when they say more than the PHLO id."""
    detail = error.error or error.server_message or ""
    extra = f": {detail}" if detail and phlo_id not in detail else ""
    return f"stopped: PHLO {phlo_id} not found (404){extra}"
