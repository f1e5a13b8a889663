"""One benchmark scenario per child process: ``python -m benchmarks._scenarios NAME ...``.

Each scenario triggers the same multi-party-call action (``POST
/v1/phlo/{id}/multi_party_call/{node}`` with ``{"action": "call", ...}``)
against the local nginx, after a warm-up that opens the connections, and
prints one JSON line: how many triggers completed, in how many seconds, and
the process's peak RSS. Async clients share one harness: a fixed pool of
workers (an anyio task group, so trio runs it too) pulling jobs from one
shared queue, the shape of a bulk run. A scenario stops at ``--jobs``
triggers or after ``--max-seconds``, whichever comes first, so slow clients
do not stretch the run.

Over HTTPS every client verifies the server's certificate against the CA in
``SSL_CERT_FILE`` (``REQUESTS_CA_BUNDLE`` for the official SDK); none turns
verification off.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

AUTH_ID = "MA" + "B" * 18
AUTH_TOKEN = "bench-token"  # noqa: S105 - the local nginx checks nothing
PHLO_ID = "phlo-1"
NODE_ID = "node-1"
SOURCE = "+14155550100"
TARGET = "+14155550111"
BODY = {"action": "call", "to": TARGET, "role": "agent", "trigger_source": SOURCE}
HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f"{AUTH_ID}:{AUTH_TOKEN}".encode()).decode(),
    "Content-Type": "application/json",
    "Accept": "application/json",
}

Call = Callable[[], Awaitable[Any]]
Setup = Callable[[argparse.Namespace], Awaitable[Any]]  # -> (call, close, info)


# --------------------------------------------------------------------------- harness


async def fan_out(call: Call, jobs: int, concurrency: int, max_seconds: float) -> tuple[int, float]:
    """``jobs`` calls through a fixed pool of ``concurrency`` workers sharing one queue.

    The queue is a plain iterator (the loop is single-threaded, so workers can
    share it): an anyio memory stream would add 30-60 us of hand-off per job
    with 64 receivers waiting, which measures the harness, not the client.
    """
    queue = iter(range(jobs))
    done = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def work() -> None:
        nonlocal done
        for _ in queue:
            await call()
            done += 1
            if time.perf_counter() > deadline:
                return

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(work)
    return done, time.perf_counter() - started


async def one_at_a_time(call: Call, jobs: int, max_seconds: float) -> tuple[int, float]:
    done = 0
    started = time.perf_counter()
    deadline = started + max_seconds
    for _ in range(jobs):
        await call()
        done += 1
        if time.perf_counter() > deadline:
            break
    return done, time.perf_counter() - started


def threaded(
    call: Callable[[], Any], jobs: int, threads: int, max_seconds: float
) -> tuple[int, float]:
    """``jobs`` calls through ``threads`` threads (the official SDK is synchronous)."""
    lock = threading.Lock()
    remaining = jobs
    done = 0
    errors: list[BaseException] = []
    started = time.perf_counter()
    deadline = started + max_seconds

    def work() -> None:
        nonlocal remaining, done
        while True:
            with lock:
                if remaining <= 0 or time.perf_counter() > deadline or errors:
                    return
                remaining -= 1
            try:
                call()
            except BaseException as exc:  # reported by the parent
                errors.append(exc)
                return
            with lock:
                done += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return done, time.perf_counter() - started


def node_url(base: str) -> str:
    return f"{base}/v1/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}"


# --------------------------------------------------------------------------- async clients


async def raw_aiohttp(args: argparse.Namespace) -> Any:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    url = node_url(args.url)

    async def call() -> None:
        async with session.post(url, json=BODY, headers=HEADERS) as response:
            data = json.loads(await response.read())
            assert response.status == 201, (response.status, data)

    return call, session.close, {"aiohttp": aiohttp.__version__}


def _httpx_limits() -> Any:
    import httpx

    return httpx.Limits(max_connections=100, max_keepalive_connections=100)


async def raw_httpx(args: argparse.Namespace) -> Any:
    import httpx

    client = httpx.AsyncClient(limits=_httpx_limits())
    return _httpx_call(client, args), client.aclose, {"httpx": httpx.__version__}


async def httpx_over_aiohttp(args: argparse.Namespace) -> Any:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    client = httpx.AsyncClient(transport=AiohttpTransport(limits=_httpx_limits()))
    return _httpx_call(client, args), client.aclose, {}


async def httpx_over_fast_transport(args: argparse.Namespace) -> Any:
    """httpx itself over the SDK's pool, without the SDK: httpx's own per-request floor."""
    import httpx

    from plivo_phlo_async import FastTransport

    client = httpx.AsyncClient(transport=FastTransport(max_connections=100))
    return _httpx_call(client, args), client.aclose, {}


def _httpx_call(client: Any, args: argparse.Namespace) -> Call:
    url = node_url(args.url)
    auth = (AUTH_ID, AUTH_TOKEN)

    async def call() -> None:
        response = await client.post(url, json=BODY, auth=auth)
        assert response.status_code == 201, response
        response.json()

    return call


async def sdk(args: argparse.Namespace, *, inject_httpx: bool = False) -> Any:
    import httpx

    from plivo_phlo_async import PhloClient

    http_client = httpx.AsyncClient(limits=_httpx_limits()) if inject_httpx else None
    client = PhloClient(AUTH_ID, AUTH_TOKEN, base_url=f"{args.url}/v1", http_client=http_client)
    mpc = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    async def call() -> None:
        result = await mpc.call(SOURCE, TARGET)
        assert result.api_id, result

    async def close() -> None:
        await client.aclose()
        if http_client is not None:
            await http_client.aclose()

    return call, close, {"path": sdk_path(client)}


def sdk_path(client: Any) -> str:
    """``"fast"`` or ``"httpx"``: which pool the SDK sends through, for the table's label.

    The SDK has no public API for it, so this reads one internal name
    (``client._requester.sender.fast_pool()``); if a rewrite moves it, the
    label says ``"unknown"`` instead of the benchmark failing.
    """
    try:
        fast_pool = client._requester.sender.fast_pool
    except AttributeError:
        return "unknown"
    return "fast" if fast_pool() is not None else "httpx"


async def sdk_httpx(args: argparse.Namespace) -> Any:
    return await sdk(args, inject_httpx=True)


async def sdk_fast_transport(args: argparse.Namespace) -> Any:
    """The SDK on an injected ``httpx.AsyncClient(transport=FastTransport())`` with a
    response event hook: httpx's features kept, httpcore's pool replaced."""
    import httpx

    from plivo_phlo_async import FastTransport, PhloClient

    statuses: list[int] = []

    async def on_response(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    http_client = httpx.AsyncClient(
        transport=FastTransport(max_connections=100), event_hooks={"response": [on_response]}
    )
    client = PhloClient(AUTH_ID, AUTH_TOKEN, base_url=f"{args.url}/v1", http_client=http_client)
    mpc = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    async def call() -> None:
        result = await mpc.call(SOURCE, TARGET)
        assert result.api_id, result

    async def close() -> None:
        await client.aclose()
        await http_client.aclose()
        assert statuses, "the event hook did not run"
        assert set(statuses) == {201}, statuses

    return call, close, {"path": "httpx+FastTransport"}


def _record_spans() -> Any:
    """A tracer provider keeping spans in memory (exported one by one, synchronously)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


async def sdk_spans(args: argparse.Namespace) -> Any:
    """The SDK's fast path with a tracer provider recording its spans (no httpx instrumentation)."""
    exporter = _record_spans()
    call, close, info = await sdk(args)

    async def close_and_check() -> None:
        await close()
        assert exporter.get_finished_spans(), "no span was recorded"
        exporter.clear()

    return call, close_and_check, info


async def sdk_otel(args: argparse.Namespace) -> Any:
    """The SDK with OpenTelemetry's httpx instrumentation active and a tracer provider
    recording spans: its own client goes through httpx over FastTransport, one span each."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    exporter = _record_spans()
    HTTPXClientInstrumentor().instrument()
    call, close, info = await sdk(args)

    async def close_and_clear() -> None:
        await close()
        exporter.clear()

    info["path"] = "httpx+FastTransport" if info["path"] == "httpx" else info["path"]
    return call, close_and_clear, info


# --------------------------------------------------------------------------- the official SDK


def official_client(args: argparse.Namespace) -> Any:
    """The official SDK's PHLO client at its best: keep-alive for every thread.

    requests keeps 10 connections per host, so 64 threads would open (over
    TLS: handshake) a new connection for most requests; the pool is sized to
    the threads. plivo calls ``Session.send`` directly, which skips requests'
    environment merge, so ``REQUESTS_CA_BUNDLE`` alone is ignored: the session
    is pointed at it, and still verifies.
    """
    import plivo
    from requests.adapters import HTTPAdapter

    client = plivo.phlo.RestClient(AUTH_ID, AUTH_TOKEN)
    client.phlo_base_uri = f"{args.url}/v1"  # PhloClient.__init__ sets it to phlorunner
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=args.concurrency)
    for prefix in ("http://", "https://"):
        client.session.mount(prefix, adapter)
    client.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
    return client


def official_fastest(args: argparse.Namespace) -> Callable[[], Any]:
    """``client.phlo.multi_party_call(phlo_id, node_id, action, ...)``: one POST."""
    client = official_client(args)

    def call() -> None:
        result = client.phlo.multi_party_call(
            PHLO_ID, NODE_ID, "call", trigger_source=SOURCE, to=TARGET, role="agent"
        )
        assert result.api_id, result

    return call


def official_documented(args: argparse.Namespace) -> Callable[[], Any]:
    """As Plivo's docs show it: ``phlo.get`` and ``multi_party_call`` GETs, then the POST."""
    client = official_client(args)

    def call() -> None:
        phlo = client.phlo.get(PHLO_ID)
        result = phlo.multi_party_call(NODE_ID).call(SOURCE, TARGET, "agent")
        assert result.api_id, result

    return call


# --------------------------------------------------------------------------- entry point

ASYNC: dict[str, Setup] = {
    "aiohttp": raw_aiohttp,
    "httpx": raw_httpx,
    "httpx-aiohttp": httpx_over_aiohttp,
    "httpx-fast-transport": httpx_over_fast_transport,
    "sdk": sdk,
    "sdk-httpx": sdk_httpx,
    "sdk-fast-transport": sdk_fast_transport,
    "sdk-otel": sdk_otel,
    "sdk-spans": sdk_spans,
}
THREADED = {"plivo": official_fastest, "plivo-docs": official_documented}


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run(args: argparse.Namespace) -> dict[str, Any]:
    name = args.scenario
    warmup = min(args.jobs, args.concurrency * 4)
    if name in THREADED:
        call = THREADED[name](args)
        threaded(call, warmup, args.concurrency, args.max_seconds)
        cpu = time.process_time()
        done, seconds = threaded(call, args.jobs, args.concurrency, args.max_seconds)
        return {"done": done, "seconds": seconds, "cpu": time.process_time() - cpu, "info": {}}

    async def main() -> dict[str, Any]:
        call, close, info = await ASYNC[name](args)
        try:
            if args.sequential:
                await one_at_a_time(call, min(warmup, 200), args.max_seconds)
                cpu = time.process_time()
                done, seconds = await one_at_a_time(call, args.jobs, args.max_seconds)
            else:
                await fan_out(call, warmup, args.concurrency, args.max_seconds)
                cpu = time.process_time()
                done, seconds = await fan_out(call, args.jobs, args.concurrency, args.max_seconds)
            cpu = time.process_time() - cpu
        finally:
            await close()
        return {"done": done, "seconds": seconds, "cpu": cpu, "info": info}

    return anyio.run(main, backend=args.backend)


#: Exit status when the client refused the server's certificate (``run.py`` checks it).
REFUSED_EXIT = 3


def certificate_refused(exc: BaseException) -> bool:
    """Whether a certificate verification failure caused ``exc``.

    Walks causes, contexts and exception groups: each client wraps it
    differently (trio's ``BrokenResourceError``, httpx's ``ConnectError``, the
    SDK's ``APIConnectionError``, requests' ``SSLError``).
    """
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        pending.extend(getattr(current, "exceptions", ()))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=[*ASYNC, *THREADED])
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--sequential", action="store_true")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    try:
        result = run(args)
    except Exception as exc:
        if not certificate_refused(exc):
            raise
        print(f"certificate refused: {exc!r}", file=sys.stderr)
        sys.exit(REFUSED_EXIT)
    result.setdefault("rss_mb", peak_rss_mb())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
