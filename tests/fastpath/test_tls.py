"""TLS is always verified: an untrusted certificate, a hostname mismatch or a
protocol older than TLS 1.2 is refused before any byte of the request leaves.

The fast path does TLS itself over a plain TCP transport: a close during the
handshake is a connect error too; a body framed by the close is complete only
after close_notify (a FIN alone may be anyone cutting the stream); session
tickets read with an answer, whole or in two reads, leave a connection
reusable; a large
upload is encrypted and sent whole.

The test CA (trustme, conftest's ``ca`` and ``trust``) is trusted through
``SSL_CERT_FILE``, which httpx's ``create_ssl_context`` honours, as a user's
corporate CA would be.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import warnings
from collections.abc import Callable

import pytest
import trustme
from _servers import Conn, Request, Server, own_answer

from plivo_phlo_async import APIConnectionError, ConnectionOutcomeUnknownError, PhloClient
from plivo_phlo_async.resources._resource import send_prepared
from plivo_phlo_async.resources.phlo import prepare_run

from .conftest import outcome


def server_context(
    ca: trustme.CA, *hostnames: str, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*hostnames).configure_cert(context)
    if maximum is not None:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL speak TLS 1.0/1.1 at all
    return context


async def refused_before_sending(server: Server, client: PhloClient) -> APIConnectionError:
    with pytest.raises(APIConnectionError) as caught:
        await client.phlo("tls").run(n=1)
    assert not caught.value.outcome_unknown  # the request never left
    assert server.received == []
    return caught.value


@pytest.mark.usefixtures("trust")
async def test_a_trusted_certificate_works(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
) -> None:
    server = serve(tls=server_context(ca, "127.0.0.1"))
    client = connect(server)
    result = await client.phlo("over-tls").run(n=1)
    details = await client.phlo("over-tls").get()
    assert (result.run_id, details.phlo_id) == ("run-over-tls", "over-tls")
    assert server.connections == 1
    assert server.count("POST", "over-tls") == 1


async def test_an_untrusted_certificate_is_refused(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    server = serve(tls=server_context(ca, "127.0.0.1"))
    error = await refused_before_sending(server, connect(server, max_retries=1))
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


@pytest.mark.usefixtures("trust")
async def test_a_hostname_mismatch_is_refused(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
) -> None:
    server = serve(tls=server_context(ca, "api.example.org"))
    await refused_before_sending(server, connect(server, max_retries=1))


def _can_serve_tls_1_1(context: ssl.SSLContext) -> bool:
    """Whether the local OpenSSL can complete a TLS 1.1 handshake at all."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        probe.minimum_version = ssl.TLSVersion.TLSv1
        probe.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        probe.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        return False
    server = Server(tls=context)
    try:
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw,
            probe.wrap_socket(raw) as tls,
        ):
            return tls.version() in ("TLSv1", "TLSv1.1")
    except (ssl.SSLError, OSError):
        return False
    finally:
        server.stop()


@pytest.mark.usefixtures("trust")
async def test_a_server_that_only_speaks_tls_older_than_1_2_is_refused(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
) -> None:
    context = server_context(ca, "127.0.0.1", maximum=ssl.TLSVersion.TLSv1_1)
    if not _can_serve_tls_1_1(context):
        pytest.skip("the local OpenSSL cannot serve TLS 1.0/1.1, so there is nothing to refuse")
    server = serve(tls=context)
    await refused_before_sending(server, connect(server, max_retries=1))


def unframed_then_closed(*, notify: bool) -> Callable[[Request, Conn], object]:
    """Answers with a body framed by the close (no Content-Length), then closes:
    close_notify and FIN, or (``notify`` false) a FIN alone."""

    async def behaviour(request: Request, conn: Conn) -> None:
        await conn.send(own_answer(request, length=False))
        conn.close(notify=notify)

    return behaviour


@pytest.mark.usefixtures("trust")
async def test_a_body_ended_by_close_notify_is_complete(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
) -> None:
    server = serve(unframed_then_closed(notify=True), tls=server_context(ca, "127.0.0.1"))
    result = await connect(server).phlo("until-close").run(n=1)
    assert result.run_id == "run-until-close"


@pytest.mark.usefixtures("trust")
async def test_a_body_cut_by_a_fin_without_close_notify_is_not_complete(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
) -> None:
    """Issue 17, item 7: whoever sent the FIN may have cut the body short."""
    server = serve(unframed_then_closed(notify=False), tls=server_context(ca, "127.0.0.1"))
    result = await outcome(connect(server).phlo("cut").run(n=1))
    assert isinstance(result, ConnectionOutcomeUnknownError), repr(result)
    assert server.count("POST", "cut") == 1  # not sent again


def tickets_with_first_answer(*, split: bool) -> Callable[[Request, Conn], object]:
    """The session tickets held back at the handshake come with the first answer,
    in the same write, just before it (records keep their order: nothing may come
    after the answer). ``split``: the first half of them 20 ms earlier, so that a
    ticket record arrives in two reads while the answer is awaited."""

    async def behaviour(request: Request, conn: Conn) -> None:
        tickets = conn.tickets if conn.served == 1 else b""
        if split:
            half = len(tickets) // 2
            await conn.send_raw(tickets[:half])
            await asyncio.sleep(0.02)  # the network's pace, not a synchronisation
            tickets = tickets[half:]
        await conn.send_raw(tickets + conn.encrypt(own_answer(request)))

    return behaviour


@pytest.mark.usefixtures("trust")
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
async def test_session_tickets_read_with_an_answer_leave_the_connection_reusable(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
    split: bool,
) -> None:
    server = serve(
        tickets_with_first_answer(split=split),
        tls=server_context(ca, "127.0.0.1"),
        hold_tickets=True,
    )
    client = connect(server)
    await client.phlo("first").run(n=1)
    second = await client.phlo("second").run(n=2)
    assert second.run_id == "run-second"
    assert server.connections == 1  # reused
    assert [request.connection for request in server.received] == [1, 1]


async def test_a_close_during_the_handshake_is_a_connect_error(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    async def close_at_client_hello(conn: Conn) -> None:
        await conn.raw.read(1)  # the ClientHello has begun
        conn.close()

    server = serve(handler=close_at_client_hello)  # plain TCP under an https URL
    url = f"https://127.0.0.1:{server.port}/v1"
    client = connect(server, base_url=url, voice_base_url=url, max_retries=0)
    await refused_before_sending(server, client)


@pytest.mark.usefixtures("trust")
async def test_a_large_upload_is_sent_whole(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
) -> None:
    """4 MiB through the TLS object and the transport's flow control (pause_writing)."""
    server = serve(tls=server_context(ca, "127.0.0.1"))
    client = connect(server)
    body = json.dumps({"blob": "x" * (4 * 1024 * 1024)}).encode()
    result = await send_prepared(client, prepare_run(client.phlo("upload"), body))
    assert result.run_id == "run-upload"
    assert [request.body for request in server.received] == [body]
