"""What every endpoint shares: the request's context, the JSON answers and
errors, and the body checks.

The outer gate (:mod:`._app`) puts the emulator and the request's record in
the ASGI scope under :data:`CONTEXT`; endpoints read them back with
:func:`context`. Errors are answered as Plivo answers them:
``{"api_id": ..., "error": ...}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._state import EmulatorError, new_id

if TYPE_CHECKING:
    from ._emulator import PhloEmulator
    from ._records import ReceivedRequest

#: Key in the ASGI scope of ``(emulator, record)``; the record is None on the admin API.
CONTEXT = "plivo_emulator.context"

UNAUTHORIZED = (
    "Could not verify your access level for that URL. You have to login with proper credentials."
)


def context(request: Request) -> tuple[PhloEmulator, ReceivedRequest]:
    emulator, record = request.scope[CONTEXT]
    return emulator, record


def emulator_of(request: Request) -> PhloEmulator:
    emulator: PhloEmulator = request.scope[CONTEXT][0]
    return emulator


def api_id(request: Request) -> str:
    record = request.scope.get(CONTEXT, (None, None))[1]
    return record.api_id if record is not None else new_id()


def ok(request: Request, status: int, content: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"api_id": api_id(request), **content}, status_code=status)


async def http_exception(request: Request, exc: HTTPException) -> Response:
    text = "not found" if exc.status_code == 404 else str(exc.detail)
    if exc.status_code == 405:
        text = f"HTTP method {request.method} not allowed for this URL"
    return JSONResponse(
        {"api_id": api_id(request), "error": text},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def emulator_error(request: Request, exc: EmulatorError) -> Response:
    return JSONResponse({"api_id": api_id(request), "error": exc.error}, status_code=exc.status)


async def json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        if allow_empty:
            return {}
        raise EmulatorError(400, "a JSON object body is required")
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise EmulatorError(400, "Content-Type must be application/json")
    try:
        data = strict_json(body)
    except ValueError as exc:  # UnicodeDecodeError included
        raise EmulatorError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EmulatorError(400, "the body must be a JSON object")
    return data


def strict_json(body: bytes) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity, no number too big for a float
    (``1e999``), which Python's reader accepts and no JSON writer can answer back."""
    return json.loads(body, parse_constant=_reject_constant, parse_float=_finite)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def check_keys(data: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    return [f"unknown parameter {key!r}" for key in data if key not in allowed]


def fail_if(problems: list[str]) -> None:
    if problems:
        raise EmulatorError(400, "; ".join(problems))


def check_account(record: ReceivedRequest, auth_id: str) -> None:
    """A URL naming another account than the credentials is 401, like any mismatch."""
    if auth_id != record.auth_id:
        raise EmulatorError(401, f"{UNAUTHORIZED} (the URL names account {auth_id})")


def both_slashes(
    path: str, endpoint: Callable[[Request], Any], methods: list[str]
) -> list[BaseRoute]:
    """Serve ``path`` with and without its trailing slash, with no redirects
    (Plivo's Python SDK sends the slash, others do not)."""
    other = path[:-1] if path.endswith("/") else path + "/"
    return [Route(path, endpoint, methods=methods), Route(other, endpoint, methods=methods)]
