"""The emulator's signed callbacks, as recorded (the bot's side is in tests/webhooks)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from plivo_phlo_async import APIStatusError, InternalServerError, PhloClient
from plivo_phlo_async.emulator import PhloEmulator
from plivo_phlo_async.webhooks import verify_signature_v3

SOURCE = "+14155550100"
DESTINATION = "+14155550111"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_non_loopback_url_is_never_requested_only_recorded(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    result = await client.calls.create(
        SOURCE, DESTINATION, "https://example.com/answer", hangup_url="http://10.0.0.1/hangup"
    )
    answer, hangup = emulator.callbacks  # recorded before the API answered
    assert [(r.event, r.state, r.status) for r in (answer, hangup)] == [
        ("answer", "skipped", None),
        ("hangup", "skipped", None),
    ]
    assert "loopback" in (answer.error or "")
    assert answer.call_uuid == result.request_uuid
    assert answer.headers == {}  # nothing was sent


async def test_a_skipped_callback_is_still_signed_as_plivo_would(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    await client.calls.create(SOURCE, DESTINATION, "https://example.com/answer?x=1")
    [record] = emulator.callbacks
    assert verify_signature_v3(
        method="POST",
        url=record.url,
        params=record.params,
        nonce=record.nonce,
        signature=record.signature,
        auth_token=emulator.auth_token,
    )


async def test_a_dead_webhook_is_recorded_as_failed_and_the_emulator_goes_on(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/answer"
    await client.calls.create(SOURCE, DESTINATION, url)
    [record] = await emulator.callbacks_settled(count=1)
    assert (record.state, record.status) == ("failed", None)
    assert "ConnectError" in (record.error or "")
    again = await client.calls.create(SOURCE, DESTINATION, "https://example.com/answer")
    assert again.message == "call fired"
    assert len(emulator.calls) == 2


async def test_realistic_parameters(client: PhloClient, emulator: PhloEmulator) -> None:
    result = await client.calls.create(
        SOURCE,
        DESTINATION,
        "https://example.com/answer",
        caller_name="Front desk",
        sip_headers="team=blue,tier=2",
    )
    [record] = emulator.callbacks
    assert record.params["CallUUID"] == result.request_uuid
    assert record.params["ParentAuthID"] == emulator.auth_id
    assert record.params["CallerName"] == "Front desk"
    assert (record.params["X-PH-team"], record.params["X-PH-tier"]) == ("blue", "2")
    assert {
        "From",
        "To",
        "CallStatus",
        "Direction",
        "Event",
        "RequestUUID",
        "ALegUUID",
        "SessionStart",
    } <= set(record.params)


async def test_methods_in_any_case_and_post_by_default(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    await client.calls.create(
        SOURCE,
        DESTINATION,
        "https://example.com/a",
        hangup_url="https://example.com/h",
        hangup_method="GET",
    )
    answer, hangup = emulator.callbacks
    assert (answer.method, hangup.method) == ("POST", "GET")
    assert hangup.url.startswith("https://example.com/h?")
    assert "CallUUID=" in hangup.url


async def test_a_request_refused_before_processing_sends_no_callback(
    emulator: PhloEmulator,
) -> None:
    emulator.inject("error", status=503, method="POST")
    async with emulator.client(max_retries=0) as client:
        with pytest.raises(APIStatusError) as raised:
            await client.calls.create(SOURCE, DESTINATION, "https://example.com/answer")
    assert raised.value.status_code == 503
    assert emulator.callbacks == []
    assert emulator.calls == []


async def test_a_call_placed_before_an_error_still_calls_back(emulator: PhloEmulator) -> None:
    """error_after: the call exists although the client saw a 500, like Plivo's."""
    emulator.inject("error_after", method="POST")
    async with emulator.client(max_retries=0) as client:
        with pytest.raises(InternalServerError):
            await client.calls.create(SOURCE, DESTINATION, "https://example.com/answer")
    [record] = emulator.callbacks
    assert record.call_uuid == emulator.calls[0].call_uuid


async def test_reset_forgets_callbacks(client: PhloClient, emulator: PhloEmulator) -> None:
    await client.calls.create(SOURCE, DESTINATION, "https://example.com/answer")
    emulator.reset()
    assert emulator.callbacks == []


def test_waiting_for_callbacks_that_never_come_times_out() -> None:
    emulator = PhloEmulator()
    with pytest.raises(TimeoutError, match="1 expected"):
        emulator.wait_for_callbacks(count=1, timeout=0.05)


async def test_the_admin_api_lists_callbacks(
    client: PhloClient, emulator: PhloEmulator, raw: Any
) -> None:
    result = await client.calls.create(SOURCE, DESTINATION, "https://example.com/answer")
    listed = (await raw.get("/_emulator/callbacks")).json()
    assert [(c["event"], c["state"], c["call_uuid"]) for c in listed] == [
        ("answer", "skipped", result.request_uuid),
    ]
    assert listed[0]["params"]["CallUUID"] == result.request_uuid


async def test_a_url_that_cannot_be_signed_is_recorded_and_the_call_still_answers(
    emulator: PhloEmulator, raw: Any
) -> None:
    body = {"from": SOURCE, "to": DESTINATION, "answer_url": "http://[::1/answer"}
    response = await raw.post(f"/v1/Account/{emulator.auth_id}/Call/", json=body)
    assert response.status_code == 201
    [record] = emulator.callbacks
    assert record.state == "failed"
    assert "cannot sign this URL" in (record.error or "")
