"""PHLOs and runs, driven through the SDK."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from plivo_phlo_async import NotFoundError, PhloClient
from plivo_phlo_async.emulator import (
    DEFAULT_PHLO_ID,
    SECOND_PHLO_ID,
    EmulatorConfig,
    PhloEmulator,
    PhloSeed,
)

from .conftest import Connect


async def test_get_phlo_returns_the_seeded_phlo(client: PhloClient) -> None:
    phlo = await client.phlo.get(DEFAULT_PHLO_ID)

    assert phlo.phlo_id == DEFAULT_PHLO_ID
    assert phlo.name == "Multi-party_Outbound"
    assert phlo.created_on == datetime(2024, 5, 1, 9, 4, 40, 632232, tzinfo=timezone.utc)
    assert phlo.api_id


async def test_get_unknown_phlo_is_404_with_api_id(client: PhloClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.phlo.get("11111111-2222-4333-8444-555555555555")

    assert caught.value.api_id
    assert caught.value.error == "PHLO 11111111-2222-4333-8444-555555555555 not found"


async def test_run_answers_201_and_records_the_payload_as_sent(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    result = await client.phlo(DEFAULT_PHLO_ID).run({"from": "+14155550100"}, to="+14155550111")

    assert result.phlo_id == DEFAULT_PHLO_ID
    assert result.run_id == result.api_id
    assert result.message is not None
    assert "executed" in result.message
    [request] = emulator.requests
    assert request.method == "POST"
    assert request.path == f"/v1/account/{emulator.auth_id}/phlo/{DEFAULT_PHLO_ID}"
    assert request.json == {"from": "+14155550100", "to": "+14155550111"}
    assert request.status == 201
    [action] = emulator.executed
    assert (action.kind, action.phlo_id, action.run_id) == ("run", DEFAULT_PHLO_ID, result.run_id)
    assert action.payload == {"from": "+14155550100", "to": "+14155550111"}


async def test_get_run_returns_the_calls_the_run_started(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    phlo = client.phlo(DEFAULT_PHLO_ID)
    result = await phlo.run(to="+14155550111<sip:alice@example.com")
    assert result.run_id is not None

    run = await phlo.get_run(result.run_id)

    assert run.run_id == result.run_id
    assert run.phlo_id == DEFAULT_PHLO_ID
    dialled = {call.call_uuid: call.to for call in emulator.calls if call.run_id == run.run_id}
    assert len(run.call_uuids) == 2
    assert [dialled[uuid] for uuid in run.call_uuids] == ["+14155550111", "sip:alice@example.com"]
    assert run.message_uuids == []
    assert run.recording_ids == []
    assert run.api_id
    assert run.api_id != run.run_id


async def test_run_without_a_destination_starts_no_call(client: PhloClient) -> None:
    phlo = client.phlo(DEFAULT_PHLO_ID)
    result = await phlo.run()
    assert result.run_id is not None

    run = await phlo.get_run(result.run_id)

    assert run.call_uuids == []


async def test_run_missing_a_start_node_key_stops_with_201(connect: Connect) -> None:
    emulator = PhloEmulator(
        EmulatorConfig(phlos=(PhloSeed(phlo_id="p-1", name="SMS", required_keys=("to", "body")),))
    )
    client = await connect(emulator)

    result = await client.phlo("p-1").run(to="+14155550111")

    assert result.message is not None
    assert "stopped" in result.message
    assert "body" in result.message
    assert result.run_id is not None
    assert (await client.phlo("p-1").get_run(result.run_id)).call_uuids == []


async def test_get_run_of_unknown_run_is_404(client: PhloClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.phlo(DEFAULT_PHLO_ID).get_run("00000000-0000-4000-8000-000000000000")

    assert "run 00000000-0000-4000-8000-000000000000" in str(caught.value.error)


async def test_get_run_through_another_phlo_is_404(client: PhloClient) -> None:
    result = await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")
    assert result.run_id is not None

    with pytest.raises(NotFoundError):
        await client.phlo(SECOND_PHLO_ID).get_run(result.run_id)


async def test_run_of_unknown_phlo_is_404_and_executes_nothing(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    with pytest.raises(NotFoundError):
        await client.phlo("99999999-0000-4000-8000-000000000000").run(to="+14155550111")

    assert emulator.executed == []
    assert emulator.calls == []


async def test_each_run_gets_its_own_id(client: PhloClient, emulator: PhloEmulator) -> None:
    phlo = client.phlo(SECOND_PHLO_ID)
    first = await phlo.run(to="+14155550111")
    second = await phlo.run(to="+14155550111")

    assert first.run_id != second.run_id
    assert [run.run_id for run in emulator.runs] == [first.run_id, second.run_id]
