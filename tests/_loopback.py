"""A loopback HTTP/1.1 server that answers what the test chose and records
every request whole (request line, headers in order, body), so a test checks
the wire format on the fast path and on httpx alike.

Use it through the fixtures of tests/conftest.py: ``loopback``, and
``on_path(**options)`` for a client on it by each ``send_path`` (``"fast"``:
the SDK's own pool; ``"httpx"``: an injected ``httpx.AsyncClient``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"

#: One answer every result model accepts.
BODY = {
    "api_id": "a-1",
    "phlo_id": PHLO_ID,
    "node_id": NODE_ID,
    "run_id": "r-1",
    "error": "",
    "message": "ok",
    "request_uuid": "u-1",
}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server read it."""

    method: str
    target: str  # path and query, as sent
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        """Every value sent for ``name`` (names ignore case)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Loopback:
    base_url: str
    status: int = 201
    body: bytes = json.dumps(BODY).encode()
    headers: list[tuple[str, str]] = field(default_factory=list)
    received: list[ReceivedRequest] = field(default_factory=list)
    #: Connections not yet read to their end (the client's close).
    reading: int = 0

    def answer(self) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} Whatever",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
        ]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@contextlib.asynccontextmanager
async def serve_loopback() -> AsyncIterator[Loopback]:
    """Serve on 127.0.0.1 (an OS-chosen port) until the block ends."""
    writers: set[asyncio.StreamWriter] = set()
    state: list[Loopback] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        state[0].reading += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                headers = [(k, v.strip(" \t")) for k, v in (ln.split(":", 1) for ln in lines)]
                length = sum(int(v) for k, v in headers if k.lower() == "content-length")
                body = await reader.readexactly(length)
                method, target, _ = request_line.split(" ")
                state[0].received.append(ReceivedRequest(method, target, headers, body))
                writer.write(state[0].answer())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            state[0].reading -= 1
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state.append(Loopback(f"http://127.0.0.1:{port}/v1"))
    try:
        yield state[0]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
