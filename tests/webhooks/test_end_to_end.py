"""A bot tested end to end: the emulator places a call and sends Plivo's signed
callbacks to a Starlette app on 127.0.0.1 that verifies them with PlivoWebhook.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from plivo_phlo_async import PhloClient
from plivo_phlo_async.emulator import PhloEmulator, run_emulator
from plivo_phlo_async.webhooks import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    PlivoWebhook,
    verify_signature_v3,
)

from ._bot import ANSWER_XML, Bot, run_bot

SOURCE = "+14155550100"
DESTINATION = "+14155550111"


@pytest.fixture
def emulator() -> PhloEmulator:
    return PhloEmulator()


@pytest.fixture
async def client(emulator: PhloEmulator) -> AsyncIterator[PhloClient]:
    async with emulator.client() as client:
        yield client


@pytest.fixture
def bot(emulator: PhloEmulator) -> Iterator[Bot]:
    with run_bot(PlivoWebhook(auth_token=emulator.auth_token)) as bot:
        yield bot


async def test_answer_and_hangup_reach_the_bot_signed_and_verified(
    client: PhloClient, emulator: PhloEmulator, bot: Bot
) -> None:
    result = await client.calls.create(
        SOURCE, DESTINATION, f"{bot.base_url}/answer", hangup_url=f"{bot.base_url}/hangup"
    )
    answer, hangup = await emulator.callbacks_settled(count=2)

    assert [(r.event, r.state, r.status) for r in (answer, hangup)] == [
        ("answer", "delivered", 200),
        ("hangup", "delivered", 200),
    ]
    assert answer.answer_text == ANSWER_XML
    assert bot.refused == []
    assert [(method, path) for method, path, _ in bot.verified] == [
        ("POST", "/answer"),
        ("POST", "/hangup"),
    ]
    answer_params, hangup_params = (params for _, _, params in bot.verified)
    assert answer_params["CallUUID"] == [result.request_uuid]
    assert answer_params["CallStatus"] == ["in-progress"]
    assert answer_params["Direction"] == ["outbound"]
    assert (answer_params["From"], answer_params["To"]) == (["14155550100"], ["14155550111"])
    assert hangup_params["CallStatus"] == ["completed"]
    assert hangup_params["Event"] == ["Hangup"]
    assert hangup_params["HangupCause"] == ["NORMAL_CLEARING"]


async def test_ring_answer_hangup_in_that_order(
    client: PhloClient, emulator: PhloEmulator, bot: Bot
) -> None:
    await client.calls.create(
        SOURCE,
        DESTINATION,
        f"{bot.base_url}/answer",
        ring_url=f"{bot.base_url}/ring",
        hangup_url=f"{bot.base_url}/hangup",
    )
    records = await emulator.callbacks_settled(count=3)
    assert [r.event for r in records] == ["ring", "answer", "hangup"]
    assert [path for _, path, _ in bot.verified] == ["/ring", "/answer", "/hangup"]
    assert [params["Event"] for _, _, params in bot.verified] == [
        ["Ring"],
        ["StartApp"],
        ["Hangup"],
    ]


async def test_answer_method_get_sends_the_parameters_in_the_query(
    client: PhloClient, emulator: PhloEmulator, bot: Bot
) -> None:
    result = await client.calls.create(
        SOURCE, DESTINATION, f"{bot.base_url}/answer?bot=7", answer_method="GET"
    )
    [record] = await emulator.callbacks_settled(count=1)
    assert (record.method, record.status) == ("GET", 200)
    assert record.url.startswith(f"{bot.base_url}/answer?bot=7&")
    [(method, _, params)] = bot.verified
    assert method == "GET"
    assert params["bot"] == ["7"]
    assert params["CallUUID"] == [result.request_uuid]


async def test_each_destination_gets_its_own_callbacks(
    client: PhloClient, emulator: PhloEmulator, bot: Bot
) -> None:
    result = await client.calls.create(
        SOURCE, [DESTINATION, "sip:alice@example.com"], f"{bot.base_url}/answer"
    )
    records = await emulator.callbacks_settled(count=2)
    assert {r.call_uuid for r in records} == set(result.request_uuid)
    assert sorted(params["To"][0] for _, _, params in bot.verified) == [
        "14155550111",
        "sip:alice@example.com",
    ]
    assert all(r.status == 200 for r in records)


async def test_a_bot_with_the_wrong_token_refuses_every_callback(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    with run_bot(PlivoWebhook(auth_token="not-the-emulator-token")) as bot:
        await client.calls.create(
            SOURCE, DESTINATION, f"{bot.base_url}/answer", hangup_url=f"{bot.base_url}/hangup"
        )
        records = await emulator.callbacks_settled(count=2)
    assert [(r.state, r.status) for r in records] == [("delivered", 403), ("delivered", 403)]
    assert bot.verified == []
    assert [path for path, _ in bot.refused] == ["/answer", "/hangup"]


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("untouched", {}),
        ("tampered CallStatus", {"CallStatus": "completed"}),
        ("other CallUUID", {"CallUUID": "00000000-0000-0000-0000-000000000000"}),
        ("added field", {"Admin": "true"}),
    ],
)
async def test_a_replayed_callback_passes_only_untouched(
    client: PhloClient, emulator: PhloEmulator, bot: Bot, case: str, change: dict[str, str]
) -> None:
    await client.calls.create(SOURCE, DESTINATION, f"{bot.base_url}/answer")
    [record] = await emulator.callbacks_settled(count=1)
    headers = {SIGNATURE_HEADER: record.signature, NONCE_HEADER: record.nonce}
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(record.url, data={**record.params, **change}, headers=headers)
    assert response.status_code == (200 if not change else 403), case
    assert len(bot.verified) == (2 if not change else 1)


async def test_the_recorded_signature_is_plivos_for_the_recorded_request(
    client: PhloClient, emulator: PhloEmulator, bot: Bot
) -> None:
    await client.calls.create(SOURCE, DESTINATION, f"{bot.base_url}/answer")
    [record] = await emulator.callbacks_settled(count=1)
    assert record.headers[SIGNATURE_HEADER] == record.signature
    assert record.headers[NONCE_HEADER] == record.nonce
    assert len(record.nonce) == 20
    assert record.nonce.isdigit()
    assert verify_signature_v3(
        method="POST",
        url=record.url,
        params=record.params,
        nonce=record.nonce,
        signature=record.signature,
        auth_token=emulator.auth_token,
    )


async def test_the_api_answers_before_the_callbacks_finish(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    gate = threading.Event()
    webhook = PlivoWebhook(auth_token=emulator.auth_token)

    async def held(request: Any) -> Any:
        await anyio.to_thread.run_sync(gate.wait)
        return await webhook(request)

    with run_bot(held) as bot:  # type: ignore[arg-type]
        try:
            result = await client.calls.create(SOURCE, DESTINATION, f"{bot.base_url}/answer")
            assert result.message == "call fired"
            [pending] = emulator.callbacks
            assert pending.state == "pending"  # the answer came back while the bot holds it
        finally:
            gate.set()
        [record] = await emulator.callbacks_settled(count=1)
    assert (record.state, record.status) == ("delivered", 200)


async def test_over_a_socket_too(emulator: PhloEmulator, bot: Bot) -> None:
    async with run_emulator(emulator=emulator) as server, server.client() as client:
        result = await client.calls.create(SOURCE, DESTINATION, f"{bot.base_url}/answer")
        [record] = await emulator.callbacks_settled(count=1)
    assert (record.call_uuid, record.status) == (result.request_uuid, 200)
    assert [params["CallUUID"] for _, _, params in bot.verified] == [[result.request_uuid]]
