"""Auth, 404, 405, 400 and api_id on every answer, over bare HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plivo_phlo_async import AuthenticationError, PhloClient
from plivo_phlo_async.emulator import DEFAULT_NODE_ID, DEFAULT_PHLO_ID, PhloEmulator

from .conftest import Connect

NODE = f"/v1/phlo/{DEFAULT_PHLO_ID}/multi_party_call/{DEFAULT_NODE_ID}"


@pytest.mark.parametrize(
    "auth",
    [
        None,
        ("MAEMULATORAUTHID0001", "wrong-token"),
        ("MAUNKNOWNACCOUNT0001", "emulator-auth-token"),
    ],
)
async def test_bad_credentials_are_401(raw: Any, emulator: PhloEmulator, auth: Any) -> None:
    response = await raw.get(f"/v1/phlo/{DEFAULT_PHLO_ID}", auth=auth)

    assert response.status_code == 401
    body = response.json()
    assert body["error"].startswith("Could not verify your access level")
    assert body["api_id"]
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_sdk_with_a_wrong_token_gets_authentication_error(
    connect: Connect, emulator: PhloEmulator
) -> None:
    client = await connect(emulator)
    wrong = PhloClient(
        emulator.auth_id,
        "not-the-token",
        base_url=client.base_url,
        voice_base_url=client.voice_base_url,
        http_client=client._requester.http_client,
    )

    with pytest.raises(AuthenticationError) as caught:
        await wrong.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")

    assert caught.value.api_id
    assert emulator.executed == []


async def test_run_under_another_accounts_url_is_401(raw: Any, emulator: PhloEmulator) -> None:
    response = await raw.post(f"/v1/account/MAOTHERACCOUNT000001/phlo/{DEFAULT_PHLO_ID}", json={})

    assert response.status_code == 401
    assert emulator.executed == []


@pytest.mark.parametrize(
    "path", ["/v1/nothing", "/v1/phlo", f"/v1/phlo/{DEFAULT_PHLO_ID}/whatever", "/"]
)
async def test_unknown_routes_are_404_json(raw: Any, path: str) -> None:
    response = await raw.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["api_id"]
    assert response.json()["error"] == "not found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"/v1/phlo/{DEFAULT_PHLO_ID}"),
        ("POST", f"/v1/phlo/{DEFAULT_PHLO_ID}"),
        ("GET", f"/v1/account/MAEMULATORAUTHID0001/phlo/{DEFAULT_PHLO_ID}"),
        ("PUT", NODE),
        ("GET", f"{NODE}/members/+14155550100"),
        ("GET", "/v1/Account/MAEMULATORAUTHID0001/Call/"),
    ],
)
async def test_wrong_methods_are_405_json(raw: Any, method: str, path: str) -> None:
    response = await raw.request(method, path)

    assert response.status_code == 405
    assert response.json()["api_id"]
    assert method in response.json()["error"]
    assert "allow" in response.headers


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b'{"action": "call",', {"content-type": "application/json"}, "not valid JSON"),
        (b'["call"]', {"content-type": "application/json"}, "must be a JSON object"),
        (b"", {"content-type": "application/json"}, "JSON object body is required"),
        (b"action=call", {"content-type": "application/x-www-form-urlencoded"}, "Content-Type"),
        (b'{"action": NaN}', {"content-type": "application/json"}, "not valid JSON"),
    ],
)
async def test_unreadable_bodies_are_400(
    raw: Any, emulator: PhloEmulator, body: bytes, headers: dict[str, str], error: str
) -> None:
    response = await raw.post(NODE, content=body, headers=headers)

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert emulator.executed == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"to": "+1415", "trigger_source": "+1416"}, "action is required"),
        ({"action": "dial", "to": "+1415", "trigger_source": "+1416"}, "action must be one of"),
        ({"action": "call", "trigger_source": "+1416"}, "to is required"),
        ({"action": "call", "to": "+1415"}, "trigger_source is required"),
        ({"action": "call", "to": "bob", "trigger_source": "+1416"}, "to must be a phone number"),
        (
            {"action": "call", "to": "sip:bob@example.com:0", "trigger_source": "+1416"},
            "to must be a phone number",
        ),
        (
            {"action": "call", "to": "+1415", "trigger_source": "sip:al@example.com:65536"},
            "trigger_source must be a phone number",
        ),
        (
            {"action": "call", "to": "+1415", "trigger_source": "+1416", "role": "Agent"},
            "role must be 'agent' or 'customer'",
        ),
        (
            {"action": "call", "to": "+1415", "trigger_source": "+1416", "extra": 1},
            "unknown parameter 'extra'",
        ),
    ],
)
async def test_invalid_node_actions_are_400(
    raw: Any, emulator: PhloEmulator, body: dict[str, Any], error: str
) -> None:
    response = await raw.post(NODE, json=body)

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID) == {}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "action is required"),
        ({"action": "call"}, "action must be one of"),
        ({"action": "hold", "to": "+1"}, "unknown parameter 'to'"),
    ],
)
async def test_invalid_member_actions_are_400(raw: Any, body: dict[str, Any], error: str) -> None:
    await raw.post(NODE, json={"action": "call", "to": "+1415", "trigger_source": "+1416"})

    response = await raw.post(f"{NODE}/members/+1415", json=body)

    assert response.status_code == 400
    assert error in response.json()["error"]


async def test_role_defaults_to_agent(raw: Any, emulator: PhloEmulator) -> None:
    body = {"action": "call", "to": "+1415", "trigger_source": "+1416"}

    response = await raw.post(NODE, json=body)

    assert response.status_code == 201
    assert response.json() == {"api_id": response.json()["api_id"], "error": ""}
    assert emulator.roles(DEFAULT_PHLO_ID, DEFAULT_NODE_ID)["+1415"] == "agent"


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/phlo/{DEFAULT_PHLO_ID}/",
        f"{NODE}/",
    ],
)
async def test_trailing_slashes_are_accepted_like_plivos_python_sdk_sends_them(
    raw: Any, path: str
) -> None:
    response = await raw.get(path)

    assert response.status_code == 200


async def test_every_answer_has_a_distinct_api_id(raw: Any, emulator: PhloEmulator) -> None:
    responses: list[httpx.Response] = [
        await raw.get(f"/v1/phlo/{DEFAULT_PHLO_ID}"),
        await raw.post(f"/v1/account/{emulator.auth_id}/phlo/{DEFAULT_PHLO_ID}", json={}),
        await raw.get(NODE),
        await raw.post(NODE, json={"action": "call", "to": "+1415", "trigger_source": "+1416"}),
        await raw.post(f"{NODE}/members/+1415", json={"action": "hold"}),
        await raw.post(f"{NODE}/members/+1499", json={"action": "hold"}),
        await raw.get("/v1/unknown"),
        await raw.delete(NODE),
        await raw.get(NODE, auth=None),
    ]

    assert [r.status_code for r in responses] == [200, 201, 200, 201, 201, 404, 404, 405, 401]
    ids = [r.json()["api_id"] for r in responses]
    assert len(set(ids)) == len(ids)
    assert ids == [request.api_id for request in emulator.requests]


@pytest.mark.parametrize(
    "body", [b'{"action": NaN}', b'{"action": "call", "to": 1e999}', b'{"x": -Infinity}']
)
async def test_non_standard_json_is_400_and_the_admin_api_still_answers(
    raw: Any, emulator: PhloEmulator, body: bytes
) -> None:
    response = await raw.post(NODE, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    recorded = await raw.get("/_emulator/requests")
    assert recorded.status_code == 200
    assert recorded.json()[-1]["json"] is None  # recorded, but not as a JSON value
    assert emulator.executed == []
