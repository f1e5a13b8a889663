"""A webhook receiver: answers Plivo's signed callbacks, refuses anything unsigned.

Run it against the bundled emulator (one command, no account): it serves the receiver, places
one call through the emulator with its own answer_url and hangup_url, and exits once the
emulator's signed hangup callback has arrived:

    python examples/webhook_receiver.py --emulator --call +14155550111

Against Plivo: set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN, serve it where Plivo can reach it over
HTTPS, and pass that address as --public-url (Plivo signs the public URL, not the one this
server sees behind a proxy); without --call it just serves.

Every callback is checked with `PlivoWebhook` (Plivo's V3 signature, keyed with the account's
token): a request that is not signed, or signed with another token, is answered 403 and never
reaches the handler.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from plivo_phlo_async import PhloClient
from plivo_phlo_async.webhooks import PlivoWebhook


async def verified(request: Request) -> Any:
    """The callback's parameters; 403 unless Plivo (or the emulator) signed it."""
    return await request.app.state.webhook(request)


Verified = Annotated[Any, Depends(verified)]


def create_app(public_url: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with PhloClient() as client:  # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
            app.state.phlo_client = client
            app.state.webhook = PlivoWebhook(client=client, public_url=public_url)
            app.state.hangups = asyncio.Queue()
            yield

    app = FastAPI(lifespan=lifespan)

    @app.api_route("/answer", methods=["GET", "POST"])
    async def answer(params: Verified) -> Response:
        xml = f"<Response><Speak>Hello {params['To']}</Speak></Response>"
        return Response(xml, media_type="application/xml")

    @app.api_route("/hangup", methods=["GET", "POST"])
    async def hangup(request: Request, params: Verified) -> Response:
        print(f"call ended: {params['CallUUID']} {params['HangupCause']}", flush=True)
        await request.app.state.hangups.put(dict(params))
        return Response()

    return app


async def serve(host: str, port: int, public_url: str | None, call_to: str | None) -> int:
    import uvicorn

    app = create_app(public_url)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            return 1  # could not bind: uvicorn said why
        await asyncio.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    base = public_url or f"http://{host}:{bound_port}"
    print(f"listening on {base}", flush=True)
    try:
        if call_to is None:
            await serving
            return 0
        client: PhloClient = app.state.phlo_client
        call = await client.calls.create(
            "+14155550100", call_to, f"{base}/answer", hangup_url=f"{base}/hangup"
        )
        print(f"call placed: {call.request_uuid}", flush=True)
        hangup = await asyncio.wait_for(app.state.hangups.get(), timeout=30)
        print(f"hangup received for {hangup['To']}", flush=True)
        return 0
    finally:
        server.should_exit = True
        await serving


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8808, help="0: any free port")
    parser.add_argument(
        "--public-url", help="the address Plivo calls, e.g. https://bot.example.com"
    )
    parser.add_argument("--call", metavar="NUMBER", help="place one call to this number, then exit")
    parser.add_argument("--emulator", action="store_true", help="start the bundled emulator")
    args = parser.parse_args(argv)

    from _emulator import emulator_environment

    with emulator_environment(args.emulator):
        return asyncio.run(serve(args.host, args.port, args.public_url, args.call))


if __name__ == "__main__":
    sys.exit(main())
