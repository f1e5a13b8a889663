"""Any node of a PHLO by type and id: ``client.phlo(id).node(node_type, node_id).get()``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import respx
from _rejections import rejected

from plivo_phlo_async import (
    ConferenceBridgeDetails,
    InvalidParameterError,
    MultiPartyCallDetails,
    Node,
    NodeDetails,
    PhloClient,
)

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
BASE = "https://phlorunner.plivo.com/v1"


def node_answer(node_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_id": "a-1",
        "node_id": NODE_ID,
        "phlo_id": PHLO_ID,
        "name": f"{node_type}_1",
        "node_type": node_type,
        "created_on": "2020-08-01 09:05:11.846982+00:00",
        **extra,
    }


@pytest.mark.parametrize(
    ("node_type", "model"),
    [
        ("multi_party_call", MultiPartyCallDetails),
        ("conference_bridge", ConferenceBridgeDetails),
        ("send_sms", NodeDetails),
        ("http_request2", NodeDetails),
    ],
)
async def test_get_is_one_get_of_the_typed_url_returning_the_type_s_model(
    client: PhloClient, respx_mock: respx.MockRouter, node_type: str, model: type[NodeDetails]
) -> None:
    route = respx_mock.get(f"{BASE}/phlo/{PHLO_ID}/{node_type}/{NODE_ID}").respond(
        200, json=node_answer(node_type)
    )

    node = await client.phlo(PHLO_ID).node(node_type, NODE_ID).get()

    assert respx_mock.calls.call_count == route.call_count == 1
    assert type(node) is model
    assert (node.node_id, node.phlo_id, node.node_type) == (NODE_ID, PHLO_ID, node_type)
    assert node.created_on == datetime(2020, 8, 1, 9, 5, 11, 846982, tzinfo=timezone.utc)
    assert node.http_status == 200


async def test_an_unknown_node_type_keeps_its_other_fields(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{BASE}/phlo/{PHLO_ID}/send_sms/{NODE_ID}").respond(
        200, json=node_answer("send_sms", text="Hello", to="+14155550100")
    )

    node = await client.phlo(PHLO_ID).node("send_sms", NODE_ID).get()

    assert node.model_extra == {"text": "Hello", "to": "+14155550100"}


async def test_the_handle_makes_no_request(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    node = client.phlo(PHLO_ID).node("conference_bridge", NODE_ID)

    assert isinstance(node, Node)
    assert (node.node_type, node.node_id) == ("conference_bridge", NODE_ID)
    assert repr(node) == f"Node(node_type='conference_bridge', node_id={NODE_ID!r})"
    assert respx_mock.calls.call_count == 0


@pytest.mark.parametrize(
    "node_type",
    [
        "",
        "..",
        ".",
        "runs/x",
        "multi_party_call/../../account",
        "Multi_Party_Call",
        "MULTI",
        "multi-party-call",
        "%2e%2e",
        "a%2Fb",
        "a?b",
        "a#b",
        "a b",
        "conference_bridge\n",
        "_private",
        "1node",
        "nöde",
        "x" * 65,
        b"multi_party_call",
        None,
        42,
    ],
)
async def test_a_node_type_that_is_not_an_identifier_is_refused_before_any_request(
    client: PhloClient, respx_mock: respx.MockRouter, node_type: Any
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.phlo(PHLO_ID).node(node_type, NODE_ID)

    assert info.value.field == "node_type"
    assert respx_mock.calls.call_count == 0


@pytest.mark.parametrize("node_id", ["", "a/b", "..", "x?y"])
async def test_a_bad_node_id_is_refused_before_any_request(
    client: PhloClient, respx_mock: respx.MockRouter, node_id: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.phlo(PHLO_ID).node("send_sms", node_id)

    assert info.value.field == "node_id"
    assert respx_mock.calls.call_count == 0


async def test_the_longest_node_type_is_accepted(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    node_type = "n" + "_" * 63
    route = respx_mock.get(f"{BASE}/phlo/{PHLO_ID}/{node_type}/{NODE_ID}").respond(
        200, json=node_answer(node_type)
    )

    await client.phlo(PHLO_ID).node(node_type, NODE_ID).get()

    assert route.call_count == 1


# --------------------------------------------------------------------------- update

CALLER, CALLEE = "+14155550100", "+14155550111"


@pytest.mark.parametrize("action", ["hold", "mute", "resume_call", "ring_all", "CALL"])
async def test_update_of_a_multi_party_call_takes_only_its_three_actions(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    node = client.phlo(PHLO_ID).node("multi_party_call", NODE_ID)

    await rejected(respx_mock, lambda: node.update(action, CALLER, CALLEE), "action")


@pytest.mark.parametrize(
    "action", ["", "Ring_All", "ring-all", "ring all", "1st", "_x", "x" * 65, None, 1, b"call"]
)
async def test_update_of_any_node_takes_an_action_spelled_as_plivo_spells_them(
    client: PhloClient, respx_mock: respx.MockRouter, action: Any
) -> None:
    node = client.phlo(PHLO_ID).node("custom_node", NODE_ID)

    await rejected(respx_mock, lambda: node.update(action, CALLER, CALLEE), "action")


@pytest.mark.parametrize("node_type", ["multi_party_call", "custom_node"])
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trigger_source": "bob"}, "trigger_source"),
        ({"to": "sip:bob@example.com:0"}, "to"),
        ({"to": b"+14155550111"}, "to"),
        ({"role": "supervisor"}, "role"),
    ],
)
async def test_update_checks_its_addresses_and_role_before_sending(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    node_type: str,
    changes: dict[str, Any],
    field: str,
) -> None:
    arguments: dict[str, Any] = {"trigger_source": CALLER, "to": CALLEE, **changes}
    node = client.phlo(PHLO_ID).node(node_type, NODE_ID)

    await rejected(respx_mock, lambda: node.update("call", **arguments), field)
