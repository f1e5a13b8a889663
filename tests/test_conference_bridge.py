"""Conference-bridge nodes, and mute/unmute on every member: the requests on the wire.

Member actions are POSTs that can change a live call: like a run, they are
sent once and never again once they may have reached Plivo.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from plivo_phlo_async import (
    ActionResult,
    ConferenceBridge,
    ConferenceBridgeDetails,
    ConferenceBridgeMember,
    InvalidParameterError,
    Member,
    NodeDetails,
    PhloClient,
    RateLimitError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
)

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
MEMBER = "+14155550122"
BASE = "https://phlorunner.plivo.com/v1"
BRIDGE_URL = f"{BASE}/phlo/{PHLO_ID}/conference_bridge/{NODE_ID}"
MPC_URL = f"{BASE}/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}"
ACTION_ANSWER = {"api_id": "a-1", "error": ""}
BRIDGE_ACTIONS = ["mute", "unmute", "hold", "unhold", "hangup"]


def bridge_member(client: PhloClient, address: str = MEMBER) -> ConferenceBridgeMember:
    return client.phlo(PHLO_ID).conference_bridge(NODE_ID).member(address)


def act(member: ConferenceBridgeMember | Member, action: str) -> Awaitable[ActionResult]:
    method: Callable[[], Awaitable[ActionResult]] = getattr(member, action)
    return method()


# --------------------------------------------------------------------------- the handle


async def test_the_bridge_handle_and_its_member_make_no_request(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    bridge = client.phlo(PHLO_ID).conference_bridge(NODE_ID)
    member = bridge.member("sip:bob@example.com")

    assert isinstance(bridge, ConferenceBridge)
    assert (bridge.node_id, member.member_address) == (NODE_ID, "sip:bob@example.com")
    assert repr(bridge) == f"ConferenceBridge(node_id={NODE_ID!r})"
    assert repr(member) == "ConferenceBridgeMember(member_address='sip:bob@example.com')"
    assert respx_mock.calls.call_count == 0


async def test_get_is_one_get_returning_a_conference_bridge_model(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(BRIDGE_URL).respond(
        200,
        json={
            "api_id": "a-1",
            "node_id": NODE_ID,
            "phlo_id": PHLO_ID,
            "name": "Conference Bridge_1",
            "node_type": "conference_bridge",
            "created_on": "2020-08-01 09:05:11.846982+00:00",
        },
    )

    node = await client.phlo(PHLO_ID).conference_bridge(NODE_ID).get()

    assert route.call_count == 1
    assert isinstance(node, ConferenceBridgeDetails)
    assert isinstance(node, NodeDetails)
    assert (node.node_id, node.node_type, node.name) == (
        NODE_ID,
        "conference_bridge",
        "Conference Bridge_1",
    )
    request = route.calls.last.request
    assert request.content == b""
    assert "content-type" not in request.headers


# --------------------------------------------------------------------------- member actions


@pytest.mark.parametrize("action", BRIDGE_ACTIONS)
async def test_each_bridge_member_action_is_one_post_of_only_the_action(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(f"{BRIDGE_URL}/members/{MEMBER}").respond(201, json=ACTION_ANSWER)

    result = await act(bridge_member(client), action)

    assert respx_mock.calls.call_count == 1  # no GET of the PHLO or the node first
    request = route.calls.last.request
    assert request.method == "POST"
    assert json.loads(request.content) == {"action": action}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"].startswith("Basic ")
    assert (result.api_id, result.error, result.http_status) == ("a-1", "", 201)


@pytest.mark.parametrize("action", ["mute", "unmute"])
async def test_multi_party_call_members_mute_and_unmute(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(f"{MPC_URL}/members/{MEMBER}").respond(201, json=ACTION_ANSWER)
    member = client.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER)

    result = await act(member, action)

    assert route.call_count == 1
    assert json.loads(route.calls.last.request.content) == {"action": action}
    assert result.api_id == "a-1"


def test_a_bridge_member_has_only_the_bridge_actions() -> None:
    public = {name for name in dir(ConferenceBridgeMember) if not name.startswith("_")}

    assert public == {*BRIDGE_ACTIONS, "member_address"}


@pytest.mark.parametrize(
    "address",
    ["", "not-a-number", "+1 415 555", "+1234567890123456", "sip:bob", "../x", "+1/2", None, 14155],
)
async def test_a_bad_member_address_is_refused_before_any_request(
    client: PhloClient, respx_mock: respx.MockRouter, address: Any
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        bridge_member(client, address)

    assert info.value.field == "member_address"
    assert respx_mock.calls.call_count == 0


@pytest.mark.parametrize("node_id", ["", "a/b", "..", "x?y", "a#b", "a b"])
async def test_a_bad_bridge_node_id_is_refused_before_any_request(
    client: PhloClient, respx_mock: respx.MockRouter, node_id: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.phlo(PHLO_ID).conference_bridge(node_id)

    assert info.value.field == "node_id"
    assert respx_mock.calls.call_count == 0


async def test_a_sip_member_keeps_its_colon_and_at_in_the_path(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post().respond(201, json=ACTION_ANSWER)

    await bridge_member(client, "sip:bob@example.com").mute()

    assert route.calls.last.request.url.raw_path.decode() == (
        f"/v1/phlo/{PHLO_ID}/conference_bridge/{NODE_ID}/members/sip:bob@example.com"
    )


# --------------------------------------------------------------------------- never sent twice


@pytest.mark.parametrize("action", BRIDGE_ACTIONS)
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(500, json={"api_id": "a-1", "error": "boom"}), ServerOutcomeUnknownError),
        (httpx.Response(503), ServerOutcomeUnknownError),
        (httpx.Response(408), StatusOutcomeUnknownError),
        (httpx.ReadTimeout("read timed out"), TimeoutOutcomeUnknownError),
    ],
)
async def test_a_bridge_member_action_that_may_have_run_is_sent_once(
    make_client: Callable[..., PhloClient],
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    action: str,
    answer: httpx.Response | Exception,
    error: type[Exception],
) -> None:
    client = make_client(max_retries=5)
    route = respx_mock.post(f"{BRIDGE_URL}/members/{MEMBER}").mock(side_effect=[answer] * 6)

    with pytest.raises(error) as info:
        await act(bridge_member(client), action)

    assert route.call_count == 1
    assert getattr(info.value, "outcome_unknown", False) is True
    assert sleeps == []


async def test_a_rate_limited_bridge_member_action_is_retried_because_it_did_not_run(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = respx_mock.post(f"{BRIDGE_URL}/members/{MEMBER}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(201, json=ACTION_ANSWER),
        ]
    )

    result = await bridge_member(client).hold()

    assert route.call_count == 2
    assert result.api_id == "a-1"
    assert len(sleeps) == 1


async def test_a_rate_limited_bridge_member_action_ends_as_a_rate_limit_error(
    make_client: Callable[..., PhloClient], respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    client = make_client(max_retries=1)
    route = respx_mock.post(f"{BRIDGE_URL}/members/{MEMBER}").respond(429)

    with pytest.raises(RateLimitError):
        await bridge_member(client).mute()

    assert route.call_count == 2
