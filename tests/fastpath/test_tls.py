"""TLS is always verified: an untrusted certificate, a hostname mismatch or a
protocol older than TLS 1.2 is refused before any byte of the request leaves.

The test CA (trustme, conftest's ``ca`` and ``trust``) is trusted through
``SSL_CERT_FILE``, which httpx's ``create_ssl_context`` honours, as a user's
corporate CA would be.
"""

from __future__ import annotations

import socket
import ssl
import threading
import warnings
from collections.abc import Callable

import pytest
import trustme

from plivo_phlo_async import APIConnectionError, PhloClient

from ._server import Server


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
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            accepted, _ = listener.accept()
            accepted.settimeout(2)
            outcome: list[bool] = []

            def serve_side() -> None:
                try:
                    with context.wrap_socket(accepted, server_side=True):
                        outcome.append(True)
                except (ssl.SSLError, OSError):
                    outcome.append(False)

            thread = threading.Thread(target=serve_side)
            thread.start()
            try:
                with probe.wrap_socket(raw) as tls:
                    ok = tls.version() in ("TLSv1", "TLSv1.1")
            except (ssl.SSLError, OSError):
                ok = False
            thread.join(5)
            return ok and outcome == [True]
    finally:
        listener.close()


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
