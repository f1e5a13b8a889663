"""The ASGI application: routes, request checks, auth, limits and faults.

Every request goes through :class:`EmulatorApp` first, in this order:
record it, apply the injected fault that happens before processing (latency,
``drop_before``, ``error``, ``rate_limit``), check Basic auth (401), apply
the account's rate limit (429), then route it (404, 405), validate it (400)
and execute it. A fault that happens after processing (``drop_after``,
``error_after``) replaces the answer once the action has been carried out.

The bodies are validated here, with rules written independently of the
SDK's models, so the emulator catches the SDK sending what Plivo would
refuse instead of agreeing with its mistakes.

``/_emulator/...`` is the unauthenticated admin API (requests, executed
actions, callbacks, state, reset, inject) for tests that drive the emulator over HTTP.

Choices where the reference is silent (chosen as the real service plausibly
behaves, and strict where strictness catches client bugs):

* A run or a call under another account's URL (``/account/{auth_id}/...``
  not matching the Basic-auth id) is 401, like any credential mismatch.
* Unknown body parameters are 400: a misspelt key must not pass silently.
* ``role`` defaults to ``agent``; ``to``/``trigger_source``/``from`` must be
  a phone number (optional ``+``, up to 15 digits) or a SIP URI.
* ``trigger_source`` must be an agent who is ``on_call``, except for the
  first ``call`` on an empty multi-party call, which brings that agent in.
  A bad ``trigger_source`` is 400 (it is a body field); an unknown member in
  the URL is 404.
* Member addresses match exactly as written (``+1415...`` is not ``1415...``).
* Voice calls accept numbers and booleans as strings and methods in any case
  (the reference's own example sends ``"300"``, ``"true"`` and ``"POSt"``).
  ``error_if_parent_not_found`` with an unknown ``parent_call_uuid`` is 404.
* Nodes are served by type: ``GET /phlo/{id}/{node_type}/{node_id}`` finds a
  node only under its own type (a bridge's id under ``multi_party_call`` is
  404). Conference bridges (the reference does not document them; the
  official SDKs post the same ``{"action": ...}`` bodies) take ``mute``,
  ``unmute``, ``hold``, ``unhold`` and ``hangup`` on members; a node POST to a
  bridge is 405, another action 400.
* Both ``/phlo/{id}`` and ``/phlo/{id}/`` are served (Plivo's Python SDK
  sends the trailing slash), with no redirects.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._callbacks import plan_callbacks, send_callbacks
from ._emulator import ConnectionDropped, ExecutedAction, ReceivedRequest
from ._faults import FAULT_KINDS
from ._state import EmulatorError, is_address, new_id

if TYPE_CHECKING:
    from ._emulator import PhloEmulator

__all__ = ["ABORT_EXTENSION", "ASGIApp", "ConnectionDropped", "EmulatorApp", "build_app"]

#: Key in ``scope["extensions"]`` of a callable that aborts the connection.
#: The emulator's own uvicorn server provides it; without it (in-process),
#: a dropped connection is raised as ``ConnectionDropped``.
ABORT_EXTENSION = "plivo_emulator.abort"
_CONTEXT = "plivo_emulator.context"

UNAUTHORIZED = (
    "Could not verify your access level for that URL. "
    "You have to login with proper credentials."
)
NODE_ACTIONS = ("call", "warm_transfer", "cold_transfer")
#: The member actions of each node type that has members.
MEMBER_ACTIONS: dict[str, tuple[str, ...]] = {
    "multi_party_call": (
        "hold", "unhold", "hangup", "resume_call", "abort_transfer", "voicemail_drop",
        "mute", "unmute",
    ),
    "conference_bridge": ("mute", "unmute", "hold", "unhold", "hangup"),
}
ROLES = ("agent", "customer")


def build_app(emulator: PhloEmulator) -> EmulatorApp:
    return EmulatorApp(emulator)


class EmulatorApp:
    """The outer ASGI layer (see the module docstring for the order of checks)."""

    def __init__(self, emulator: PhloEmulator) -> None:
        self.emulator = emulator
        self.router = Starlette(
            routes=_routes(),
            exception_handlers={
                HTTPException: _http_exception,  # type: ignore[dict-item]
                EmulatorError: _emulator_error,  # type: ignore[dict-item]
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator/"):
            await self.router({**scope, _CONTEXT: (self.emulator, None)}, receive, send)
            return
        emulator = self.emulator
        body = await _read_body(receive)
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        claimed_id, token = _basic_credentials(headers.pop("authorization", None))
        method = scope["method"]
        path = scope["path"]
        api_id = new_id()
        with emulator._lock:
            record = ReceivedRequest(
                seq=len(emulator._requests) + 1,
                method=method,
                path=path,
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
                json=_try_json(body),
                auth_id=claimed_id,
                api_id=api_id,
                received_at=emulator._clock(),
            )
            emulator._requests.append(record)
            emulator._limiter.arrive(claimed_id or "")
            fault = emulator._faults.decide(method, path)
            record.fault = fault.kind
            record.latency = fault.latency

        if fault.latency > 0:
            await anyio.sleep(fault.latency)
        if fault.kind == "drop_before":
            await _drop(scope, receive)
            return
        if fault.kind == "error":
            status = fault.status or 503
            await _answer(send, record, status, _fault_text(status))
            return
        if fault.kind == "rate_limit":
            await _too_many(send, record, 1 if fault.retry_after is None else fault.retry_after)
            return

        captured = _Captured()
        await self._process(scope, receive, body, record, claimed_id, token, captured.send)

        if fault.kind == "drop_after":
            with emulator._lock:
                record.status = None  # processed, but nothing was answered
            await _drop(scope, receive)
            return
        if fault.kind == "error_after":
            status = fault.status or 500
            await _answer(send, record, status, _fault_text(status))
            return
        with emulator._lock:
            record.status = captured.status
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
        if claimed_id != emulator.auth_id or not hmac.compare_digest(
            (token or "").encode(), emulator.auth_token.encode()
        ):
            await _answer(
                send, record, 401, UNAUTHORIZED,
                headers={"www-authenticate": 'Basic realm="plivo"'},
            )
            return
        with emulator._lock:
            wait = emulator._limiter.admit(claimed_id)
        if wait is not None:
            await _too_many(send, record, wait)
            return
        inner = {**scope, _CONTEXT: (emulator, record)}
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
    *,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps({"api_id": record.api_id, "error": error}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    record.status = status
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _too_many(send: Send, record: ReceivedRequest, retry_after: int) -> None:
    await _answer(
        send, record, 429, "too many requests: the account's request limit was exceeded",
        headers={"retry-after": str(retry_after)},
    )


def _fault_text(status: int) -> str:
    return "service unavailable" if status == 503 else "internal server error"


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
        return json.loads(body)
    except ValueError:
        return None


# -- answers ----------------------------------------------------------------


def _context(request: Request) -> tuple[PhloEmulator, ReceivedRequest]:
    emulator, record = request.scope[_CONTEXT]
    return emulator, record


def _api_id(request: Request) -> str:
    record = request.scope.get(_CONTEXT, (None, None))[1]
    return record.api_id if record is not None else new_id()


def _ok(request: Request, status: int, content: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"api_id": _api_id(request), **content}, status_code=status)


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    text = "not found" if exc.status_code == 404 else str(exc.detail)
    if exc.status_code == 405:
        text = f"HTTP method {request.method} not allowed for this URL"
    return JSONResponse(
        {"api_id": _api_id(request), "error": text},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _emulator_error(request: Request, exc: EmulatorError) -> Response:
    return JSONResponse({"api_id": _api_id(request), "error": exc.error}, status_code=exc.status)


async def _json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        if allow_empty:
            return {}
        raise EmulatorError(400, "a JSON object body is required")
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise EmulatorError(400, "Content-Type must be application/json")
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EmulatorError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EmulatorError(400, "the body must be a JSON object")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_keys(data: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    return [f"unknown parameter {key!r}" for key in data if key not in allowed]


def _fail_if(problems: list[str]) -> None:
    if problems:
        raise EmulatorError(400, "; ".join(problems))


def _record(emulator: PhloEmulator, record: ReceivedRequest, **fields: Any) -> None:
    emulator._executed.append(
        ExecutedAction(api_id=record.api_id, request_seq=record.seq, **fields)
    )


def _check_account(record: ReceivedRequest, auth_id: str) -> None:
    if auth_id != record.auth_id:
        raise EmulatorError(401, f"{UNAUTHORIZED} (the URL names account {auth_id})")


# -- PHLO endpoints -------------------------------------------------------------


async def get_phlo(request: Request) -> Response:
    emulator, _ = _context(request)
    with emulator._lock:
        phlo = emulator._state.phlo(request.path_params["phlo_id"])
        return _ok(request, 200, phlo.describe())


async def run_phlo(request: Request) -> Response:
    emulator, record = _context(request)
    _check_account(record, request.path_params["auth_id"])
    phlo_id = request.path_params["phlo_id"]
    with emulator._lock:
        emulator._state.phlo(phlo_id)
    payload = await _json_object(request, allow_empty=True)
    with emulator._lock:
        run = emulator._state.start_run(phlo_id, record.api_id, payload)
        _record(
            emulator, record, kind="run", phlo_id=phlo_id, payload=payload, run_id=run.run_id,
            call_uuids=tuple(run.call_uuids),
        )
    return _ok(request, 201, {"phlo_id": phlo_id, "message": run.message})


async def get_run(request: Request) -> Response:
    emulator, _ = _context(request)
    with emulator._lock:
        run = emulator._state.run(request.path_params["phlo_id"], request.path_params["run_id"])
        return _ok(request, 200, run.describe())


async def get_node(request: Request) -> Response:
    """Any node type: ``GET /phlo/{phlo_id}/{node_type}/{node_id}``."""
    emulator, _ = _context(request)
    params = request.path_params
    with emulator._lock:
        node = emulator._state.node(params["phlo_id"], params["node_id"], params["node_type"])
        return _ok(request, 200, node.describe())


async def node_action(request: Request) -> Response:
    emulator, record = _context(request)
    phlo_id = request.path_params["phlo_id"]
    node_id = request.path_params["node_id"]
    with emulator._lock:
        emulator._state.node(phlo_id, node_id, "multi_party_call")
    data = await _json_object(request)
    problems = _check_keys(data, ("action", "to", "role", "trigger_source"))
    action = data.get("action")
    if action is None:
        problems.append("action is required")
    elif action not in NODE_ACTIONS:
        problems.append(f"action must be one of {', '.join(NODE_ACTIONS)}, not {action!r}")
    for key in ("to", "trigger_source"):
        if key not in data:
            problems.append(f"{key} is required")
        elif not is_address(data[key]):
            problems.append(f"{key} must be a phone number or a SIP URI, not {data[key]!r}")
    role = data.get("role", "agent")
    if role not in ROLES:
        problems.append(f"role must be 'agent' or 'customer', not {role!r}")
    _fail_if(problems)
    action = str(action)
    with emulator._lock:
        emulator._state.node_action(
            phlo_id, node_id, action, data["trigger_source"], data["to"], role
        )
        _record(
            emulator, record, kind=action, phlo_id=phlo_id, node_id=node_id,
            member=data["to"], payload=data,
        )
    return _ok(request, 201, {"error": ""})


async def member_action(request: Request) -> Response:
    emulator, record = _context(request)
    phlo_id = request.path_params["phlo_id"]
    node_id = request.path_params["node_id"]
    address = request.path_params["member_address"]
    node_type = request.path_params["node_type"]
    allowed = MEMBER_ACTIONS.get(node_type)
    if allowed is None:
        raise EmulatorError(404, f"a {node_type} node has no members")
    with emulator._lock:
        emulator._state.node(phlo_id, node_id, node_type)
    data = await _json_object(request)
    problems = _check_keys(data, ("action",))
    action = data.get("action")
    if action is None:
        problems.append("action is required")
    elif action not in allowed:
        problems.append(f"action must be one of {', '.join(allowed)}, not {action!r}")
    _fail_if(problems)
    action = str(action)
    with emulator._lock:
        emulator._state.member_action(phlo_id, node_id, address, action, node_type)
        _record(
            emulator, record, kind=action, phlo_id=phlo_id, node_id=node_id, member=address,
            payload=data,
        )
    return _ok(request, 201, {"error": ""})


# -- Voice API ----------------------------------------------------------------

_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_DTMF = re.compile(r"[0-9A-Da-d#*wW]+(?:@\d+)?")
_SIP_HEADER_LIST = re.compile(r"[A-Za-z0-9]+=[A-Za-z0-9]+(?:,[A-Za-z0-9]+=[A-Za-z0-9]+)*")


def _url(value: Any) -> str | None:
    return None if isinstance(value, str) and _URL.fullmatch(value) else "an http(s) URL"


def _method(value: Any) -> str | None:
    return None if isinstance(value, str) and value.upper() in ("GET", "POST") else "GET or POST"


def _boolean(value: Any) -> str | None:
    ok = isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    return None if ok else "true or false"


def _integer(low: int, high: float = math.inf) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.isdigit():
            number = int(value)
        if number is None or not low <= number <= high:
            upper = "" if high == math.inf else f" and {int(high)}"
            return f"an integer between {low}{upper}" if upper else f"an integer >= {low}"
        return None

    return check


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda value: None if isinstance(value, str) and regex.fullmatch(value) else what


def _caller_name(value: Any) -> str | None:
    return None if isinstance(value, str) and 1 <= len(value) <= 50 else "1 to 50 characters"


def _machine_detection(value: Any) -> str | None:
    ok = isinstance(value, bool) or value in ("true", "false", "hangup")
    return None if ok else "true, false or hangup"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


_CALL_OPTIONS: dict[str, Callable[[Any], str | None]] = {
    "answer_method": _method,
    "ring_url": _url,
    "ring_method": _method,
    "hangup_url": _url,
    "hangup_method": _method,
    "fallback_url": _url,
    "fallback_method": _method,
    "caller_name": _caller_name,
    "send_digits": _pattern(_DTMF, "DTMF digits, w/W pauses and an optional @duration"),
    "send_on_preanswer": _boolean,
    "time_limit": _integer(1),
    "hangup_on_ring": _integer(1),
    "machine_detection": _machine_detection,
    "machine_detection_time": _integer(2000, 10000),
    "machine_detection_url": _url,
    "machine_detection_method": _method,
    "sip_headers": _pattern(_SIP_HEADER_LIST, "key=value pairs of letters and digits"),
    "ring_timeout": _integer(1),
    "parent_call_uuid": _text,
    "error_if_parent_not_found": _boolean,
}


async def create_call(request: Request) -> Response:
    emulator, record = _context(request)
    _check_account(record, request.path_params["auth_id"])
    data = await _json_object(request)
    problems = _check_keys(data, ("from", "to", "answer_url", *_CALL_OPTIONS))
    for key in ("from", "to", "answer_url"):
        if key not in data:
            problems.append(f"{key} is required")
    if "from" in data and not is_address(data["from"]):
        problems.append(f"from must be a phone number or a SIP URI, not {data['from']!r}")
    destinations: list[str] = []
    if "to" in data:
        to = data["to"]
        destinations = to.split("<") if isinstance(to, str) else []
        if not destinations or not all(is_address(part) for part in destinations):
            problems.append(
                "to must be phone numbers or SIP URIs separated by '<', not " + repr(to)
            )
    if "answer_url" in data and _url(data["answer_url"]) is not None:
        problems.append(f"answer_url must be an http(s) URL, not {data['answer_url']!r}")
    for key, check in _CALL_OPTIONS.items():
        if key in data:
            expected = check(data[key])
            if expected is not None:
                problems.append(f"{key} must be {expected}, not {data[key]!r}")
    _fail_if(problems)
    now = emulator._clock()
    with emulator._lock:
        uuids = emulator._state.create_calls(data["from"], destinations, data)
        queued = False
        cps = emulator.config.calls_per_second
        if cps is not None:
            recent = [t for t in emulator._call_times if now - t < 1.0]
            queued = len(recent) >= cps
            emulator._call_times = [*recent, now]
        _record(emulator, record, kind="create_call", payload=data, call_uuids=tuple(uuids))
        callbacks = emulator._state.callbacks
        outgoing = plan_callbacks(
            callbacks, auth_id=emulator.auth_id, auth_token=emulator.auth_token,
            from_=data["from"], destinations=list(zip(uuids, destinations, strict=True)),
            options=data,
        )
    send_callbacks(callbacks, outgoing)  # in the background: the answer never waits
    request_uuid: str | list[str] = uuids[0] if len(uuids) == 1 else uuids
    if queued:
        return _ok(request, 200, {"message": "call queued", "request_uuid": request_uuid})
    return _ok(request, 201, {"message": "call fired", "request_uuid": request_uuid})


# -- admin API ------------------------------------------------------------------


def _admin(request: Request) -> PhloEmulator:
    emulator: PhloEmulator = request.scope[_CONTEXT][0]
    return emulator


async def admin_requests(request: Request) -> Response:
    return JSONResponse(
        [
            {
                "seq": r.seq,
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "json": r.json,
                "auth_id": r.auth_id,
                "api_id": r.api_id,
                "status": r.status,
                "fault": r.fault,
                "latency": r.latency,
            }
            for r in _admin(request).requests
        ]
    )


async def admin_executed(request: Request) -> Response:
    return JSONResponse(
        [
            {
                "kind": a.kind,
                "api_id": a.api_id,
                "request_seq": a.request_seq,
                "phlo_id": a.phlo_id,
                "node_id": a.node_id,
                "member": a.member,
                "payload": a.payload,
                "run_id": a.run_id,
                "call_uuids": list(a.call_uuids),
            }
            for a in _admin(request).executed
        ]
    )


async def admin_callbacks(request: Request) -> Response:
    return JSONResponse([dataclasses.asdict(r) for r in _admin(request).callbacks])


async def admin_state(request: Request) -> Response:
    return JSONResponse(_admin(request).snapshot())


async def admin_reset(request: Request) -> Response:
    _admin(request).reset()
    return JSONResponse({"reset": True})


async def admin_inject(request: Request) -> Response:
    data = await _json_object(request)
    _fail_if(_check_keys(data, ("kind", "times", "method", "path", "status", "retry_after")))
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise EmulatorError(400, f"kind must be one of {', '.join(FAULT_KINDS)}")
    try:
        _admin(request).inject(
            kind,
            times=data.get("times", 1),
            method=data.get("method"),
            path=data.get("path"),
            status=data.get("status", 503),
            retry_after=data.get("retry_after", 1),
        )
    except (TypeError, ValueError, re.error) as exc:
        raise EmulatorError(400, str(exc)) from None
    return JSONResponse({"pending": _admin(request).pending_faults}, status_code=201)


def _routes() -> list[BaseRoute]:
    def both(path: str, endpoint: Callable[[Request], Any], methods: list[str]) -> list[BaseRoute]:
        other = path[:-1] if path.endswith("/") else path + "/"
        return [Route(path, endpoint, methods=methods), Route(other, endpoint, methods=methods)]

    return [
        *both("/v1/phlo/{phlo_id}", get_phlo, ["GET"]),
        *both("/v1/account/{auth_id}/phlo/{phlo_id}", run_phlo, ["POST"]),
        *both("/v1/phlo/{phlo_id}/runs/{run_id}", get_run, ["GET"]),
        *both("/v1/phlo/{phlo_id}/multi_party_call/{node_id}", node_action, ["POST"]),
        *both("/v1/phlo/{phlo_id}/{node_type}/{node_id}", get_node, ["GET"]),
        *both(
            "/v1/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}",
            member_action,
            ["POST"],
        ),
        *both("/v1/Account/{auth_id}/Call/", create_call, ["POST"]),
        Route("/_emulator/requests", admin_requests, methods=["GET"]),
        Route("/_emulator/executed", admin_executed, methods=["GET"]),
        Route("/_emulator/callbacks", admin_callbacks, methods=["GET"]),
        Route("/_emulator/state", admin_state, methods=["GET"]),
        Route("/_emulator/reset", admin_reset, methods=["POST"]),
        Route("/_emulator/inject", admin_inject, methods=["POST"]),
    ]
