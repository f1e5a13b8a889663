"""The ASGI application's outer gate: record, faults, auth, rate limit.

Every request goes through :class:`EmulatorApp` first, in this order:
record it, apply the injected fault that happens before processing (latency,
``drop_before``, ``error``, ``rate_limit``), check Basic auth (401), apply
the account's rate limit (429), then route it (404, 405) to an endpoint,
which validates it (400) and executes it. A fault that happens after
processing (``drop_after``, ``error_after``) replaces the answer once the
action has been carried out.

The endpoints live in their own modules, which import from :mod:`._http`
and never from here: :mod:`._phlo_api` (PHLOs, runs, nodes, members),
:mod:`._voice_api` (outbound calls and their signed callbacks) and
:mod:`._admin_api` (``/_emulator/...``, which skips the gate). The gate
reaches the emulator only through its serving methods
(:meth:`PhloEmulator.receive`, :meth:`~PhloEmulator.admit`...).

Choices where the reference is silent: a run or a call under another
account's URL (``/account/{auth_id}/...`` not matching the Basic-auth id)
is 401, like any credential mismatch; both ``/phlo/{id}`` and
``/phlo/{id}/`` are served (Plivo's Python SDK sends the trailing slash),
with no redirects.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._admin_api import ADMIN_PREFIX, admin_routes
from ._emulator import ConnectionDropped
from ._http import CONTEXT, UNAUTHORIZED, emulator_error, http_exception, strict_json
from ._phlo_api import phlo_routes
from ._state import EmulatorError
from ._voice_api import voice_routes

if TYPE_CHECKING:
    from ._emulator import PhloEmulator
    from ._records import ReceivedRequest

__all__ = ["ABORT_EXTENSION", "ASGIApp", "EmulatorApp"]

#: Key in ``scope["extensions"]`` of a callable that aborts the connection.
#: The emulator's own uvicorn server provides it; without it (in-process),
#: a dropped connection is raised as ``ConnectionDropped``.
ABORT_EXTENSION = "plivo_emulator.abort"


class EmulatorApp:
    """The outer ASGI layer (see the module docstring for the order of checks)."""

    def __init__(self, emulator: PhloEmulator) -> None:
        self.emulator = emulator
        self.router = Starlette(
            routes=[*phlo_routes(), *voice_routes(), *admin_routes()],
            exception_handlers={
                HTTPException: http_exception,  # type: ignore[dict-item]
                EmulatorError: emulator_error,  # type: ignore[dict-item]
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.router({**scope, CONTEXT: (self.emulator, None)}, receive, send)
            return
        emulator = self.emulator
        body = await _read_body(receive)
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        claimed_id, token = _basic_credentials(headers.pop("authorization", None))
        record, fault = emulator.receive(
            scope["method"],
            scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            json=_try_json(body),
            auth_id=claimed_id,
        )

        if fault.latency > 0:
            await anyio.sleep(fault.latency)
        if fault.kind == "drop_before":
            await _drop(scope, receive)
            return
        if fault.kind == "error":
            await _server_error(send, record, fault.status or 503)
            return
        if fault.kind == "rate_limit":
            await _too_many(send, record, 1 if fault.retry_after is None else fault.retry_after)
            return

        captured = _Captured()
        await self._process(scope, receive, body, record, claimed_id, token, captured.send)

        if fault.kind == "drop_after":
            emulator.answered(record, None)  # processed, but nothing was answered
            await _drop(scope, receive)
            return
        if fault.kind == "error_after":
            await _server_error(send, record, fault.status or 500)
            return
        emulator.answered(record, captured.status)
        for message in captured.messages:
            await send(message)

    async def _process(
        self,
        scope: Scope,
        receive: Receive,
        body: bytes,
        record: ReceivedRequest,
        claimed_id: str | None,
        token: str | None,
        send: Send,
    ) -> None:
        """Auth, rate limit, then the routed endpoint."""
        emulator = self.emulator
        if not emulator.credentials_match(claimed_id, token):
            await _answer(
                send, record, 401, UNAUTHORIZED, {"www-authenticate": 'Basic realm="plivo"'}
            )
            return
        wait = emulator.admit(emulator.auth_id)  # the claimed id, now checked
        if wait is not None:
            await _too_many(send, record, wait)
            return
        inner = {**scope, CONTEXT: (emulator, record)}
        await self.router(inner, _replay(body, receive), send)


# -- plumbing ---------------------------------------------------------------


class _Captured:
    """Holds the routed answer until the faults have had their say."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        self.messages.append(message)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _drop(scope: Scope, receive: Receive) -> None:
    abort: Callable[[], None] | None = (scope.get("extensions") or {}).get(ABORT_EXTENSION)
    if abort is None:
        raise ConnectionDropped("Server disconnected without sending a response.")
    abort()
    # Wait until the server has seen the connection go, so that it does not
    # try to answer on it (and log that the app sent nothing).
    while (await receive())["type"] != "http.disconnect":
        pass


async def _answer(
    send: Send,
    record: ReceivedRequest,
    status: int,
    error: str,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps({"api_id": record.api_id, "error": error}).encode()
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        **(headers or {}),
    }
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    record.status = status
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _too_many(send: Send, record: ReceivedRequest, retry_after: int) -> None:
    error = "too many requests: the account's request limit was exceeded"
    await _answer(send, record, 429, error, {"retry-after": str(retry_after)})


async def _server_error(send: Send, record: ReceivedRequest, status: int) -> None:
    error = "service unavailable" if status == 503 else "internal server error"
    await _answer(send, record, status, error)


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    if not sep:
        return user or None, None
    return user, password


def _try_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return strict_json(body)
    except ValueError:
        return None
