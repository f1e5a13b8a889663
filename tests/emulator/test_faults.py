"""Injected faults, and the SDK's retry policy against them."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from plivo_phlo_async import (
    APITimeoutError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    OutcomeUnknownError,
    PhloClient,
    PlivoError,
    ServerOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
    _base_client,
)
from plivo_phlo_async.emulator import (
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    EmulatorConfig,
    EmulatorServer,
    FaultConfig,
    PhloEmulator,
    ServerRateLimit,
    run_emulator,
)
from plivo_phlo_async.emulator._emulator import ConnectionDropped
from plivo_phlo_async.emulator._state import ON_HOLD

from .conftest import Connect, FakeClock

CUSTOMER = "+14155550111"


async def test_an_error_on_a_post_is_outcome_unknown_and_not_executed(
    client: PhloClient, emulator: PhloEmulator, sleeps: list[float]
) -> None:
    emulator.inject("error", method="POST", status=503)

    with pytest.raises(ServerOutcomeUnknownError) as caught:
        await client.phlo(DEFAULT_PHLO_ID).run(to=CUSTOMER)

    assert caught.value.status_code == 503
    assert caught.value.api_id == emulator.requests[0].api_id
    assert emulator.executed == []
    assert sleeps == []


async def test_an_error_on_a_get_is_retried(
    client: PhloClient, emulator: PhloEmulator, sleeps: list[float]
) -> None:
    emulator.inject("error", method="GET", status=500)

    details = await client.phlo.get(DEFAULT_PHLO_ID)

    assert details.phlo_id == DEFAULT_PHLO_ID
    assert [(r.status, r.fault) for r in emulator.requests] == [(500, "error"), (200, None)]
    assert len(sleeps) == 1


async def test_an_error_after_processing_leaves_the_run_findable(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    emulator.inject("error_after", method="POST")
    phlo = client.phlo(DEFAULT_PHLO_ID)

    with pytest.raises(ServerOutcomeUnknownError) as caught:
        await phlo.run(to=CUSTOMER)

    # What a careful caller does: look the run up instead of re-sending it.
    assert caught.value.api_id is not None
    run = await phlo.get_run(caught.value.api_id)
    assert len(run.call_uuids) == 1
    assert len(emulator.executions("run")) == 1


async def test_a_post_dropped_before_processing_is_outcome_unknown_and_not_executed(
    client: PhloClient, emulator: PhloEmulator, sleeps: list[float]
) -> None:
    emulator.inject("drop_before", method="POST")

    with pytest.raises(ConnectionOutcomeUnknownError):
        await client.phlo(DEFAULT_PHLO_ID).run(to=CUSTOMER)

    [request] = emulator.requests
    assert (request.status, request.fault) == (None, "drop_before")
    assert emulator.executed == []
    assert sleeps == []


async def test_a_post_dropped_after_processing_was_executed_once(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    mpc = client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID)
    await mpc.call("+14155550100", CUSTOMER, role="customer")
    emulator.inject("drop_after", method="POST")

    with pytest.raises(ConnectionOutcomeUnknownError):
        await mpc.member(CUSTOMER).hold()

    assert emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID)[CUSTOMER] == ON_HOLD
    assert [a.kind for a in emulator.executed] == ["call", "hold"]
    assert (emulator.requests[-1].status, emulator.requests[-1].fault) == (None, "drop_after")


@pytest.mark.parametrize("kind", ["drop_before", "drop_after"])
async def test_a_dropped_get_is_retried(
    client: PhloClient, emulator: PhloEmulator, sleeps: list[float], kind: Any
) -> None:
    emulator.inject(kind, method="GET")

    details = await client.phlo.get(DEFAULT_PHLO_ID)

    assert details.phlo_id == DEFAULT_PHLO_ID
    assert [r.fault for r in emulator.requests] == [kind, None]
    assert len(sleeps) == 1


async def test_in_process_a_drop_is_httpx_own_connection_error() -> None:
    emulator = PhloEmulator()
    emulator.inject("drop_before")
    async with httpx.AsyncClient(transport=emulator.transport()) as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.get(f"http://127.0.0.1/v1/phlo/{DEFAULT_PHLO_ID}")

    assert isinstance(caught.value, ConnectionDropped)


async def test_over_a_socket_a_drop_closes_the_connection_without_an_answer() -> None:
    async with run_emulator() as server:
        server.emulator.inject("drop_after")
        async with httpx.AsyncClient(auth=(server.emulator.auth_id, "x")) as http:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await http.get(f"{server.base_url}/phlo/{DEFAULT_PHLO_ID}")

    assert not isinstance(caught.value, ConnectionDropped)
    assert "without sending a response" in str(caught.value)


async def test_injected_faults_hit_only_matching_requests(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    emulator.inject("error", path="/members/", times=2)
    mpc = client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID)

    await client.phlo.get(DEFAULT_PHLO_ID)
    await mpc.call("+14155550100", CUSTOMER)
    with pytest.raises(ServerOutcomeUnknownError):
        await mpc.member(CUSTOMER).hold()

    assert emulator.pending_faults == 1


async def test_random_faults_are_scoped_by_method(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    emulator.set_faults(FaultConfig(error_rate=1.0, methods={"POST"}))

    for _ in range(3):
        await client.phlo.get(DEFAULT_PHLO_ID)
    with pytest.raises(ServerOutcomeUnknownError):
        await client.phlo(DEFAULT_PHLO_ID).run()

    assert [r.fault for r in emulator.requests] == [None, None, None, "error"]


def _fault_sequence(config: FaultConfig, count: int) -> list[tuple[str | None, int | None]]:
    emulator = PhloEmulator(EmulatorConfig(faults=config, rate_limit=None))

    async def drive() -> None:
        async with httpx.AsyncClient(
            transport=emulator.transport(), auth=(emulator.auth_id, emulator.auth_token)
        ) as http:
            for _ in range(count):
                with contextlib.suppress(httpx.RemoteProtocolError):
                    await http.get(f"http://127.0.0.1/v1/phlo/{DEFAULT_PHLO_ID}")

    anyio.run(drive)
    return [(r.fault, r.status) for r in emulator.requests]


def test_random_faults_are_reproducible_from_the_seed() -> None:
    config = FaultConfig(
        seed=7, error_rate=0.2, error_after_rate=0.1, drop_before_rate=0.2, drop_after_rate=0.2
    )

    first = _fault_sequence(config, 40)
    again = _fault_sequence(config, 40)
    other = _fault_sequence(FaultConfig(**{**config.__dict__, "seed": 8}), 40)

    assert first == again
    assert first != other
    kinds = {kind for kind, _ in first}
    assert kinds == {None, "error", "error_after", "drop_before", "drop_after"}
    assert {status for kind, status in first if kind in ("error", "error_after")} == {500, 503}


def test_latency_is_drawn_from_the_range_reproducibly() -> None:
    config = FaultConfig(seed=3, latency=(0.001, 0.004))

    def latencies() -> list[float]:
        emulator = PhloEmulator(EmulatorConfig(faults=config))

        async def drive() -> None:
            client = emulator.client()
            for _ in range(5):
                await client.phlo.get(DEFAULT_PHLO_ID)

        anyio.run(drive)
        return [r.latency for r in emulator.requests]

    first = latencies()

    assert first == latencies()
    assert all(0.001 <= value <= 0.004 for value in first)
    assert len(set(first)) == 5


async def test_latency_beyond_the_sdk_timeout_times_out_over_a_socket() -> None:
    emulator = PhloEmulator(EmulatorConfig(faults=FaultConfig(latency=0.3)))
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(run_emulator(emulator=emulator))
        client = await stack.enter_async_context(server.client(timeout=0.05, max_retries=0))
        with pytest.raises(APITimeoutError) as read:
            await client.phlo.get(DEFAULT_PHLO_ID)
        with pytest.raises(TimeoutOutcomeUnknownError):
            await client.phlo(DEFAULT_PHLO_ID).run(to=CUSTOMER)

    assert not read.value.outcome_unknown
    # The server finished the run after the client gave up: the outcome was unknown.
    assert len(emulator.executions("run")) == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_connect_failures_are_retried_and_the_trigger_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _free_port()
    emulator = PhloEmulator()
    server = EmulatorServer(emulator, port=port)
    waits: list[float] = []

    async def start_server_while_waiting(delay: float) -> None:
        # The first attempt found nothing listening; the emulator comes up
        # during the back-off, as a restarting service would.
        waits.append(delay)
        if not server.running:
            await anyio.to_thread.run_sync(server.start)

    monkeypatch.setattr(_base_client, "_sleep", start_server_while_waiting)
    try:
        async with PhloClient(
            emulator.auth_id,
            emulator.auth_token,
            base_url=f"http://127.0.0.1:{port}/v1",
            voice_base_url=f"http://127.0.0.1:{port}/v1",
        ) as client:
            result = await client.phlo(DEFAULT_PHLO_ID).run(to=CUSTOMER)
    finally:
        await anyio.to_thread.run_sync(server.stop)

    assert len(waits) == 1
    [request] = emulator.requests
    assert request.api_id == result.run_id
    assert len(emulator.executions("run")) == 1


async def test_no_trigger_is_ever_executed_twice_under_faults(
    connect: Connect, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    emulator = PhloEmulator(
        EmulatorConfig(
            rate_limit=ServerRateLimit(requests=5, window=5),
            faults=FaultConfig(
                seed=11,
                error_rate=0.1,
                error_after_rate=0.1,
                drop_before_rate=0.1,
                drop_after_rate=0.1,
            ),
        ),
        clock=clock,
    )

    async def wait(delay: float) -> None:
        clock.advance(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_base_client, "_sleep", wait)
    client = await connect(emulator, max_retries=5)
    outcomes: dict[int, str | None] = {}

    for attempt in range(40):
        try:
            result = await client.phlo(DEFAULT_PHLO_ID).run(to=CUSTOMER, attempt=attempt)
        except OutcomeUnknownError:
            outcomes[attempt] = None
        else:
            outcomes[attempt] = result.run_id
        clock.advance(0.5)

    runs = emulator.executions("run")
    by_seq = {r.seq: r for r in emulator.requests}
    for attempt, run_id in outcomes.items():
        executed = [run for run in runs if run.payload["attempt"] == attempt]
        assert len(executed) <= 1, f"attempt {attempt} ran {len(executed)} times"
        requests = [r for r in emulator.requests if r.json and r.json["attempt"] == attempt]
        # Only 429s (never processed) are ever followed by another try.
        assert all(r.status == 429 for r in requests[:-1])
        last = requests[-1]
        if run_id is not None:
            assert [run.run_id for run in executed] == [run_id]
            assert last.fault is None
        else:
            assert last.fault in ("error", "error_after", "drop_before", "drop_after")
            if last.fault in ("error", "drop_before"):
                assert executed == []
        for run in executed:
            assert by_seq[run.request_seq] is last
    assert emulator.rate_limited() > 0
    assert None in outcomes.values()
    assert any(run.run_id not in outcomes.values() for run in runs), "no unknown outcome ran"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FaultConfig(error_rate=2), "error_rate must be a number between 0 and 1"),
        (lambda: ServerRateLimit(requests=0), "rate_limit.requests must be a positive integer"),
        (lambda: PhloEmulator().inject("error", times=0), "times must be a positive integer"),
    ],
)
def test_a_bad_fault_setting_is_one_of_the_packages_errors_and_still_a_value_error(
    make: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        make()

    assert isinstance(caught.value, PlivoError)
    assert isinstance(caught.value, ValueError)
