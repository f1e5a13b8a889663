"""A FastAPI service that shares one PhloClient, opened and closed by the app's lifespan.

Run it against the bundled emulator (one command, no account), then call it:

    python examples/fastapi_service.py --emulator --port 8000
    curl -X POST localhost:8000/runs -H 'content-type: application/json' -d '{"to": "+14155550111"}'

Against Plivo (or an emulator you started): set PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN, PHLO_ID and
NODE_ID and leave out --emulator (or serve `fastapi_service:app` with any ASGI server).

One client for the whole process: it holds the connection pool, so requests reuse connections
instead of opening one per request. Errors map to honest HTTP answers: bad input 422 (nothing
sent), Plivo's 429 as 429 with Retry-After, an outcome unknown as 502 with
`"outcome": "unknown"` (the call may have been placed: the service never re-sends it, and its
caller must not either before checking), any other Plivo error 502.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from plivo_phlo_async import (
    APIStatusError,
    InvalidParameterError,
    OutcomeUnknownError,
    PhloClient,
    PlivoError,
    RateLimitError,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with PhloClient() as client:  # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN, read once
        app.state.phlo_client = client
        yield


app = FastAPI(lifespan=lifespan)


def phlo_client(request: Request) -> PhloClient:
    client: PhloClient = request.app.state.phlo_client
    return client


Client = Annotated[PhloClient, Depends(phlo_client)]  # the one shared client, per request


class RunRequest(BaseModel):
    to: str


class CallRequest(BaseModel):
    agent: str
    to: str
    role: str = "customer"


@app.exception_handler(PlivoError)
async def plivo_error(request: Request, error: PlivoError) -> JSONResponse:
    body: dict[str, Any] = {"error": type(error).__name__, "detail": str(error)}
    if isinstance(error, InvalidParameterError):  # bad input: nothing was sent
        return JSONResponse({**body, "field": error.field}, status_code=422)
    if isinstance(error, OutcomeUnknownError):  # may have been executed: never re-sent
        return JSONResponse({**body, "outcome": "unknown"}, status_code=502)
    if isinstance(error, RateLimitError):  # not processed: safe to send later
        retry_after = str(round(error.retry_after or 5))
        return JSONResponse(body, status_code=429, headers={"Retry-After": retry_after})
    if isinstance(error, APIStatusError):
        return JSONResponse({**body, "plivo_status": error.status_code}, status_code=502)
    return JSONResponse(body, status_code=502)


@app.post("/runs", status_code=201)
async def start_run(run: RunRequest, client: Client) -> dict[str, str]:
    result = await client.phlo(os.environ["PHLO_ID"]).run(to=run.to)
    return {"run_id": result.run_id}


@app.get("/runs/{run_id}")
async def get_run(run_id: str, client: Client) -> dict[str, Any]:
    run = await client.phlo(os.environ["PHLO_ID"]).get_run(run_id)
    return run.model_dump(mode="json")


def _call(client: PhloClient) -> Any:
    return client.phlo(os.environ["PHLO_ID"]).multi_party_call(os.environ["NODE_ID"])


@app.post("/calls", status_code=201)
async def place_call(call: CallRequest, client: Client) -> dict[str, str]:
    result = await _call(client).call(call.agent, call.to, role=call.role)
    return {"api_id": result.api_id or ""}


@app.post("/members/{address}/hold")
async def hold(address: str, client: Client) -> dict[str, str]:
    result = await _call(client).member(address).hold()
    return {"api_id": result.api_id or ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator", action="store_true", help="start the bundled emulator")
    args = parser.parse_args(argv)

    import uvicorn
    from _emulator import emulator_environment

    with emulator_environment(args.emulator):
        uvicorn.run(app, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
