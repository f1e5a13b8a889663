"""Test helper (import it after ``pytest.importorskip("starlette")``).

A bot's webhook server on loopback: a small Starlette app using PlivoWebhook.

It counts what it verified and what it refused, so the tests check both
sides: what the emulator sent, and what the bot accepted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from _waiting import wait_until_sync
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plivo_phlo_async.webhooks import PlivoWebhook

ANSWER_XML = "<Response><Speak>Hello from the bot</Speak></Response>"


@dataclass
class Bot:
    """What the webhook app saw: verified parameters per path, and refusals."""

    webhook: PlivoWebhook
    verified: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            try:
                params = await self.webhook(request)
            except HTTPException as exc:
                with self.lock:
                    self.refused.append((request.url.path, str(exc.detail)))
                raise
            with self.lock:
                self.verified.append(
                    (request.method, request.url.path, {key: params.getlist(key) for key in params})
                )
            if request.url.path.endswith("/answer"):
                return Response(ANSWER_XML, media_type="application/xml")
            return Response("")

        return Starlette(
            routes=[
                Route("/{name:path}", endpoint, methods=["GET", "POST", "PUT"]),
            ]
        )


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        loop="asyncio",
        log_level="warning",
        access_log=False,
        ws="none",
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:

        def started() -> bool:
            assert thread.is_alive(), "the webhook server did not start"
            return bool(server.started)

        wait_until_sync(started, what="the webhook server to start", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextlib.contextmanager
def run_bot(webhook: PlivoWebhook) -> Iterator[Bot]:
    bot = Bot(webhook)
    with serve(bot.app()) as base_url:
        bot.base_url = base_url
        yield bot
