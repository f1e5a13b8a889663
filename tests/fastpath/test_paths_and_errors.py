"""The send seam: which path a request takes, and the fast path's HTTP and errors.

The scripted server of tests/_servers.py (real sockets) stands in for Plivo so
that both the asyncio fast path and httpx (under trio) are exercised over the
network, including its failures: refused connections,
connections dropped after the request was read, slow and malformed answers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
import trio
from _servers import Behaviour, Conn, Request, Server
from _waiting import wait_until, wait_until_sync

from plivo_phlo_async import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ConnectionOutcomeUnknownError,
    PhloClient,
    RateLimitError,
    TimeoutOutcomeUnknownError,
)
from plivo_phlo_async._fastpath import Answer, FastPool
from plivo_phlo_async.resources._resource import send_prepared
from plivo_phlo_async.resources.phlo import prepare_run

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "token-for-tests"
GET_JSON = b'{"api_id":"g-1","phlo_id":"p1","node_id":"n1","run_id":"r1"}'
POST_JSON = b'{"api_id":"p-1","error":""}'


# --------------------------------------------------------------------------- server


def reply(
    status: int = 201,
    body: bytes = POST_JSON,
    headers: dict[str, str] | None = None,
    reason: str = "OK",
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Length: {len(body)}",
        "Content-Type: application/json",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def standard(request: Request) -> bytes:
    """What Plivo answers: 200 with details for a GET, 201 for a POST."""
    return reply(200, GET_JSON) if request.method == "GET" else reply(201, POST_JSON)


async def plivo(request: Request, conn: Conn) -> None:
    await conn.send(standard(request))


def answers(data: bytes, *, close: bool = False) -> Behaviour:
    """``data`` to every request; then, if ``close``, the connection is closed."""

    async def behaviour(request: Request, conn: Conn) -> None:
        await conn.send(data)
        if close:
            conn.close()

    return behaviour


async def drops(request: Request, conn: Conn) -> None:
    """The request is read, then the connection closed unanswered."""
    conn.close()


async def hang() -> None:
    """Until the server stops (which cancels it)."""
    await asyncio.get_running_loop().create_future()


async def hangs(request: Request, conn: Conn) -> None:
    """The request is read and never answered."""
    await hang()


def when_released(release: asyncio.Event) -> Behaviour:
    """Plivo's answer once the test sets ``release`` (in the server's loop:
    ``server.loop.call_soon_threadsafe(release.set)``)."""

    async def behaviour(request: Request, conn: Conn) -> None:
        await release.wait()
        await plivo(request, conn)

    return behaviour


@pytest.fixture
def serve(serve: Callable[..., Server]) -> Callable[..., Server]:
    """tests/conftest.py's ``serve``, answering as Plivo does unless told otherwise."""

    def start(behaviour: Behaviour = plivo, **kw: Any) -> Server:
        return serve(behaviour, **kw)

    return start


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    return serve()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def fast_pool(client: PhloClient) -> FastPool | None:
    return client._requester.sender.fast_pool()


# --------------------------------------------------------------------------- selection


async def test_asyncio_default_is_the_fast_path(server: Server) -> None:
    async with server.client() as client:
        pool = fast_pool(client)
        assert isinstance(pool, FastPool)
        result = await client.phlo("p1").multi_party_call("n1").call("+14155550100", "+14155550111")
        assert result.api_id == "p-1"
        assert pool.open_connections == 1  # the request went through the fast pool
    assert len(server.received) == 1


def test_client_built_outside_any_loop_picks_the_fast_path_inside_it(server: Server) -> None:
    client = server.client()  # no event loop running here

    async def use() -> tuple[FastPool | None, str | None]:
        async with client:
            result = await client.phlo("p1").run(to="+14155550111")
            return fast_pool(client), result.run_id

    pool, run_id = asyncio.run(use())
    assert isinstance(pool, FastPool)
    assert run_id == "p-1"
    assert client.is_closed


def test_trio_falls_back_to_httpx_and_works(server: Server) -> None:
    async def use() -> tuple[FastPool | None, str | None, str]:
        async with server.client() as client:
            pool = fast_pool(client)
            action = await client.phlo("p1").multi_party_call("n1").call("+14155550100", "+1415")
            details = await client.phlo.get("p1")
            return pool, action.api_id, details.phlo_id

    pool, api_id, phlo_id = trio.run(use)
    assert pool is None
    assert (api_id, phlo_id) == ("p-1", "p1")
    assert [r.method for r in server.received] == ["POST", "GET"]


async def test_injected_http_client_is_honoured_and_left_open() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"api_id": "mock-1", "error": ""})

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = PhloClient(AUTH_ID, AUTH_TOKEN, http_client=http_client)
    assert fast_pool(client) is None
    result = await client.phlo("p1").multi_party_call("n1").member("+14155550111").hold()
    await client.aclose()
    assert result.api_id == "mock-1"
    assert len(seen) == 1
    assert json.loads(seen[0].content) == {"action": "hold"}
    assert not http_client.is_closed
    await http_client.aclose()


async def test_proxy_argument_goes_through_httpx() -> None:
    async with PhloClient(AUTH_ID, AUTH_TOKEN, proxy="http://127.0.0.1:3128") as client:
        assert fast_pool(client) is None


async def test_proxy_in_the_environment_goes_through_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    async with PhloClient(AUTH_ID, AUTH_TOKEN) as client:
        assert fast_pool(client) is None


async def test_respx_sees_every_request_while_it_mocks(server: Server) -> None:
    async with server.client() as client:
        mpc = client.phlo("p1").multi_party_call("n1")
        with respx.mock:
            route = respx.post(f"{server.base_url}/phlo/p1/multi_party_call/n1").respond(
                201, json={"api_id": "respx-1", "error": ""}
            )
            assert fast_pool(client) is None
            result = await mpc.call("+14155550100", "+14155550111")
        assert route.call_count == 1
        assert result.api_id == "respx-1"
        assert server.received == []
        assert isinstance(fast_pool(client), FastPool)  # back to the fast path after the mock


# --------------------------------------------------------------------------- one request each


Action = tuple[str, Callable[[], Awaitable[Any]], str, str, "dict[str, Any] | None"]


def _actions(client: PhloClient) -> list[Action]:
    phlo = client.phlo("p1")
    mpc = phlo.multi_party_call("n1")
    member = mpc.member("+14155550111")
    node = "/v1/phlo/p1/multi_party_call/n1"
    src, dst = "+14155550100", "+14155550111"
    mpc_body = {"to": dst, "role": "agent", "trigger_source": src}
    answer_url = "https://example.com/a.xml"
    return [
        ("phlo.get", lambda: client.phlo.get("p1"), "GET", "/v1/phlo/p1", None),
        ("run", lambda: phlo.run(to=dst), "POST", f"/v1/account/{AUTH_ID}/phlo/p1", {"to": dst}),
        ("get_run", lambda: phlo.get_run("r1"), "GET", "/v1/phlo/p1/runs/r1", None),
        ("mpc.get", mpc.get, "GET", node, None),
        ("call", lambda: mpc.call(src, dst), "POST", node, {"action": "call", **mpc_body}),
        (
            "warm_transfer",
            lambda: mpc.warm_transfer(src, dst),
            "POST",
            node,
            {"action": "warm_transfer", **mpc_body},
        ),
        (
            "cold_transfer",
            lambda: mpc.cold_transfer(src, dst),
            "POST",
            node,
            {"action": "cold_transfer", **mpc_body},
        ),
        *[
            (name, getattr(member, name), "POST", f"{node}/members/{dst}", {"action": name})
            for name in (
                "hold",
                "unhold",
                "hangup",
                "resume_call",
                "abort_transfer",
                "voicemail_drop",
            )
        ],
        (
            "calls.create",
            lambda: client.calls.create(src, dst, answer_url),
            "POST",
            f"/v1/Account/{AUTH_ID}/Call/",
            {"from": src, "to": dst, "answer_url": answer_url},
        ),
    ]


async def test_every_action_is_exactly_one_request_on_the_fast_path(server: Server) -> None:
    async with server.client() as client:
        assert isinstance(fast_pool(client), FastPool)
        for name, call, method, path, body in _actions(client):
            before = len(server.received)
            await call()
            sent = server.received[before:]
            assert len(sent) == 1, name
            assert (sent[0].method, sent[0].path) == (method, path), name
            if body is None:
                assert sent[0].body == b"", name
            else:
                assert json.loads(sent[0].body) == body, name
                assert sent[0].headers["content-type"] == "application/json"
            assert sent[0].headers["authorization"].startswith("Basic ")
            assert sent[0].headers["user-agent"].startswith("plivo-phlo-async/")
            assert sent[0].headers["host"] == f"127.0.0.1:{server.port}"
    assert server.connections == 1  # all on one kept-alive connection


# --------------------------------------------------------------------------- failures


async def test_connect_refused_is_never_sent_so_a_post_is_retried(sleeps: list[float]) -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    async with PhloClient(AUTH_ID, AUTH_TOKEN, base_url=base, max_retries=2) as client:
        assert isinstance(fast_pool(client), FastPool)
        with pytest.raises(APIConnectionError) as caught:
            await client.phlo("p1").multi_party_call("n1").call("+14155550100", "+14155550111")
    assert not caught.value.outcome_unknown
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.request is not None
    assert caught.value.request.method == "POST"
    assert len(sleeps) == 2  # both retries were taken: the request never left


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(drops, id="no-answer"),
        pytest.param(
            answers(b"HTTP/1.1 201 Created\r\nContent-Length: 40\r\n\r\n{}", close=True),
            id="cut-body",
        ),
    ],
)
async def test_connection_dropped_after_the_request_is_outcome_unknown_for_a_post(
    serve: Callable[..., Server], sleeps: list[float], answer: Behaviour
) -> None:
    server = serve(answer)
    async with server.client(max_retries=2) as client:
        with pytest.raises(ConnectionOutcomeUnknownError) as caught:
            await client.phlo("p1").multi_party_call("n1").call("+14155550100", "+14155550111")
    assert caught.value.outcome_unknown
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert len(server.received) == 1  # never sent twice
    assert sleeps == []


async def test_connection_dropped_after_the_request_is_retried_for_a_get(
    serve: Callable[..., Server], sleeps: list[float]
) -> None:
    server = serve(drops)
    async with server.client(max_retries=2) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.phlo.get("p1")
    assert not caught.value.outcome_unknown
    assert len(server.received) == 3
    assert len(sleeps) == 2


async def test_read_timeout_on_a_post_is_outcome_unknown(serve: Callable[..., Server]) -> None:
    server = serve(hangs)
    async with server.client(timeout=httpx.Timeout(5.0, read=0.2)) as client:
        with pytest.raises(TimeoutOutcomeUnknownError) as caught:
            await client.phlo("p1").run(to="+14155550111")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(server.received) == 1


async def test_read_timeout_on_a_get_is_retried(
    serve: Callable[..., Server], sleeps: list[float]
) -> None:
    server = serve(hangs)
    async with server.client(max_retries=1) as client:
        with pytest.raises(APITimeoutError) as caught:
            await client.phlo.get("p1", timeout=httpx.Timeout(5.0, read=0.2))
    assert not caught.value.outcome_unknown
    assert len(server.received) == 2
    assert len(sleeps) == 1


async def test_write_timeout_applies_when_the_server_stops_reading(
    serve: Callable[..., Server],
) -> None:
    async def stops_reading(conn: Conn) -> None:
        conn.writer.transport.pause_reading()
        await hang()

    server = serve(handler=stops_reading)
    # Far beyond what the socket buffers take, so the write blocks; sent as prepared bytes,
    # since validation refuses a body this size (1 MiB cap).
    content = json.dumps({"blob": "x" * 32_000_000}).encode()
    async with server.client(timeout=httpx.Timeout(5.0, write=0.2)) as client:
        with pytest.raises(TimeoutOutcomeUnknownError) as caught:
            await send_prepared(client, prepare_run(client.phlo("p1"), content))
    assert isinstance(caught.value.__cause__, httpx.WriteTimeout)


async def test_a_slow_trickle_within_the_read_timeout_is_not_a_timeout(
    serve: Callable[..., Server],
) -> None:
    answer = reply(201, POST_JSON)

    async def trickles(request: Request, conn: Conn) -> None:
        for piece in (answer[:20], answer[20:40], answer[40:]):
            # A slow server is the behaviour under test: 0.45 s in all, never 0.3 s silent.
            await asyncio.sleep(0.15)
            await conn.send(piece)

    server = serve(trickles)
    async with server.client(timeout=httpx.Timeout(5.0, read=0.3)) as client:
        result = await client.phlo("p1").run()
    assert result.api_id == "p-1"


async def test_pool_timeout_is_never_sent_so_it_is_retried(
    serve: Callable[..., Server], sleeps: list[float]
) -> None:
    release = asyncio.Event()
    server = serve(when_released(release))
    timeout = httpx.Timeout(5.0, pool=0.1)
    async with server.client(max_connections=1, max_retries=1, timeout=timeout) as client:
        mpc = client.phlo("p1").multi_party_call("n1")
        async with anyio.create_task_group() as tg:
            tg.start_soon(mpc.get)
            # The only connection is now busy: the server has the GET, and holds it.
            await wait_until(lambda: len(server.received) == 1, what="the GET")
            with pytest.raises(APITimeoutError) as caught:
                await mpc.call("+14155550100", "+14155550111")
            server.loop.call_soon_threadsafe(release.set)
    assert not caught.value.outcome_unknown
    assert isinstance(caught.value.__cause__, httpx.PoolTimeout)
    assert len(sleeps) == 1
    assert [r.method for r in server.received] == ["GET"]


async def test_requests_beyond_the_pool_wait_their_turn(server: Server) -> None:
    async with server.client(max_connections=2) as client:
        mpc = client.phlo("p1").multi_party_call("n1")
        results: list[str | None] = []

        async def trigger(n: int) -> None:
            results.append((await mpc.call("+14155550100", f"+1415555{n:04d}")).api_id)

        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(trigger, n)
    assert results == ["p-1"] * 40
    assert len(server.received) == 40
    assert server.connections == 2


async def test_a_request_cancelled_while_queued_gives_its_turn_away(
    serve: Callable[..., Server],
) -> None:
    release = asyncio.Event()
    server = serve(when_released(release))
    async with server.client(max_connections=1, timeout=httpx.Timeout(5.0, pool=2.0)) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.phlo.get, "p1")  # holds the only connection
            await wait_until(lambda: len(server.received) == 1, what="the first GET")
            with anyio.move_on_after(0.05):
                await client.phlo.get("p1")  # queued, then cancelled
            server.loop.call_soon_threadsafe(release.set)
        details = await client.phlo.get("p1")  # would wait out the pool timeout if a turn leaked
    assert details.phlo_id == "p1"
    assert len(server.received) == 2


async def test_connect_timeout_is_never_sent_so_a_post_is_retried(
    server: Server, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with server.client(timeout=httpx.Timeout(5.0, connect=0.05)) as client:
        pool = fast_pool(client)
        assert pool is not None

        async def never_connects(*args: Any, **kwargs: Any) -> Any:
            await hang()  # a connect that never ends: the connect timeout ends it

        monkeypatch.setattr(pool.loop, "create_connection", never_connects)
        with pytest.raises(APITimeoutError) as caught:
            await client.phlo("p1").run()
    assert not caught.value.outcome_unknown
    assert isinstance(caught.value.__cause__, httpx.ConnectTimeout)
    assert len(sleeps) == 2
    assert server.received == []


async def test_a_malformed_answer_to_a_post_is_outcome_unknown(
    serve: Callable[..., Server],
) -> None:
    server = serve(answers(b"HTTP/1.1 20X Created\r\nContent-Length: 2\r\n\r\n{}"))
    async with server.client() as client:
        with pytest.raises(ConnectionOutcomeUnknownError) as caught:
            await client.phlo("p1").run()
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert len(server.received) == 1


async def test_error_statuses_carry_a_full_httpx_response(serve: Callable[..., Server]) -> None:
    server = serve(
        answers(
            reply(
                429,
                b'{"api_id":"x","error":"slow down"}',
                {"Retry-After": "7"},
                "Too Many Requests",
            )
        )
    )
    async with server.client(max_retries=0) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.phlo("p1").multi_party_call("n1").call("+14155550100", "+14155550111")
    error = caught.value
    assert error.retry_after == 7.0
    assert error.status_code == 429
    assert isinstance(error.response, httpx.Response)
    assert error.response.headers["retry-after"] == "7"
    assert error.response.reason_phrase == "Too Many Requests"
    assert error.response.request.method == "POST"
    assert json.loads(error.response.request.content)["action"] == "call"
    assert "[redacted]" not in error.response.request.headers["authorization"]


async def test_cancelled_request_frees_its_connection_slot(serve: Callable[..., Server]) -> None:
    async def first_hangs(request: Request, conn: Conn) -> None:
        if len(conn.server.received) == 1:
            await hang()
        await plivo(request, conn)

    server = serve(first_hangs)
    async with server.client(max_connections=1, timeout=httpx.Timeout(5.0, pool=1.0)) as client:
        with anyio.move_on_after(0.2):
            await client.phlo.get("p1")
        details = await client.phlo.get("p1")
    assert details.phlo_id == "p1"
    assert server.connections == 2  # the cancelled request's connection was not reused


# --------------------------------------------------------------------------- HTTP details


@pytest.mark.parametrize(
    ("answer", "reusable"),
    [
        pytest.param(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"a;ext=1\r\n"
            + POST_JSON[:10]
            + b"\r\n"
            + f"{len(POST_JSON) - 10:x}".encode()
            + b"\r\n"
            + POST_JSON[10:]
            + b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
            True,
            id="chunked",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\n" + reply(201, POST_JSON), True, id="informational"
        ),
        pytest.param(reply(201, POST_JSON, {"Connection": "close"}), False, id="connection-close"),
        pytest.param(
            reply(201, gzip.compress(POST_JSON), {"Content-Encoding": "gzip"}), True, id="gzip"
        ),
    ],
)
async def test_answers_framed_every_valid_way_are_read(
    serve: Callable[..., Server], answer: bytes, reusable: bool
) -> None:
    server = serve(answers(answer))
    async with server.client() as client:
        first = await client.phlo("p1").run()
        second = await client.phlo("p1").run()
    assert first.api_id == second.api_id == "p-1"
    assert server.connections == (1 if reusable else 2)


async def test_a_body_delimited_by_closing_the_connection_is_read(
    serve: Callable[..., Server],
) -> None:
    head = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n"
    server = serve(answers(head + POST_JSON, close=True))
    async with server.client() as client:
        first = await client.phlo("p1").run()
        second = await client.phlo("p1").run()
    assert first.api_id == second.api_id == "p-1"
    assert server.connections == 2


async def test_a_kept_alive_connection_the_server_has_closed_is_not_written_to(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    async with server.client() as client:
        await client.phlo("p1").run()
        # The server closes the kept-alive connection (a keep-alive timeout) while
        # the loop is held, as a busy service's would be: the close is in the
        # socket but no callback has seen it yet.
        [conn] = server.tally.conns
        server.loop.call_soon_threadsafe(conn.close)
        wait_until_sync(lambda: conn.socket_closed, what="the server's close")
        result = await client.phlo("p1").run()  # a POST: must not land on the dead connection
    assert result.api_id == "p-1"
    assert server.connections == 2


async def test_aclose_closes_the_pool_and_later_requests_raise_client_closed(
    server: Server,
) -> None:
    client = server.client()
    await client.phlo.get("p1")
    pool = fast_pool(client)
    assert pool is not None
    assert pool.open_connections == 1
    await client.aclose()
    assert client.is_closed
    assert pool.open_connections == 0
    with pytest.raises(ClientClosedError):
        await client.phlo.get("p1")


async def test_success_needs_no_httpx_objects(server: Server) -> None:
    async with server.client() as client:
        transport = client._requester
        answer = await transport.request(
            "GET",
            f"{server.base_url}/phlo/p1",
            timeout=client.timeout,
            deadline=None,
            retry=client._retry,
        )
    assert isinstance(answer, Answer)
    assert json.loads(answer.content)["phlo_id"] == "p1"
    response = answer.to_httpx()
    assert response.status_code == 200
    assert str(response.request.url) == f"{server.base_url}/phlo/p1"


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [  # noqa: S607 - openssl from PATH
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _tls_server(serve: Callable[..., Server], certificate: tuple[Path, Path]) -> Server:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return serve(tls=context)


async def test_tls_is_verified_and_an_untrusted_certificate_is_never_sent(
    serve: Callable[..., Server], certificate: tuple[Path, Path], sleeps: list[float]
) -> None:
    server = _tls_server(serve, certificate)
    async with server.client(max_retries=0) as client:
        assert isinstance(fast_pool(client), FastPool)
        with pytest.raises(APIConnectionError) as caught:
            await client.phlo("p1").run()
    assert not caught.value.outcome_unknown
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert server.received == []


async def test_tls_with_a_trusted_certificate_works_on_the_fast_path(
    serve: Callable[..., Server], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    server = _tls_server(serve, certificate)
    async with server.client() as client:
        assert isinstance(fast_pool(client), FastPool)
        result = await client.phlo("p1").run(to="+14155550111")
        details = await client.phlo.get("p1")
    assert (result.api_id, details.phlo_id) == ("p-1", "p1")
    assert server.connections == 1
