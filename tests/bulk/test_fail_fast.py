"""Bulk runs fail fast instead of flooding: against real loopback servers that
count what they receive.

* A 401 or 403, or a 404 for a run's PHLO, stops the run: at most
  ``concurrency`` requests ever reach the server, every job still gets
  exactly one outcome. A 404 for a node or member fails that job only.
* Connection failures open a circuit breaker shared by every worker: an
  unreachable port or an unresolvable host ends the run after a few probes,
  with nothing counted as sent; a server that comes back closes it and every
  job then succeeds exactly once.
* Only requests that may have reached the API count as sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from _servers import Conn, Request, Server, own_answer, response
from _waiting import wait_until

from plivo_phlo_async import (
    AuthenticationError,
    CannotConnectError,
    ConfigurationError,
    NameResolutionError,
    NotFoundError,
    PermissionDeniedError,
    PhloClient,
)
from plivo_phlo_async.bulk import (
    BulkReport,
    BulkRunner,
    CircuitBreaker,
    MemberActionJob,
    NodeActionJob,
    Outcome,
    OutcomeStatus,
    RunJob,
    _runner,
    journal_counts,
)
from plivo_phlo_async.bulk._breaker import Breaker, BreakerGaveUp
from plivo_phlo_async.emulator import DEFAULT_NODE_ID, DEFAULT_PHLO_ID, run_emulator

SUCCEEDED = OutcomeStatus.SUCCEEDED
FAILED = OutcomeStatus.FAILED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN
SKIPPED = OutcomeStatus.SKIPPED

PHLO_ID = "3c1f5a0e-0000-4000-8000-000000000001"
#: Cool-downs this long are the breaker's: the runner's backoffs are at most 8 s.
COOL_DOWN = 100.0
BREAKER = CircuitBreaker(cool_down=COOL_DOWN)


def jobs(count: int, phlo_id: str = PHLO_ID) -> list[RunJob]:
    return [RunJob(phlo_id, {"to": "+14155550100", "n": n}, ref=n) for n in range(count)]


async def collect(runner: BulkRunner) -> list[Outcome]:
    outcomes: list[Outcome] = []
    async with runner.stream() as stream:
        async for outcome in stream:
            outcomes.append(outcome)
    return outcomes


def sent_refs(*servers: Server) -> Counter[int]:
    """How many times each job (its ``n``) reached any of the servers."""
    return Counter(json.loads(r.body)["n"] for s in servers for r in list(s.received))


def assert_one_outcome_each(outcomes: list[Outcome], count: int) -> None:
    assert sorted(o.ref for o in outcomes) == list(range(count))


@dataclass
class Sleeps:
    """The runner's waits, recorded instead of slept; ``on_cool_down`` runs at
    each of the breaker's cool-downs (told apart by their length)."""

    backoffs: list[float]
    cool_downs: list[float]
    on_cool_down: Callable[[int], Awaitable[None]] | None = None


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    recorded = Sleeps([], [])

    async def record(delay: float) -> None:
        if delay >= COOL_DOWN:
            recorded.cool_downs.append(delay)
            if recorded.on_cool_down is not None:
                await recorded.on_cool_down(len(recorded.cool_downs))
        else:
            recorded.backoffs.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_runner, "_sleep", record)
    return recorded


def client_for(base_url: str, **options: Any) -> PhloClient:
    return PhloClient(
        "MAXXXXXXXXXXXXXXXXXX", "token", base_url=base_url, voice_base_url=base_url, **options
    )


# -- 401 / 403: stop at once -------------------------------------------------------------


async def test_a_wrong_token_stops_the_run_within_one_request_per_worker() -> None:
    concurrency = 64
    async with run_emulator() as server:
        async with PhloClient(
            server.emulator.auth_id,
            "wrong-token",
            base_url=server.base_url,
            voice_base_url=server.base_url,
        ) as client:
            runner = client.bulk(
                jobs(2_000, DEFAULT_PHLO_ID), concurrency=concurrency, rate_limit=None
            )
            outcomes = await collect(runner)
        received = server.emulator.requests

    # Each worker sends at most once: its own answer is a 401 that stops the run.
    assert 1 <= len(received) <= concurrency
    assert all(r.status == 401 for r in received)
    assert_one_outcome_each(outcomes, 2_000)
    sent = Counter(r.json["n"] for r in received)
    assert max(sent.values()) == 1
    failed = [o for o in outcomes if o.status is FAILED]
    skipped = [o for o in outcomes if o.status is SKIPPED]
    assert {o.ref for o in failed} == set(sent)  # the requests in flight got their own 401
    assert all(isinstance(o.error, AuthenticationError) and o.attempts == 1 for o in failed)
    assert len(skipped) == 2_000 - len(received)
    assert all(o.attempts == 0 and o.error is None for o in skipped)
    assert {o.reason for o in skipped} == {runner.report.stop_reason}
    report = runner.report
    assert isinstance(report.stopped_by, AuthenticationError)
    assert report.stop_reason is not None
    assert report.stop_reason.startswith("stopped: authentication failed (401): ")
    assert report.stopped_early
    assert report.requests_sent == len(received)
    assert report.stop_reason in report.summary()


async def test_a_403_stops_the_run_too(serve: Callable[..., Server]) -> None:
    async def forbidden(request: Request, conn: Conn) -> None:
        body = b'{"api_id": "f-1", "error": "not allowed for this account"}'
        await conn.send(response(403, body, reason="Forbidden"))

    server = serve(forbidden)
    async with server.client() as client:
        runner = client.bulk(jobs(500), concurrency=8, rate_limit=None)
        outcomes = await collect(runner)

    assert 1 <= len(server.received) <= 8
    assert_one_outcome_each(outcomes, 500)
    report = runner.report
    assert isinstance(report.stopped_by, PermissionDeniedError)
    assert report.stop_reason == "stopped: permission denied (403): not allowed for this account"
    assert report.failed == len(server.received)
    assert report.skipped == 500 - len(server.received)


async def test_requests_in_flight_at_a_401_finish_with_their_own_outcome(
    serve: Callable[..., Server],
) -> None:
    held: list[asyncio.Future[None]] = []
    four_in = asyncio.Event()  # set in the server's loop

    async def first_refused(request: Request, conn: Conn) -> None:
        loop = asyncio.get_running_loop()
        if len(server.received) <= 4:
            gate = loop.create_future()
            held.append(gate)
            if len(held) == 4:
                four_in.set()
            if len(server.received) == 1:
                await four_in.wait()  # the 401 goes out while three requests are in flight
                await conn.send(response(401, b'{"error": "bad token"}', reason="Unauthorized"))
                return
            await four_in.wait()
            # Answered once the run has stopped on the 401 (read from the server's thread).
            await wait_until(lambda: runner.stopping, what="the 401 to stop the run")
        await conn.send(own_answer(request))

    server = serve(first_refused)
    async with server.client() as client:
        runner = client.bulk(jobs(40), concurrency=4, rate_limit=None)
        outcomes = await collect(runner)

    assert_one_outcome_each(outcomes, 40)
    by_status = Counter(o.status for o in outcomes)
    sent = sent_refs(server)
    assert max(sent.values()) == 1
    assert by_status[FAILED] == 1
    # Whatever reached the server has its own outcome; nothing else was sent.
    assert {o.ref for o in outcomes if o.status is not SKIPPED} == set(sent)
    assert by_status[SUCCEEDED] == len(sent) - 1 >= 3
    assert isinstance(runner.report.stopped_by, AuthenticationError)


# -- 404 for the PHLO itself: stop at once ---------------------------------------------

UNKNOWN_PHLO = "3c1f5a0e-0000-4000-8000-0000000000ff"


async def test_an_unknown_phlo_stops_the_run_and_leaves_the_rest_unsent(tmp_path: Path) -> None:
    concurrency = 16
    journal = tmp_path / "journal.sqlite"
    async with run_emulator() as server, server.client() as client:
        runner = client.bulk(
            jobs(1_000, UNKNOWN_PHLO), concurrency=concurrency, rate_limit=None, journal=journal
        )
        outcomes = await collect(runner)
        received = server.emulator.requests

    # Each worker sends at most once: its own answer is the 404 that stops the run.
    assert 1 <= len(received) <= concurrency
    assert {(r.method, r.path, r.status) for r in received} == {
        ("POST", f"/v1/account/{server.emulator.auth_id}/phlo/{UNKNOWN_PHLO}", 404)
    }
    assert_one_outcome_each(outcomes, 1_000)
    failed = [o for o in outcomes if o.status is FAILED]
    skipped = [o for o in outcomes if o.status is SKIPPED]
    assert {o.ref for o in failed} == {r.json["n"] for r in received}
    assert all(isinstance(o.error, NotFoundError) and o.http_status == 404 for o in failed)
    assert len(skipped) == 1_000 - len(received)
    assert all(o.attempts == 0 and o.reason == runner.report.stop_reason for o in skipped)
    report = runner.report
    assert isinstance(report.stopped_by, NotFoundError)
    assert report.stop_reason == f"stopped: PHLO {UNKNOWN_PHLO} not found (404)"
    assert report.stopped_early
    assert report.stop_reason in report.summary()
    # The skipped jobs are not in the journal: a re-run sends them.
    assert await journal_counts(journal) == {"failed": len(received)}


async def test_the_404s_words_are_kept_when_they_say_more(serve: Callable[..., Server]) -> None:
    async def not_found(request: Request, conn: Conn) -> None:
        await conn.send(response(404, b'{"error": "Resource cannot be found"}', reason="Not Found"))

    server = serve(not_found)
    async with server.client() as client:
        runner = client.bulk(jobs(50), concurrency=1, rate_limit=None)
        await runner.run()

    assert len(server.received) == 1
    assert runner.report.stop_reason == (
        f"stopped: PHLO {PHLO_ID} not found (404): Resource cannot be found"
    )
    assert (runner.report.failed, runner.report.skipped) == (1, 49)


async def test_a_404_for_a_node_or_a_member_fails_that_job_only() -> None:
    action_jobs = [
        NodeActionJob(DEFAULT_PHLO_ID, UNKNOWN_PHLO, "call", "+14155550100", "+14155550111", ref=0),
        MemberActionJob(DEFAULT_PHLO_ID, DEFAULT_NODE_ID, "+14155550199", "hold", ref=1),
        *(
            NodeActionJob(
                DEFAULT_PHLO_ID, DEFAULT_NODE_ID, "call", "+14155550100", f"+1415555030{n}", ref=n
            )
            for n in range(2, 6)
        ),
    ]
    async with run_emulator() as server, server.client() as client:
        runner = client.bulk(action_jobs, concurrency=1, rate_limit=None)
        outcomes = await collect(runner)
        statuses = [r.status for r in server.emulator.requests]

    assert statuses == [404, 404, 201, 201, 201, 201]  # in order: one worker
    by_ref = {o.ref: o for o in outcomes}
    assert {by_ref[n].status for n in (0, 1)} == {FAILED}
    assert all(isinstance(by_ref[n].error, NotFoundError) for n in (0, 1))
    assert {by_ref[n].status for n in range(2, 6)} == {SUCCEEDED}
    assert runner.report.stopped_by is None
    assert not runner.report.stopped_early


# -- the circuit breaker ------------------------------------------------------------------


async def test_an_unreachable_port_stops_after_three_probes(
    sleeps: Sleeps, closed_port: int
) -> None:
    async with client_for(f"http://127.0.0.1:{closed_port}/v1") as client:
        runner = client.bulk(jobs(300), concurrency=16, rate_limit=None, circuit_breaker=BREAKER)
        outcomes = await collect(runner)

    assert_one_outcome_each(outcomes, 300)
    report = runner.report
    assert sleeps.cool_downs == [COOL_DOWN, 2 * COOL_DOWN, 4 * COOL_DOWN]  # 3 probes, then stop
    assert isinstance(report.stopped_by, CannotConnectError)
    assert report.stop_reason is not None
    assert report.stop_reason.startswith(f"stopped: cannot connect to 127.0.0.1:{closed_port}: ")
    # Nothing connected: nothing counts as sent.
    assert report.requests_sent == 0
    assert all(o.attempts == 0 for o in outcomes)
    # A job fails only if it used up its retries before the breaker opened;
    # every other one is skipped, to be sent by a re-run.
    assert report.skipped >= 300 - 16
    for outcome in outcomes:
        assert outcome.status in (FAILED, SKIPPED)
        if outcome.status is FAILED:
            assert isinstance(outcome.error, CannotConnectError)
        else:
            assert outcome.reason == report.stop_reason
    # Workers waited while it was open: only failures before it opened were backed off.
    assert len(sleeps.backoffs) <= BREAKER.failures - 1


async def test_a_server_that_comes_back_closes_the_breaker(
    sleeps: Sleeps, serve: Callable[..., Server]
) -> None:
    count = 60
    held: list[asyncio.Future[None]] = []

    async def goes_away(request: Request, conn: Conn) -> None:
        """Answer 8 requests; then hold four at once (every worker's), stop
        listening, and answer them: from then on every connect is refused."""
        if len(first.received) > 8:
            loop = asyncio.get_running_loop()
            gate = loop.create_future()
            held.append(gate)
            if len(held) == 4:
                first.stop_listening()
                for waiting in held:
                    waiting.set_result(None)
            await gate
        await conn.send(own_answer(request, headers=[("Connection", "close")]))
        conn.close()

    first = serve(goes_away)
    port = first.port
    back: list[Server] = []

    async def come_back(cool_down: int) -> None:
        if cool_down == 2:  # the first probe was refused; the second one connects
            back.append(serve(port=port))  # where the first one listened

    sleeps.on_cool_down = come_back
    async with first.client() as client:
        # The held answers reach the workers one by one, and each answer resets
        # the count of failures in a row: up to (failures - 1) + (workers - 1)
        # refused connects come before the breaker opens. More retries than
        # that: no job can use them up first.
        runner = client.bulk(
            jobs(count), concurrency=4, rate_limit=None, circuit_breaker=BREAKER, max_retries=8
        )
        outcomes = await collect(runner)

    assert_one_outcome_each(outcomes, count)
    assert {o.status for o in outcomes} == {SUCCEEDED}
    sent = sent_refs(first, *back)
    assert sorted(sent) == list(range(count))
    assert set(sent.values()) == {1}  # every job exactly once, across both servers
    assert len(first.received) == 12
    # The first probe is refused and the cool-down doubles; unless a held
    # answer arrives late, during the first cool-down: any answer closes the
    # breaker, the next refusals open it afresh (a machine under load).
    assert sleeps.cool_downs in ([COOL_DOWN, 2 * COOL_DOWN], [COOL_DOWN, COOL_DOWN])
    # then every worker just waited (each opening follows its own refusals)
    openings = sleeps.cool_downs.count(COOL_DOWN)
    assert len(sleeps.backoffs) <= openings * ((BREAKER.failures - 1) + (4 - 1))
    report = runner.report
    assert report.requests_sent == count  # the refused connects are not counted
    assert all(o.attempts == 1 for o in outcomes)
    assert report.stopped_by is None
    assert not report.stopped_early


async def test_a_run_the_breaker_stopped_resumes_from_its_journal(
    sleeps: Sleeps, serve: Callable[..., Server], tmp_path: Path
) -> None:
    """The skipped jobs have no journal row: once the API is back, the same
    command with the same journal sends them, each exactly once."""
    journal = tmp_path / "campaign.sqlite"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # nothing listens: refused
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        async with client_for(base_url) as client:
            first = await client.bulk(
                jobs(30),
                concurrency=4,
                rate_limit=None,
                journal=journal,
                circuit_breaker=BREAKER,
                max_retries=4,
            ).run()
    finally:
        sock.close()
    assert isinstance(first.stopped_by, CannotConnectError)
    assert first.skipped == 30

    server = serve(port=port)
    async with client_for(base_url) as client:
        second = await client.bulk(
            jobs(30), concurrency=4, rate_limit=None, journal=journal, circuit_breaker=BREAKER
        ).run()
    assert second.succeeded == 30
    assert sent_refs(server) == Counter(range(30))


async def test_lost_connections_never_feed_the_breaker(
    sleeps: Sleeps, serve: Callable[..., Server]
) -> None:
    """A request that may have run is evidence the API is up, not a reason to
    send anything again: the breaker stays closed and nothing is re-sent."""

    async def drops(request: Request, conn: Conn) -> None:
        conn.abort()

    server = serve(drops)
    async with server.client() as client:
        runner = client.bulk(jobs(40), concurrency=4, rate_limit=None, circuit_breaker=BREAKER)
        outcomes = await collect(runner)

    assert {o.status for o in outcomes} == {UNKNOWN}
    assert sent_refs(server) == Counter(range(40))  # each exactly once
    assert sleeps.cool_downs == []
    assert runner.report.stopped_by is None
    assert runner.report.requests_sent == 40


async def test_stop_while_the_breaker_is_open_skips_the_waiting_jobs(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner: BulkRunner
    async with client_for(f"http://127.0.0.1:{closed_port}/v1") as client:

        async def stop_at_cool_down(delay: float) -> None:
            if delay >= COOL_DOWN:
                runner.stop()
            await anyio.lowlevel.checkpoint()

        monkeypatch.setattr(_runner, "_sleep", stop_at_cool_down)
        runner = client.bulk(jobs(50), concurrency=8, rate_limit=None, circuit_breaker=BREAKER)
        outcomes = await collect(runner)

    # The caller's stop: the jobs read so far get an outcome, the input is not read on.
    assert_one_outcome_each(outcomes, len(outcomes))
    assert len(outcomes) < 50
    assert runner.report.stopped_by is None
    assert runner.report.requests_sent == 0
    assert {o.reason for o in outcomes if o.status is SKIPPED} == {"stopped"}
    assert runner.report.skipped >= len(outcomes) - 4  # at most 4 failed before it opened


# -- name resolution -----------------------------------------------------------------------


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name fails to resolve (as with no DNS); the names asked for."""
    asked: list[str] = []

    def fail(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host.decode() if isinstance(host, bytes) else str(host))  # anyio: IDNA bytes
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    return asked


@pytest.mark.parametrize("path", ["fast", "httpx"])
async def test_an_unresolvable_host_is_reported_as_such_and_opens_the_breaker_at_once(
    sleeps: Sleeps, no_dns: list[str], path: str
) -> None:
    options: dict[str, Any] = {}
    if path == "httpx":
        options["http_client"] = httpx.AsyncClient()
    async with client_for("http://localhost:8123/v1", **options) as client:
        runner = client.bulk(jobs(200), concurrency=16, rate_limit=None, circuit_breaker=BREAKER)
        outcomes = await collect(runner)
    if path == "httpx":
        await options["http_client"].aclose()

    assert_one_outcome_each(outcomes, 200)
    assert "localhost" in no_dns
    report = runner.report
    assert isinstance(report.stopped_by, NameResolutionError)
    assert report.stopped_by.host == "localhost"
    assert report.stop_reason == (
        "stopped: cannot resolve host name 'localhost': [Errno -2] Name or service not known"
    )
    # The first failure opened it: no job used a retry, none failed, none timed out.
    assert sleeps.backoffs == []
    assert report.failed == 0 == report.requests_sent
    assert report.skipped == 200
    assert sleeps.cool_downs == [COOL_DOWN, 2 * COOL_DOWN, 4 * COOL_DOWN]
    assert {type(o.error) for o in outcomes} <= {NameResolutionError, type(None)}


@pytest.mark.parametrize("path", ["fast", "httpx"])
async def test_a_single_request_to_an_unresolvable_host_raises_name_resolution_error(
    no_dns: list[str], path: str
) -> None:
    options: dict[str, Any] = {"max_retries": 0}
    if path == "httpx":
        options["http_client"] = httpx.AsyncClient()
    async with client_for("http://localhost:8123/v1", **options) as client:
        with pytest.raises(NameResolutionError) as caught:
            await client.phlo(PHLO_ID).run(to="+14155550100")
    if path == "httpx":
        await options["http_client"].aclose()
    error = caught.value
    assert isinstance(error, CannotConnectError)
    assert not error.outcome_unknown
    assert error.host == "localhost"
    assert "cannot resolve host name 'localhost'" in str(error)


@pytest.mark.parametrize("path", ["fast", "httpx"])
async def test_a_real_invalid_name_fails_as_name_resolution(sleeps: Sleeps, path: str) -> None:
    """``.invalid`` never resolves (RFC 2606). The resolver usually says so at once,
    but a lost DNS packet costs it its 5 s retry: the connect timeout (which covers
    the lookup) is long enough for that, or the answer would be a connect timeout."""
    options: dict[str, Any] = {"timeout": httpx.Timeout(10.0, connect=30.0)}
    if path == "httpx":
        options["http_client"] = httpx.AsyncClient()
    async with client_for("https://api.plivo-phlo-test.invalid/v1", **options) as client:
        report: BulkReport = await client.bulk(
            jobs(20), concurrency=4, rate_limit=None, circuit_breaker=BREAKER
        ).run()
    if path == "httpx":
        await options["http_client"].aclose()
    assert isinstance(report.stopped_by, NameResolutionError)
    assert report.stopped_by.host == "api.plivo-phlo-test.invalid"
    assert report.skipped == 20


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"failures": 0},
        {"probes": 0},
        {"failures": True},
        {"cool_down": -1},
        {"cool_down": float("inf")},
        {"cool_down": "4"},
    ],
)
def test_a_bad_circuit_breaker_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(**settings)


def test_the_breaker_must_be_a_circuit_breaker() -> None:
    client = client_for("http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="circuit_breaker"):
        client.bulk([], circuit_breaker=5)  # type: ignore[arg-type]


# -- the breaker's states, alone -----------------------------------------------------------


def refused() -> CannotConnectError:
    return CannotConnectError("POST http://127.0.0.1:9/v1/x failed: refused")


async def no_sleep(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


async def test_the_breaker_opens_only_on_failures_in_a_row() -> None:
    breaker = Breaker(CircuitBreaker(failures=3), no_sleep)
    for _ in range(2):
        breaker.failed(refused(), probe=False)
    breaker.reached(probe=False)  # an answer: the count starts again
    for _ in range(2):
        breaker.failed(refused(), probe=False)
    assert breaker.closed
    breaker.failed(refused(), probe=False)
    assert not breaker.closed
    with anyio.fail_after(5):
        assert await breaker.admit() is True  # the first to ask goes as the probe
    breaker.reached(probe=True)
    assert breaker.closed
    assert await breaker.admit() is False


async def test_a_probe_that_fails_after_an_answer_closed_the_breaker_leaves_no_one_stuck() -> None:
    breaker = Breaker(CircuitBreaker(failures=2, probes=2), no_sleep)
    breaker.failed(refused(), probe=False)
    breaker.failed(refused(), probe=False)
    with anyio.fail_after(5):
        assert await breaker.admit() is True
    breaker.reached(probe=False)  # a request in flight got an answer meanwhile
    breaker.failed(refused(), probe=True)  # the probe's own result comes later
    assert breaker.closed
    breaker.failed(refused(), probe=False)  # opens again: someone must probe
    assert not breaker.closed
    with anyio.fail_after(5):
        assert await breaker.admit() is True
    breaker.failed(refused(), probe=True)
    with anyio.fail_after(5):
        assert await breaker.admit() is True
    breaker.failed(refused(), probe=True)
    assert breaker.gave_up
    with pytest.raises(BreakerGaveUp):
        await breaker.admit()


async def test_waiting_workers_go_together_when_the_probe_succeeds() -> None:
    breaker = Breaker(CircuitBreaker(failures=1), no_sleep)
    breaker.failed(refused(), probe=False)
    roles: list[bool] = []

    async def worker() -> None:
        roles.append(await breaker.admit())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(worker)
            while not roles:
                await anyio.lowlevel.checkpoint()
            assert roles == [True]  # one probe; the others wait for its result
            for _ in range(10):
                await anyio.lowlevel.checkpoint()
            assert roles == [True]
            breaker.reached(probe=True)
    assert roles == [True, False, False, False, False]
