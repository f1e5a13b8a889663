"""``PhloEmulator``: the state, the records and the knobs a test reaches for.

The ASGI application itself lives in :mod:`._app` and is built on first use
of :attr:`PhloEmulator.app`, so this module (and the pytest plugin that
imports it) loads even where Starlette is not installed.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._callbacks import plan_callbacks, send_callbacks
from ._config import EmulatorConfig
from ._faults import Fault, FaultConfig, FaultInjector, FaultKind, RateLimiter, ServerRateLimit
from ._records import Call, CallbackRecord, ExecutedAction, ReceivedRequest, Run
from ._state import AccountState, new_id

if TYPE_CHECKING:
    from .._client import PhloClient
    from ._app import ASGIApp

#: Host of the in-process client's URLs (loopback, so the SDK allows http).
IN_PROCESS_URL = "http://127.0.0.1"
_MISSING_EXTRA = (
    "the PHLO emulator needs its extra dependencies: pip install 'plivo-phlo-async[emulator]'"
)


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised in-process where a real server would close the socket.

    A subclass of httpx's own error for a connection closed without an
    answer, so ``httpx.ASGITransport`` hands the SDK exactly what it would
    see over a socket.
    """


class PhloEmulator:
    """A stateful stand-in for Plivo's PHLO and Voice APIs.

    ``config`` is an :class:`EmulatorConfig`, a mapping, a ``.json`` or
    ``.toml`` path, or None for the default seed. ``clock`` (seconds,
    monotonic) drives the rate limit; tests can pass a fake one.

    The same emulator can answer in-process (:meth:`client`, :attr:`app`) and
    over a socket (:func:`run_emulator`) at once: its state is guarded by a
    lock, so reading :attr:`requests` from a test while a server thread
    answers is safe.

    The HTTP layer (:mod:`._app` and its endpoints) goes through the methods
    under "serving" only, each one step taken under the lock: it never
    touches the state, the records or the lock itself.
    """

    def __init__(
        self,
        config: EmulatorConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = EmulatorConfig.load(config)
        self._clock = clock
        self._lock = threading.RLock()
        self._app: ASGIApp | None = None
        self._setup()

    def _setup(self) -> None:
        config = self._config
        self._state = AccountState(config)
        self._faults = FaultInjector(config.faults)
        self._limiter = RateLimiter(config.rate_limit, self._clock)
        self._requests: list[ReceivedRequest] = []
        self._executed: list[ExecutedAction] = []
        self._call_times: list[float] = []

    # -- configuration -------------------------------------------------------
    @property
    def config(self) -> EmulatorConfig:
        return self._config

    @property
    def auth_id(self) -> str:
        return self._config.auth_id

    @property
    def auth_token(self) -> str:
        return self._config.auth_token

    def reset(self) -> None:
        """Back to the seed: state, records, faults and rate limit as configured."""
        with self._lock:
            self._setup()

    def set_faults(self, faults: FaultConfig | None) -> None:
        """Replace the random faults (the generator restarts from the seed)."""
        with self._lock:
            self._faults.configure(faults)

    def set_rate_limit(self, limit: ServerRateLimit | None) -> None:
        """Replace the rate limit (None turns it off) and forget past requests."""
        with self._lock:
            self._limiter.configure(limit)

    def inject(
        self,
        kind: FaultKind,
        *,
        times: int = 1,
        method: str | Collection[str] | None = None,
        path: str | None = None,
        status: int = 503,
        retry_after: int = 1,
    ) -> None:
        """Make the next ``times`` matching requests fail with ``kind``.

        ``kind`` is ``"error"`` (``status``, not processed), ``"error_after"``
        (processed, then 500), ``"drop_before"``, ``"drop_after"`` or
        ``"rate_limit"`` (429 with ``Retry-After: retry_after``). ``method``
        and ``path`` (a regular expression) pick the requests. Scripted faults
        come before random ones.
        """
        with self._lock:
            self._faults.inject(kind, times, method, path, status, retry_after)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return self._faults.pending

    # -- introspection -------------------------------------------------------
    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received (admin endpoints excluded), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def executed(self) -> list[ExecutedAction]:
        """Every action carried out, oldest first."""
        with self._lock:
            return list(self._executed)

    def executions(
        self,
        kind: str | None = None,
        *,
        phlo_id: str | None = None,
        node_id: str | None = None,
        member: str | None = None,
    ) -> list[ExecutedAction]:
        """The executed actions that match every given filter."""
        return [
            action
            for action in self.executed
            if (kind is None or action.kind == kind)
            and (phlo_id is None or action.phlo_id == phlo_id)
            and (node_id is None or action.node_id == node_id)
            and (member is None or action.member == member)
        ]

    @property
    def runs(self) -> list[Run]:
        with self._lock:
            return list(self._state.runs.values())

    @property
    def calls(self) -> list[Call]:
        """Every call leg dialled: by the Voice API, by runs, by multi-party calls."""
        with self._lock:
            return list(self._state.calls)

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """Every signed callback to a call's ring/answer/hangup URL, oldest first."""
        return self._state.callbacks.records

    def wait_for_callbacks(
        self, *, count: int | None = None, timeout: float = 10.0
    ) -> list[CallbackRecord]:
        """Block until no callback is pending (and ``count`` exist); TimeoutError otherwise."""
        return self._state.callbacks.wait(count=count, timeout=timeout)

    async def callbacks_settled(
        self, *, count: int | None = None, timeout: float = 10.0
    ) -> list[CallbackRecord]:
        """:meth:`wait_for_callbacks` without blocking the event loop."""
        import anyio.to_thread

        log = self._state.callbacks
        return await anyio.to_thread.run_sync(
            lambda: log.wait(count=count, timeout=timeout), abandon_on_cancel=True
        )

    def members(self, phlo_id: str, node_id: str) -> dict[str, str]:
        """``{address: state}`` of a node's current members (multi-party call or bridge).

        A state is Plivo's word for it: ``"on_call"``, ``"on_hold"``,
        ``"warm_transfer_initiator"``, ``"warm_transfer_recipient"`` or
        ``"waiting_on_transfer"``.
        """
        return self._members(phlo_id, node_id, "state")

    def muted(self, phlo_id: str, node_id: str) -> dict[str, bool]:
        """``{address: muted}`` of a node's current members (any node type)."""
        return self._members(phlo_id, node_id, "muted")

    def roles(self, phlo_id: str, node_id: str) -> dict[str, str]:
        """``{address: role}`` of a multi-party call's current members."""
        return self._members(phlo_id, node_id, "role")

    def _members(self, phlo_id: str, node_id: str, attribute: str) -> dict[str, Any]:
        with self._lock:
            node = self._state.node(phlo_id, node_id)
            return {address: getattr(m, attribute) for address, m in node.members.items()}

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data (what ``GET /_emulator/state`` answers)."""
        with self._lock:
            return self._state.snapshot()

    def peak_requests(self, auth_id: str | None = None) -> int:
        """Most requests that arrived within one rate-limit window (per auth id)."""
        with self._lock:
            return self._limiter.peak(auth_id)

    def rate_limited(self, auth_id: str | None = None) -> int:
        """How many requests were answered 429 by the rate limit."""
        with self._lock:
            return self._limiter.rejected(auth_id)

    # -- serving: what the HTTP layer calls ----------------------------------
    def receive(
        self,
        method: str,
        path: str,
        *,
        query: str,
        headers: dict[str, str],
        body: bytes,
        json: Any,
        auth_id: str | None,
    ) -> tuple[ReceivedRequest, Fault]:
        """Record an arriving request, count it against its account's limit,
        and decide its injected fault (if any), in one step."""
        with self._lock:
            record = ReceivedRequest(
                seq=len(self._requests) + 1,
                method=method,
                path=path,
                query=query,
                headers=headers,
                body=body,
                json=json,
                auth_id=auth_id,
                api_id=new_id(),
                received_at=self._clock(),
            )
            self._requests.append(record)
            self._limiter.arrive(auth_id or "")
            fault = self._faults.decide(method, path)
            record.fault = fault.kind
            record.latency = fault.latency
        return record, fault

    def answered(self, record: ReceivedRequest, status: int | None) -> None:
        """Note the status a request was answered with (None: dropped unanswered)."""
        with self._lock:
            record.status = status

    def credentials_match(self, auth_id: str | None, token: str | None) -> bool:
        """Whether Basic credentials are this account's (the token compared in constant time)."""
        return auth_id == self.auth_id and hmac.compare_digest(
            (token or "").encode(), self.auth_token.encode()
        )

    def admit(self, auth_id: str) -> int | None:
        """None if the account's rate limit lets the request in, else the seconds to wait."""
        with self._lock:
            return self._limiter.admit(auth_id)

    def describe_phlo(self, phlo_id: str) -> dict[str, Any]:
        """A PHLO as ``GET /phlo/{id}`` answers it (EmulatorError 404 if unknown)."""
        with self._lock:
            return self._state.phlo(phlo_id).describe()

    def describe_run(self, phlo_id: str, run_id: str) -> dict[str, Any]:
        with self._lock:
            return self._state.run(phlo_id, run_id).describe()

    def describe_node(self, phlo_id: str, node_id: str, node_type: str) -> dict[str, Any]:
        """A node found under its own type only (EmulatorError 404 otherwise)."""
        with self._lock:
            return self._state.node(phlo_id, node_id, node_type).describe()

    def require_node(self, phlo_id: str, node_id: str, node_type: str) -> None:
        """EmulatorError 404 unless the node exists under this type (checked before the body)."""
        with self._lock:
            self._state.node(phlo_id, node_id, node_type)

    def start_run(self, record: ReceivedRequest, phlo_id: str, payload: dict[str, Any]) -> Run:
        """Run a PHLO for ``record`` and record it as executed."""
        with self._lock:
            run = self._state.start_run(phlo_id, record.api_id, payload)
            self._executed_by(
                record,
                kind="run",
                phlo_id=phlo_id,
                payload=payload,
                run_id=run.run_id,
                call_uuids=tuple(run.call_uuids),
            )
        return run

    def act_on_node(
        self,
        record: ReceivedRequest,
        phlo_id: str,
        node_id: str,
        action: str,
        payload: dict[str, Any],
    ) -> None:
        """A multi-party call's ``call``/``warm_transfer``/``cold_transfer``,
        from a payload already checked, recorded as executed."""
        with self._lock:
            self._state.node_action(
                phlo_id,
                node_id,
                action,
                payload["trigger_source"],
                payload["to"],
                payload.get("role", "agent"),
            )
            self._executed_by(
                record,
                kind=action,
                phlo_id=phlo_id,
                node_id=node_id,
                member=payload["to"],
                payload=payload,
            )

    def act_on_member(
        self,
        record: ReceivedRequest,
        phlo_id: str,
        node_id: str,
        node_type: str,
        address: str,
        payload: dict[str, Any],
    ) -> None:
        """A member action (``payload["action"]``, already checked), recorded as executed."""
        action = str(payload["action"])
        with self._lock:
            self._state.member_action(phlo_id, node_id, address, action, node_type)
            self._executed_by(
                record,
                kind=action,
                phlo_id=phlo_id,
                node_id=node_id,
                member=address,
                payload=payload,
            )

    def place_calls(
        self, record: ReceivedRequest, destinations: list[str], options: dict[str, Any]
    ) -> tuple[list[str], bool]:
        """Dial every destination of a checked Voice API body; ``(call_uuids, queued)``.

        ``queued`` when the calls-per-second limit is reached in the last
        second. The signed callbacks go out in the background: the answer
        never waits for them.
        """
        now = self._clock()
        with self._lock:
            uuids = self._state.create_calls(options["from"], destinations, options)
            queued = False
            cps = self._config.calls_per_second
            if cps is not None:
                recent = [t for t in self._call_times if now - t < 1.0]
                queued = len(recent) >= cps
                self._call_times = [*recent, now]
            self._executed_by(record, kind="create_call", payload=options, call_uuids=tuple(uuids))
            callbacks = self._state.callbacks
            outgoing = plan_callbacks(
                callbacks,
                auth_id=self.auth_id,
                auth_token=self.auth_token,
                from_=options["from"],
                destinations=list(zip(uuids, destinations, strict=True)),
                options=options,
            )
        send_callbacks(callbacks, outgoing)
        return uuids, queued

    def _executed_by(self, record: ReceivedRequest, **fields: Any) -> None:
        self._executed.append(
            ExecutedAction(api_id=record.api_id, request_seq=record.seq, **fields)
        )

    @property
    def app(self) -> ASGIApp:
        """The ASGI application (needs the ``emulator`` extra)."""
        if self._app is None:
            try:
                from ._app import EmulatorApp
            except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
                raise ImportError(_MISSING_EXTRA) from exc
            self._app = EmulatorApp(self)
        return self._app

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls the application in-process (no socket)."""
        return httpx.ASGITransport(app=self.app)

    def client(self, **kwargs: Any) -> PhloClient:
        """A ``PhloClient`` wired to this emulator in-process.

        Keyword arguments go to ``PhloClient`` (``max_retries``, ``timeout``...).
        There is no socket, so nothing needs closing; timeouts are not
        enforced in-process (use :func:`run_emulator` to test them).
        """
        from .._client import PhloClient

        kwargs.setdefault("base_url", f"{IN_PROCESS_URL}/v1")
        kwargs.setdefault("voice_base_url", f"{IN_PROCESS_URL}/v1")
        return PhloClient(
            self.auth_id,
            self.auth_token,
            http_client=httpx.AsyncClient(transport=self.transport()),
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"PhloEmulator(auth_id={self.auth_id!r}, phlos={len(self._config.phlos)}, "
            f"requests={len(self._requests)}, executed={len(self._executed)})"
        )
