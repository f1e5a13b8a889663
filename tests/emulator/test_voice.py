"""The Voice API's outbound call."""

from __future__ import annotations

from typing import Any

import pytest

from plivo_phlo_async import AuthenticationError, PhloClient
from plivo_phlo_async.emulator import EmulatorConfig, PhloEmulator

from .conftest import Connect

ANSWER = "https://example.com/answer.xml"
BASE = {"from": "+14155550100", "to": "+14155550111", "answer_url": ANSWER}


def call_url(emulator: PhloEmulator) -> str:
    return f"/v1/Account/{emulator.auth_id}/Call/"


async def test_one_destination_fires_one_call(client: PhloClient, emulator: PhloEmulator) -> None:
    result = await client.calls.create(
        "+14155550100", "+14155550111", ANSWER, answer_method="GET", time_limit=300
    )

    assert result.message == "call fired"
    assert isinstance(result.request_uuid, str)
    assert result.api_id
    [call] = emulator.calls
    assert (call.call_uuid, call.to, call.from_, call.source) == (
        result.request_uuid,
        "+14155550111",
        "+14155550100",
        "voice",
    )
    [action] = emulator.executed
    assert action.kind == "create_call"
    assert action.payload == {**BASE, "answer_method": "GET", "time_limit": 300}


async def test_several_destinations_give_a_list_of_request_uuids(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    result = await client.calls.create(
        "+14155550100", ["+14155550111", "sip:bob@example.com"], ANSWER
    )

    assert isinstance(result.request_uuid, list)
    assert len(result.request_uuid) == 2
    assert emulator.requests[0].json["to"] == "+14155550111<sip:bob@example.com"
    assert [c.to for c in emulator.calls] == ["+14155550111", "sip:bob@example.com"]


async def test_documented_string_forms_are_accepted(raw: Any) -> None:
    # The reference's own example sends numbers and booleans as strings and "POSt".
    body = {
        **BASE,
        "ring_method": "POSt",
        "time_limit": "300",
        "send_on_preanswer": "true",
        "send_digits": "1w2W3",
        "machine_detection": "hangup",
    }

    response = await raw.post("/v1/Account/MAEMULATORAUTHID0001/Call/", json=body)

    assert response.status_code == 201
    assert response.json()["message"] == "call fired"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"answer_url": None}, "answer_url is required"),
        ({"to": "not-a-number"}, "to must be phone numbers or SIP URIs"),
        ({"to": "+14155550111<"}, "to must be phone numbers or SIP URIs"),
        ({"from": "alice"}, "from must be a phone number"),
        ({"answer_url": "ftp://example.com/x"}, "answer_url must be an http(s) URL"),
        ({"time_limit": 0}, "time_limit must be an integer >= 1"),
        ({"time_limit": True}, "time_limit must be an integer >= 1"),
        ({"machine_detection_time": 100}, "machine_detection_time must be an integer between"),
        ({"answer_method": "PUT"}, "answer_method must be GET or POST"),
        ({"caller_name": "x" * 51}, "caller_name must be 1 to 50 characters"),
        ({"sip_headers": "a=b;c=d"}, "sip_headers must be key=value pairs"),
        ({"send_digits": "12x"}, "send_digits must be DTMF digits"),
        ({"from_": "+14155550100"}, "unknown parameter 'from_'"),
        ({"to": "<".join(f"+1415555{n:04d}" for n in range(1001))}, "at most 1000 unique"),
        ({"to": "+14155550111<14155550100"}, "from must not be one of the destinations"),
    ],
)
async def test_invalid_call_bodies_are_400(
    raw: Any, emulator: PhloEmulator, change: dict[str, Any], error: str
) -> None:
    body = {**BASE, **change}
    body = {key: value for key, value in body.items() if value is not None}

    response = await raw.post(call_url(emulator), json=body)

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert response.json()["api_id"]
    assert emulator.executed == []
    assert emulator.calls == []


async def test_parent_call_must_exist_when_asked(raw: Any, emulator: PhloEmulator) -> None:
    first = await raw.post(call_url(emulator), json=BASE)
    parent = first.json()["request_uuid"]

    missing = await raw.post(
        call_url(emulator),
        json={**BASE, "parent_call_uuid": "nope", "error_if_parent_not_found": True},
    )
    found = await raw.post(
        call_url(emulator),
        json={**BASE, "parent_call_uuid": parent, "error_if_parent_not_found": True},
    )

    assert missing.status_code == 404
    assert "parent call nope" in missing.json()["error"]
    assert found.status_code == 201


async def test_another_accounts_url_is_401(client: PhloClient, connect: Connect) -> None:
    emulator = PhloEmulator(EmulatorConfig(auth_id="MAOTHERACCOUNT000001"))
    other = await connect(emulator)
    # Right credentials, wrong account in the URL.
    other._voice_call_url = other._voice_call_url.replace(
        "MAOTHERACCOUNT000001", "MAEMULATORAUTHID0001"
    )

    with pytest.raises(AuthenticationError):
        await other.calls.create("+14155550100", "+14155550111", ANSWER)
    assert emulator.calls == []


async def test_calls_beyond_the_rate_are_queued(connect: Connect) -> None:
    emulator = PhloEmulator(EmulatorConfig(calls_per_second=1), clock=lambda: 50.0)
    client = await connect(emulator)

    first = await client.calls.create("+14155550100", "+14155550111", ANSWER)
    second = await client.calls.create("+14155550100", "+14155550112", ANSWER)

    assert first.message == "call fired"
    assert second.message == "call queued"
    assert emulator.requests[1].status == 200
    assert len(emulator.calls) == 2
