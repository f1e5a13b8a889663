"""The account's rate limit (300 requests per 5 s by default), on a fake clock."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from plivo_phlo_async import AuthenticationError, PhloClient, RateLimitError, _base_client
from plivo_phlo_async.emulator import DEFAULT_PHLO_ID, EmulatorConfig, PhloEmulator, ServerRateLimit

from .conftest import Connect, FakeClock


@pytest.fixture
def limited(clock: FakeClock) -> PhloEmulator:
    config = EmulatorConfig(rate_limit=ServerRateLimit(requests=3, window=5))
    return PhloEmulator(config, clock=clock)


@pytest.fixture
def waits_advance_clock(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> list[float]:
    """The SDK's retry waits move the emulator's clock instead of sleeping."""
    waits: list[float] = []

    async def wait(delay: float) -> None:
        waits.append(delay)
        clock.advance(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_base_client, "_sleep", wait)
    return waits


def test_the_default_is_plivos_300_per_5_seconds() -> None:
    assert EmulatorConfig().rate_limit == ServerRateLimit(requests=300, window=5.0)


async def test_beyond_the_limit_the_answer_is_429_with_retry_after(
    connect: Connect, limited: PhloEmulator, clock: FakeClock
) -> None:
    client = await connect(limited, max_retries=0)
    for _ in range(3):
        await client.phlo.get(DEFAULT_PHLO_ID)
        clock.advance(1)

    with pytest.raises(RateLimitError) as caught:
        await client.phlo.get(DEFAULT_PHLO_ID)

    # The oldest request (t=0) leaves the 5 s window at t=5; now is t=3.
    assert caught.value.retry_after == 2
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.api_id
    assert limited.rate_limited() == 1


async def test_the_window_slides(connect: Connect, limited: PhloEmulator, clock: FakeClock) -> None:
    client = await connect(limited, max_retries=0)
    for _ in range(3):
        await client.phlo.get(DEFAULT_PHLO_ID)
    clock.advance(5)

    details = await client.phlo.get(DEFAULT_PHLO_ID)

    assert details.phlo_id == DEFAULT_PHLO_ID


async def test_the_sdk_waits_retry_after_and_runs_each_trigger_once(
    connect: Connect, limited: PhloEmulator, waits_advance_clock: list[float]
) -> None:
    client = await connect(limited)
    phlo = client.phlo(DEFAULT_PHLO_ID)

    results = [await phlo.run(to="+14155550111", n=index) for index in range(4)]

    assert waits_advance_clock == [5.0]
    assert [r.status for r in limited.requests] == [201, 201, 201, 429, 201]
    runs = limited.executions("run")
    assert [run.payload["n"] for run in runs] == [0, 1, 2, 3]
    assert [run.run_id for run in runs] == [r.run_id for r in results]


async def test_a_429_is_not_processed(connect: Connect, limited: PhloEmulator) -> None:
    client = await connect(limited, max_retries=0)
    for index in range(3):
        await client.phlo(DEFAULT_PHLO_ID).run(n=index)

    with pytest.raises(RateLimitError):
        await client.phlo(DEFAULT_PHLO_ID).run(n=3)

    assert len(limited.executions("run")) == 3


async def test_the_limit_can_be_turned_off(connect: Connect, clock: FakeClock) -> None:
    emulator = PhloEmulator(EmulatorConfig(rate_limit=None), clock=clock)
    client = await connect(emulator, max_retries=0)

    for _ in range(12):
        await client.phlo.get(DEFAULT_PHLO_ID)

    assert emulator.rate_limited() == 0
    assert emulator.peak_requests(emulator.auth_id) == 12


async def test_the_default_limit_answers_the_301st_request_429(
    connect: Connect, clock: FakeClock
) -> None:
    emulator = PhloEmulator(clock=clock)
    client = await connect(emulator, max_retries=0)
    for _ in range(300):
        await client.phlo.get(DEFAULT_PHLO_ID)

    with pytest.raises(RateLimitError) as caught:
        await client.phlo.get(DEFAULT_PHLO_ID)

    assert caught.value.retry_after == 5


async def test_peak_counts_every_request_in_the_window(
    connect: Connect, limited: PhloEmulator, clock: FakeClock
) -> None:
    client = await connect(limited, max_retries=0)
    for _ in range(2):
        await client.phlo.get(DEFAULT_PHLO_ID)
    clock.advance(6)
    for _ in range(3):
        await client.phlo.get(DEFAULT_PHLO_ID)
    with pytest.raises(RateLimitError):
        await client.phlo.get(DEFAULT_PHLO_ID)

    assert limited.peak_requests(limited.auth_id) == 4
    assert limited.rate_limited(limited.auth_id) == 1


async def test_refused_credentials_do_not_use_the_accounts_quota(
    connect: Connect, limited: PhloEmulator
) -> None:
    client = await connect(limited, max_retries=0)
    intruder = PhloClient(
        limited.auth_id,
        "guess",
        base_url=client.base_url,
        voice_base_url=client.voice_base_url,
        http_client=client._requester.http_client,
        max_retries=0,
    )
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            await intruder.phlo.get(DEFAULT_PHLO_ID)

    for _ in range(3):
        await client.phlo.get(DEFAULT_PHLO_ID)

    assert limited.rate_limited() == 0


async def test_set_rate_limit_changes_it_at_run_time(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    emulator.set_rate_limit(ServerRateLimit(requests=1, window=60))
    await client.phlo.get(DEFAULT_PHLO_ID)

    with pytest.raises(RateLimitError):
        await client.with_options(max_retries=0).phlo.get(DEFAULT_PHLO_ID)


async def test_an_injected_429_is_retried_after_its_retry_after(
    client: PhloClient, emulator: PhloEmulator, sleeps: list[float]
) -> None:
    emulator.inject("rate_limit", method="POST", retry_after=2)

    await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")

    assert sleeps == [2.0]
    assert [(r.status, r.fault) for r in emulator.requests] == [(429, "rate_limit"), (201, None)]
    assert len(emulator.executions("run")) == 1
