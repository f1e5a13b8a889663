"""``/_emulator/...``: the unauthenticated admin API, for tests that drive the
emulator over HTTP (requests, executed actions, callbacks, state, reset, inject)."""

from __future__ import annotations

import dataclasses
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._faults import FAULT_KINDS
from ._http import check_keys, emulator_of, fail_if, json_object
from ._state import EmulatorError

__all__ = ["ADMIN_PREFIX", "admin_routes"]

#: Requests under this path skip the gate: never recorded, faulted, or limited.
ADMIN_PREFIX = "/_emulator/"


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
            for r in emulator_of(request).requests
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
            for a in emulator_of(request).executed
        ]
    )


async def admin_callbacks(request: Request) -> Response:
    return JSONResponse([dataclasses.asdict(r) for r in emulator_of(request).callbacks])


async def admin_state(request: Request) -> Response:
    return JSONResponse(emulator_of(request).snapshot())


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
        Route(f"{ADMIN_PREFIX}requests", admin_requests, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}executed", admin_executed, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}callbacks", admin_callbacks, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}state", admin_state, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}reset", admin_reset, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}inject", admin_inject, methods=["POST"]),
    ]
