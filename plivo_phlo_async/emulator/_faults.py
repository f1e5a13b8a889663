"""Reproducible fault injection and the account's rate limit.

A :class:`FaultConfig` draws faults from its own seeded generator, so the same seed and the
same matching requests give the same faults on every run; scripted faults
(``PhloEmulator.inject``) hit the next matching requests exactly. The kinds: docs/emulator.md.
"""

from __future__ import annotations

import math
import random
import re
import typing
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

from .._exceptions import ConfigurationError
from .._validation import is_int, is_number

FaultKind = Literal["error", "error_after", "drop_before", "drop_after", "rate_limit"]
FAULT_KINDS: tuple[FaultKind, ...] = typing.get_args(FaultKind)


def _rate(name: str, value: float) -> None:
    if not is_number(value) or not 0 <= value <= 1:
        raise ConfigurationError(f"{name} must be a number between 0 and 1, not {value!r}")


def _methods(value: Collection[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    return frozenset(method.upper() for method in value)


@dataclass(frozen=True)
class FaultConfig:
    """Random faults, reproducible from ``seed``.

    The rates are shares of the matching requests (together at most 1).
    ``latency`` delays every matching request by a fixed number of seconds
    or by a uniform draw from a ``(low, high)`` range. ``methods`` (e.g.
    ``{"POST"}``) and ``path`` (a regular expression searched in the URL
    path) restrict which requests are eligible; by default all are.
    """

    seed: int | None = 0
    error_rate: float = 0.0
    error_after_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    drop_before_rate: float = 0.0
    drop_after_rate: float = 0.0
    latency: float | tuple[float, float] = 0.0
    methods: Collection[str] | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        rates = ("error_rate", "error_after_rate", "drop_before_rate", "drop_after_rate")
        for name in rates:
            _rate(name, getattr(self, name))
        if sum(getattr(self, name) for name in rates) > 1 + 1e-9:
            raise ConfigurationError("the fault rates add up to more than 1")
        statuses = tuple(self.error_statuses)
        if not statuses or any(not is_int(s) or not 500 <= s <= 599 for s in statuses):
            raise ConfigurationError("error_statuses must be a non-empty list of 5xx codes")
        object.__setattr__(self, "error_statuses", statuses)
        latency = self.latency
        if isinstance(latency, (tuple, list)):
            if len(latency) != 2 or not 0 <= latency[0] <= latency[1]:
                raise ConfigurationError("latency range must be (low, high) with 0 <= low <= high")
            object.__setattr__(self, "latency", (float(latency[0]), float(latency[1])))
        elif not is_number(latency) or latency < 0:
            raise ConfigurationError(
                f"latency must be >= 0 seconds or a (low, high) range, not {latency!r}"
            )
        object.__setattr__(self, "methods", _methods(self.methods))
        if self.path is not None:
            re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return _matches(self.methods, self.path, method, path)


def _matches(methods: Collection[str] | None, pattern: str | None, method: str, path: str) -> bool:
    """Whether a request is eligible for a fault: its method listed, ``pattern`` in its path."""
    return (methods is None or method.upper() in methods) and (
        pattern is None or re.search(pattern, path) is not None
    )


@dataclass(frozen=True)
class Fault:
    """What happens to one request."""

    kind: FaultKind | None = None
    status: int | None = None
    latency: float = 0.0
    retry_after: int | None = None


NO_FAULT = Fault()


@dataclass
class _Scripted:
    fault: Fault
    remaining: int
    methods: frozenset[str] | None
    path: str | None


class FaultInjector:
    """Decides, request by request, which fault (if any) applies."""

    def __init__(self, config: FaultConfig | None) -> None:
        self.configure(config)

    def configure(self, config: FaultConfig | None) -> None:
        """Replace the random faults (and restart their generator from the seed)."""
        self.config = config
        self._random = random.Random(config.seed if config is not None else 0)
        self._scripted: list[_Scripted] = []

    def inject(
        self,
        kind: FaultKind,
        times: int,
        method: str | Collection[str] | None,
        path: str | None,
        status: int,
        retry_after: int,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ConfigurationError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if not is_int(times) or times < 1:
            raise ConfigurationError("times must be a positive integer")
        if not 500 <= status <= 599:
            raise ConfigurationError("status must be a 5xx code")
        if not is_int(retry_after) or retry_after < 0:
            raise ConfigurationError("retry_after must be a whole number of seconds >= 0")
        if path is not None:
            re.compile(path)
        fault = Fault(
            kind=kind,
            status=status if kind in ("error", "error_after") else None,
            retry_after=retry_after if kind == "rate_limit" else None,
        )
        self._scripted.append(_Scripted(fault, times, _methods(method), path))

    @property
    def pending(self) -> int:
        """Scripted faults not yet used."""
        return sum(item.remaining for item in self._scripted)

    def decide(self, method: str, path: str) -> Fault:
        for item in self._scripted:
            if _matches(item.methods, item.path, method, path):
                item.remaining -= 1
                if item.remaining == 0:
                    self._scripted.remove(item)
                return item.fault
        config = self.config
        if config is None or not config.matches(method, path):
            return NO_FAULT
        # Always two draws per eligible request, so the sequence of faults
        # depends only on the seed and the order of the requests.
        roll = self._random.random()
        spread = self._random.random()
        latency = config.latency
        delay = (
            latency[0] + (latency[1] - latency[0]) * spread
            if isinstance(latency, tuple)
            else float(latency)
        )
        kind: FaultKind | None = None
        status: int | None = None
        threshold = 0.0
        for name, candidate in (
            ("drop_before_rate", "drop_before"),
            ("error_rate", "error"),
            ("error_after_rate", "error_after"),
            ("drop_after_rate", "drop_after"),
        ):
            threshold += getattr(config, name)
            if roll < threshold:
                kind = candidate  # type: ignore[assignment]
                break
        if kind in ("error", "error_after"):
            statuses = config.error_statuses
            status = statuses[int(spread * len(statuses)) % len(statuses)]
        return Fault(kind=kind, status=status, latency=delay)


@dataclass(frozen=True)
class ServerRateLimit:
    """The account's limit as the server enforces it: at most ``requests`` requests per
    ``window`` seconds per auth id (Plivo: 300 per 5 s), then 429.

    Not to be confused with :class:`plivo_phlo_async.RateLimit`, the client's own
    throttle (``RateLimit(requests, per=...)``).
    """

    requests: int = 300
    window: float = 5.0

    def __post_init__(self) -> None:
        if not is_int(self.requests) or self.requests < 1:
            raise ConfigurationError("rate_limit.requests must be a positive integer")
        if not is_number(self.window) or self.window <= 0:
            raise ConfigurationError("rate_limit.window must be a positive number of seconds")


@dataclass
class _Account:
    accepted: deque[float] = field(default_factory=deque)
    arrived: deque[float] = field(default_factory=deque)
    peak: int = 0
    rejected: int = 0


class RateLimiter:
    """A sliding-window limit per auth id, and the peak load it saw.

    ``peak(auth_id)`` is the most requests that arrived within any one window
    (rejected ones included), so a test can prove a client-side throttle kept
    under the limit even when the limit itself is switched off.
    """

    def __init__(self, limit: ServerRateLimit | None, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.configure(limit)

    def configure(self, limit: ServerRateLimit | None) -> None:
        self.limit = limit
        self._accounts: dict[str, _Account] = {}

    def arrive(self, key: str) -> None:
        """Count a request towards the peak, whatever becomes of it."""
        now = self.clock()
        account = self._accounts.setdefault(key, _Account())
        window = self.limit.window if self.limit is not None else ServerRateLimit.window
        _expire(account.arrived, now - window)
        account.arrived.append(now)
        account.peak = max(account.peak, len(account.arrived))

    def admit(self, key: str) -> int | None:
        """None if the request may go on, else the seconds to wait (``Retry-After``)."""
        limit = self.limit
        if limit is None:
            return None
        now = self.clock()
        account = self._accounts.setdefault(key, _Account())
        _expire(account.accepted, now - limit.window)
        if len(account.accepted) >= limit.requests:
            account.rejected += 1
            wait = account.accepted[0] + limit.window - now
            return max(1, math.ceil(wait))
        account.accepted.append(now)
        return None

    def peak(self, key: str | None = None) -> int:
        return max((a.peak for a in self._of(key)), default=0)

    def rejected(self, key: str | None = None) -> int:
        return sum(a.rejected for a in self._of(key))

    def _of(self, key: str | None) -> list[_Account]:
        """One account's figures (none if it never called), or every account's."""
        if key is None:
            return list(self._accounts.values())
        return [self._accounts[key]] if key in self._accounts else []


def _expire(stamps: deque[float], horizon: float) -> None:
    while stamps and stamps[0] <= horizon:
        stamps.popleft()
