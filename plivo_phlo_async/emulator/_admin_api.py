"""``/_emulator/...``: the unauthenticated admin API, for tests that drive the
emulator over HTTP (requests, executed actions, callbacks, state, reset, inject)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._faults import FAULT_KINDS
from ._http import check_keys, emulator_of, fail_if, json_object
from ._state import EmulatorError

if TYPE_CHECKING:
    from ._emulator import PhloEmulator

__all__ = ["ADMIN_PREFIX", "admin_routes"]

#: Requests under this path skip the gate: never recorded, faulted, or limited.
ADMIN_PREFIX = "/_emulator/"


#: What each ``GET /_emulator/{name}`` answers (a request without its headers, raw body
#: and clock reading).
_VIEWS: dict[str, Callable[[PhloEmulator], Any]] = {
    "requests": lambda emulator: [
        {k: v for k, v in asdict(r).items() if k not in ("headers", "body", "received_at")}
        for r in emulator.requests
    ],
    "executed": lambda emulator: [asdict(a) for a in emulator.executed],
    "callbacks": lambda emulator: [asdict(r) for r in emulator.callbacks],
    "state": lambda emulator: emulator.snapshot(),
}


def _view(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(_VIEWS[name](emulator_of(request)))

    return endpoint


async def admin_reset(request: Request) -> Response:
    emulator_of(request).reset()
    return JSONResponse({"reset": True})


async def admin_inject(request: Request) -> Response:
    data = await json_object(request)
    fail_if(check_keys(data, ("kind", "times", "method", "path", "status", "retry_after")))
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise EmulatorError(400, f"kind must be one of {', '.join(FAULT_KINDS)}")
    emulator = emulator_of(request)
    try:
        emulator.inject(
            kind,
            times=data.get("times", 1),
            method=data.get("method"),
            path=data.get("path"),
            status=data.get("status", 503),
            retry_after=data.get("retry_after", 1),
        )
    except (TypeError, ValueError, re.error) as exc:
        raise EmulatorError(400, str(exc)) from None
    return JSONResponse({"pending": emulator.pending_faults}, status_code=201)


def admin_routes() -> list[BaseRoute]:
    return [
        *(Route(f"{ADMIN_PREFIX}{name}", _view(name), methods=["GET"]) for name in _VIEWS),
        Route(f"{ADMIN_PREFIX}reset", admin_reset, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}inject", admin_inject, methods=["POST"]),
    ]
