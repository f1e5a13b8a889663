"""OpenTelemetry spans: one CLIENT span per attempt, on the fast path and through httpx.

Spans go to opentelemetry-sdk's in-memory exporter through a tracer provider
put in the API's global for the test only (``set_tracer_provider`` works once
per process, so it is never called).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")

from _servers import AUTH_TOKEN, Conn, Request, Server, own_answer, response
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from plivo_phlo_async import (
    CannotConnectError,
    FastTransport,
    PhloClient,
    ServerOutcomeUnknownError,
    _tracing,
)

PHLO = "phlo-trace"


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)  # the global, for this test only
    return exporter


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def assert_no_secret(span: ReadableSpan) -> None:
    text = json.dumps(attributes(span)) + span.name
    assert AUTH_TOKEN not in text
    assert "Basic " not in text
    assert "authorization" not in text.lower()


async def test_a_run_on_the_fast_path_is_one_client_span(
    exporter: InMemorySpanExporter, serve: Callable[..., Server]
) -> None:
    server = serve()
    async with server.client() as client:
        run = await client.phlo(PHLO).run(to="+14155550100")
    (span,) = exporter.get_finished_spans()
    assert span.kind is trace.SpanKind.CLIENT
    assert span.name == "POST"
    assert attributes(span) == {
        "http.request.method": "POST",
        "url.full": f"{server.base_url}/account/MAXXXXXXXXXXXXXXXXXX/phlo/{PHLO}",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "plivo.phlo_id": PHLO,
        "http.response.status_code": 201,
        "plivo.api_id": run.run_id,
        "plivo.run_id": run.run_id,
    }
    assert span.status.is_ok
    assert_no_secret(span)


async def test_a_node_action_through_httpx_and_fast_transport_names_the_node(
    exporter: InMemorySpanExporter, serve: Callable[..., Server]
) -> None:
    server = serve()
    async with (
        httpx.AsyncClient(transport=FastTransport()) as http,
        server.client(http_client=http) as client,
    ):
        await client.phlo(PHLO).multi_party_call("node-7").call("+14155550100", "+14155550101")
    (span,) = exporter.get_finished_spans()
    found = attributes(span)
    assert found["plivo.phlo_id"] == PHLO
    assert found["plivo.node_type"] == "multi_party_call"
    assert found["plivo.node_id"] == "node-7"
    assert found["http.response.status_code"] == 201
    assert "plivo.run_id" not in found  # a node action starts no run
    assert_no_secret(span)


async def test_each_retry_is_its_own_span_with_a_resend_count(
    exporter: InMemorySpanExporter, serve: Callable[..., Server], sleeps: list[float]
) -> None:
    async def busy_once(request: Request, conn: Conn) -> None:
        if request.connection == 1 and conn.served == 1:
            await conn.send(response(503, b'{"error":"busy"}'))
        else:
            await conn.send(own_answer(request))

    server = serve(busy_once)
    async with server.client() as client:
        await client.phlo(PHLO).get()
    first, second = exporter.get_finished_spans()
    assert attributes(first)["http.response.status_code"] == 503
    assert attributes(first)["error.type"] == "503"
    assert not first.status.is_ok
    assert "http.request.resend_count" not in attributes(first)
    assert attributes(second)["http.request.resend_count"] == 1
    assert attributes(second)["http.response.status_code"] == 200


async def test_a_post_answered_500_is_one_error_span(
    exporter: InMemorySpanExporter, serve: Callable[..., Server]
) -> None:
    async def fail(request: Request, conn: Conn) -> None:
        await conn.send(response(500, b'{"api_id":"a-1","error":"boom"}'))

    server = serve(fail)
    async with server.client() as client:
        with pytest.raises(ServerOutcomeUnknownError):
            await client.phlo(PHLO).run()
    (span,) = exporter.get_finished_spans()
    assert attributes(span)["error.type"] == "500"
    assert attributes(span)["plivo.api_id"] == "a-1"
    assert "plivo.run_id" not in attributes(span)  # no run was started by a 500


async def test_a_refused_connection_is_an_error_span_per_attempt(
    exporter: InMemorySpanExporter, sleeps: list[float]
) -> None:
    async with PhloClient(
        auth_id="MAXXXXXXXXXXXXXXXXXX",
        auth_token=AUTH_TOKEN,
        base_url="http://127.0.0.1:1/v1",
        max_retries=1,
    ) as client:
        with pytest.raises(CannotConnectError):
            await client.phlo(PHLO).run()
    spans = exporter.get_finished_spans()
    assert len(spans) == 2  # never sent: retried once
    assert {attributes(s)["error.type"] for s in spans} == {"httpx.ConnectError"}
    assert "http.response.status_code" not in attributes(spans[0])


async def test_the_span_is_a_child_of_the_callers_span(
    exporter: InMemorySpanExporter, serve: Callable[..., Server]
) -> None:
    server = serve()
    tracer = trace.get_tracer_provider().get_tracer("the-app")
    async with server.client() as client:
        with tracer.start_as_current_span("handle-webhook") as parent:
            await client.phlo(PHLO).get()
    child, outer = exporter.get_finished_spans()
    assert outer.name == "handle-webhook"
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id


def test_no_span_without_a_tracer_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    assert _tracing.start_attempt("GET", "https://phlo.example/v1/phlo/x", 1) is None


def test_no_span_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tracing, "_trace", None)
    assert _tracing.start_attempt("GET", "https://phlo.example/v1/phlo/x", 1) is None


def test_url_full_never_carries_credentials(exporter: InMemorySpanExporter) -> None:
    span = _tracing.start_attempt("GET", "https://user:pw@phlo.example/v1/phlo/x", 1)
    assert span is not None
    span.failed(httpx.ConnectError("no"))
    (done,) = exporter.get_finished_spans()
    assert attributes(done)["url.full"] == "https://phlo.example/v1/phlo/x"


async def test_under_httpx_instrumentation_the_sdk_sends_through_fast_transport(
    exporter: InMemorySpanExporter, serve: Callable[..., Server]
) -> None:
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")
    server = serve()
    instrumentor = instrumentation.HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        async with server.client() as client:
            sender = client._requester.sender
            assert sender.fast_pool() is None  # httpx is patched: not the bare fast path
            await client.phlo(PHLO).run()
            routed = sender._instrumented
            assert routed is not None
            assert isinstance(routed._transport, FastTransport)
    finally:
        instrumentor.uninstrument()
    assert server.count("POST", PHLO) == 1
    (span,) = exporter.get_finished_spans()  # the SDK's span; FastTransport adds none
    assert attributes(span)["plivo.phlo_id"] == PHLO


async def test_a_mock_still_sees_every_request_under_instrumentation(
    exporter: InMemorySpanExporter,
) -> None:
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")
    respx = pytest.importorskip("respx")
    instrumentor = instrumentation.HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        async with (
            respx.mock(base_url="https://phlo.example/v1") as mock,
            PhloClient(
                auth_id="MAXXXXXXXXXXXXXXXXXX",
                auth_token=AUTH_TOKEN,
                base_url="https://phlo.example/v1",
            ) as client,
        ):
            route = mock.get(url__regex=r".*/phlo/.*").respond(200, json={"phlo_id": PHLO})
            await client.phlo(PHLO).get()
            assert route.call_count == 1
            assert client._requester.sender._instrumented is None
    finally:
        instrumentor.uninstrument()


def test_instrumentation_applied_before_the_sdk_was_imported_is_still_recognised() -> None:
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")
    from plivo_phlo_async import _httpx_patches

    original = httpx.AsyncHTTPTransport.__dict__["handle_async_request"]
    instrumentor = instrumentation.HTTPXClientInstrumentor()
    instrumentor.instrument()
    try:
        wrapped = httpx.AsyncHTTPTransport.__dict__["handle_async_request"]
        assert wrapped is not original
        assert _httpx_patches._unwrapped(wrapped) is original  # what an import now would record
        assert _httpx_patches.httpx_instrumented()
    finally:
        instrumentor.uninstrument()
    assert not _httpx_patches.httpx_instrumented()
