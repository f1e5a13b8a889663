"""The fast pool builds its TLS context at the first https connect: a failure to
build it is typed and leaves nothing sent.

CA certificates that cannot be loaded (``PhloClient()`` checked them; they
changed since) are a ``ConfigurationError`` naming the variable; no free
descriptor to read them with is a connect error, retried like one, and the
same client works once descriptors are free again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from _descriptors import no_free_descriptor
from _servers import Server

from plivo_phlo_async import CannotConnectError, ConfigurationError, PhloClient
from plivo_phlo_async.bulk import Outcome, OutcomeStatus

from .conftest import tls_context

pytestmark = pytest.mark.usefixtures("trust")


async def test_certificates_gone_after_construction_are_a_configuration_error(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve(tls=tls_context(ca, "127.0.0.1"))
    client = connect(server)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))

    with pytest.raises(ConfigurationError) as caught:
        await client.phlo("tls").run(n=1)

    assert caught.value.field == "SSL_CERT_FILE"
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    assert server.connections == 0
    assert server.received == []


async def test_no_free_descriptor_for_the_certificates_is_a_retried_connect_error(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
    retry_waits: list[float],
) -> None:
    server = serve(tls=tls_context(ca, "127.0.0.1"))
    client = connect(server)  # max_retries=2: a POST that was never sent is retried

    with no_free_descriptor(), pytest.raises(CannotConnectError) as caught:
        await client.phlo("tls").run(n=1)

    assert not caught.value.outcome_unknown
    assert "Too many open files" in str(caught.value)
    assert len(retry_waits) == 2
    assert server.connections == 0
    result = await client.phlo("tls").run(n=1)  # the same client, descriptors free again
    assert result.run_id == "run-tls"
    assert server.count("POST", "tls") == 1


async def test_a_bulk_job_meeting_certificates_gone_failed_and_was_not_sent(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve(tls=tls_context(ca, "127.0.0.1"))
    client = connect(server)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))

    report = await client.bulk([{"n": 1}], phlo_id="tls", rate_limit=None).run()

    [failure] = report.failures
    assert isinstance(failure.error, ConfigurationError)
    assert report.unknown == []  # not "outcome unknown": it certainly never left
    assert report.requests_sent == 0
    assert server.connections == 0


async def test_a_bulk_run_meeting_certificates_gone_stops_instead_of_failing_every_job(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve(tls=tls_context(ca, "127.0.0.1"))
    client = connect(server)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))

    skipped: list[Outcome] = []
    runner = client.bulk(
        [{"n": n} for n in range(20)],
        phlo_id="tls",
        concurrency=1,
        on_outcome=lambda o: skipped.append(o) if o.status is OutcomeStatus.SKIPPED else None,
    )
    report = await runner.run()

    [failure] = report.failures  # the one that met it; the rest were never tried
    assert isinstance(failure.error, ConfigurationError)
    assert isinstance(report.stopped_by, ConfigurationError)
    assert (report.failed, report.skipped, len(skipped)) == (1, 19, 19)
    assert report.stop_reason is not None
    assert "SSL_CERT_FILE" in report.stop_reason
    assert {o.reason for o in skipped} == {report.stop_reason}
    assert report.requests_sent == 0
    assert server.connections == 0
