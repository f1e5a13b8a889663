"""Conference bridges, mute/unmute and any node type, end to end against the emulator.

Every test runs twice (in-process and over a real socket); the emulator counts
what it received and what it executed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from plivo_phlo_async import (
    BadRequestError,
    ConferenceBridge,
    ConferenceBridgeDetails,
    MethodNotAllowedError,
    MultiPartyCallDetails,
    NodeDetails,
    NotFoundError,
    OutcomeUnknownError,
    PhloClient,
    ServerOutcomeUnknownError,
)
from plivo_phlo_async.emulator import (
    BRIDGE_MEMBERS,
    DEFAULT_BRIDGE_ID,
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    ConfigError,
    EmulatorConfig,
    MemberSeed,
    NodeSeed,
    PhloEmulator,
    PhloSeed,
)
from plivo_phlo_async.emulator._state import ON_CALL, ON_HOLD

from .conftest import Connect

FIRST, SECOND = BRIDGE_MEMBERS
AGENT = "+14155550100"
CUSTOMER = "+14155550111"
BRIDGE_PATH = f"/v1/phlo/{DEFAULT_PHLO_ID}/conference_bridge/{DEFAULT_BRIDGE_ID}"


@pytest.fixture
def bridge(client: PhloClient) -> ConferenceBridge:
    return client.phlo(DEFAULT_PHLO_ID).conference_bridge(DEFAULT_BRIDGE_ID)


def muted(emulator: PhloEmulator) -> dict[str, bool]:
    return emulator.muted(DEFAULT_PHLO_ID, DEFAULT_BRIDGE_ID)


def states(emulator: PhloEmulator) -> dict[str, str]:
    return emulator.members(DEFAULT_PHLO_ID, DEFAULT_BRIDGE_ID)


# --------------------------------------------------------------------------- the node


async def test_get_returns_the_seeded_conference_bridge(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    node = await bridge.get()

    assert isinstance(node, ConferenceBridgeDetails)
    assert (node.node_id, node.phlo_id, node.node_type) == (
        DEFAULT_BRIDGE_ID,
        DEFAULT_PHLO_ID,
        "conference_bridge",
    )
    assert node.name == "Conference Bridge_1"
    assert node.created_on == datetime(2024, 5, 1, 9, 6, 2, 210377, tzinfo=timezone.utc)
    assert node.api_id == emulator.requests[0].api_id
    assert node.http_status == 200
    assert node.http_headers["content-type"] == "application/json"


async def test_a_bridge_is_not_a_multi_party_call_nor_the_reverse(client: PhloClient) -> None:
    phlo = client.phlo(DEFAULT_PHLO_ID)

    with pytest.raises(NotFoundError):
        await phlo.multi_party_call(DEFAULT_BRIDGE_ID).get()
    with pytest.raises(NotFoundError):
        await phlo.conference_bridge(DEFAULT_NODE_ID).get()
    with pytest.raises(NotFoundError):
        await phlo.multi_party_call(DEFAULT_BRIDGE_ID).member(FIRST).mute()


async def test_an_unknown_bridge_is_404(client: PhloClient) -> None:
    bridge = client.phlo(DEFAULT_PHLO_ID).conference_bridge("00000000-0000-4000-8000-0000000000ff")

    with pytest.raises(NotFoundError):
        await bridge.get()
    with pytest.raises(NotFoundError):
        await bridge.member(FIRST).mute()


# --------------------------------------------------------------------------- members


async def test_mute_then_unmute_a_bridge_member(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    assert muted(emulator) == {FIRST: False, SECOND: False}

    result = await bridge.member(FIRST).mute()

    assert (result.error, result.http_status) == ("", 201)
    assert muted(emulator) == {FIRST: True, SECOND: False}
    await bridge.member(FIRST).unmute()
    assert muted(emulator) == {FIRST: False, SECOND: False}
    assert [(a.kind, a.node_id, a.member) for a in emulator.executed] == [
        ("mute", DEFAULT_BRIDGE_ID, FIRST),
        ("unmute", DEFAULT_BRIDGE_ID, FIRST),
    ]
    assert [r.json for r in emulator.requests] == [{"action": "mute"}, {"action": "unmute"}]
    assert {r.path for r in emulator.requests} == {f"{BRIDGE_PATH}/members/{FIRST}"}


async def test_muting_twice_or_unmuting_an_unmuted_member_is_400(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    with pytest.raises(BadRequestError, match="not muted"):
        await bridge.member(FIRST).unmute()
    await bridge.member(FIRST).mute()
    with pytest.raises(BadRequestError, match="already muted"):
        await bridge.member(FIRST).mute()

    assert muted(emulator)[FIRST] is True
    assert [a.kind for a in emulator.executed] == ["mute"]


async def test_hold_and_unhold_a_bridge_member(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    await bridge.member(SECOND).hold()
    assert states(emulator) == {FIRST: ON_CALL, SECOND: ON_HOLD}
    with pytest.raises(BadRequestError, match="member is on_hold"):
        await bridge.member(SECOND).hold()

    await bridge.member(SECOND).unhold()

    assert states(emulator) == {FIRST: ON_CALL, SECOND: ON_CALL}
    with pytest.raises(BadRequestError, match="member is on_call"):
        await bridge.member(SECOND).unhold()


async def test_hangup_removes_the_member_for_good(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    await bridge.member(FIRST).hangup()

    assert states(emulator) == {SECOND: ON_CALL}
    with pytest.raises(NotFoundError):
        await bridge.member(FIRST).mute()


async def test_an_address_that_is_not_on_the_bridge_is_404(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    with pytest.raises(NotFoundError):
        await bridge.member(AGENT).mute()
    assert emulator.executed == []


@pytest.mark.parametrize("action", ["resume_call", "abort_transfer", "voicemail_drop", "call"])
async def test_a_bridge_refuses_the_multi_party_call_only_actions(
    raw: Any, emulator: PhloEmulator, action: str
) -> None:
    response = await raw.post(f"{BRIDGE_PATH}/members/{FIRST}", json={"action": action})

    assert response.status_code == 400
    assert "action must be one of mute, unmute, hold, unhold, hangup" in response.json()["error"]
    assert emulator.executed == []


async def test_a_bridge_node_takes_no_node_action(raw: Any, emulator: PhloEmulator) -> None:
    body = {"action": "call", "to": AGENT, "trigger_source": CUSTOMER}

    response = await raw.post(BRIDGE_PATH, json=body)

    assert response.status_code == 405
    assert emulator.executed == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [("error_after", ServerOutcomeUnknownError), ("drop_after", OutcomeUnknownError)],
)
async def test_a_member_action_whose_answer_is_lost_after_it_ran_is_sent_once(
    connect: Connect,
    emulator: PhloEmulator,
    sleeps: list[float],
    fault: str,
    error: type[Exception],
) -> None:
    client = await connect(emulator, max_retries=5)
    emulator.inject(fault, method="POST", status=500)

    with pytest.raises(error):
        await client.phlo(DEFAULT_PHLO_ID).conference_bridge(DEFAULT_BRIDGE_ID).member(FIRST).mute()

    assert len(emulator.requests) == 1
    assert [a.kind for a in emulator.executed] == ["mute"]  # it ran: do not send it again
    assert muted(emulator)[FIRST] is True
    assert sleeps == []


# --------------------------------------------------------------------- mute on a multi-party call


async def test_mute_and_unmute_a_multi_party_call_member(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    mpc = client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID)
    await mpc.call(AGENT, CUSTOMER, "customer")

    await mpc.member(CUSTOMER).mute()
    assert emulator.muted(DEFAULT_PHLO_ID, DEFAULT_NODE_ID) == {AGENT: False, CUSTOMER: True}
    with pytest.raises(BadRequestError, match="already muted"):
        await mpc.member(CUSTOMER).mute()
    await mpc.member(CUSTOMER).unmute()

    assert emulator.muted(DEFAULT_PHLO_ID, DEFAULT_NODE_ID) == {AGENT: False, CUSTOMER: False}
    assert emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID) == {AGENT: ON_CALL, CUSTOMER: ON_CALL}


async def test_the_state_snapshot_shows_who_is_muted(
    bridge: ConferenceBridge, emulator: PhloEmulator
) -> None:
    await bridge.member(SECOND).mute()

    nodes = emulator.snapshot()["phlos"][0]["nodes"]
    bridge_node = next(node for node in nodes if node["node_id"] == DEFAULT_BRIDGE_ID)
    assert bridge_node["node_type"] == "conference_bridge"
    assert {m["member_address"]: m["muted"] for m in bridge_node["members"]} == {
        FIRST: False,
        SECOND: True,
    }


# --------------------------------------------------------------------------- any node


@pytest.mark.parametrize(
    ("node_type", "node_id", "model"),
    [
        ("multi_party_call", DEFAULT_NODE_ID, MultiPartyCallDetails),
        ("conference_bridge", DEFAULT_BRIDGE_ID, ConferenceBridgeDetails),
    ],
)
async def test_node_get_reads_each_seeded_node_by_type(
    client: PhloClient, emulator: PhloEmulator, node_type: str, node_id: str, model: type
) -> None:
    node = await client.phlo(DEFAULT_PHLO_ID).node(node_type, node_id).get()

    assert type(node) is model
    assert (node.node_id, node.node_type) == (node_id, node_type)
    assert [(r.method, r.path) for r in emulator.requests] == [
        ("GET", f"/v1/phlo/{DEFAULT_PHLO_ID}/{node_type}/{node_id}")
    ]


async def test_node_get_of_the_wrong_type_is_404(client: PhloClient) -> None:
    with pytest.raises(NotFoundError):
        await client.phlo(DEFAULT_PHLO_ID).node("conference_bridge", DEFAULT_NODE_ID).get()
    with pytest.raises(NotFoundError):
        await client.phlo(DEFAULT_PHLO_ID).node("send_sms", DEFAULT_NODE_ID).get()


async def test_a_seeded_node_of_any_type_is_served_as_a_generic_node(connect: Connect) -> None:
    sms_id = "00000000-0000-4000-8000-00000000d001"
    emulator = PhloEmulator(
        EmulatorConfig(
            phlos=(
                PhloSeed(
                    phlo_id=DEFAULT_PHLO_ID,
                    nodes=(NodeSeed(node_id=sms_id, name="Send SMS_1", node_type="send_sms"),),
                ),
            )
        )
    )
    client = await connect(emulator)

    node = await client.phlo(DEFAULT_PHLO_ID).node("send_sms", sms_id).get()

    assert type(node) is NodeDetails
    assert (node.node_type, node.name) == ("send_sms", "Send SMS_1")
    with pytest.raises(NotFoundError):
        await client.phlo(DEFAULT_PHLO_ID).multi_party_call(sms_id).get()


async def test_node_update_acts_on_a_multi_party_call_like_its_own_method(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    node = client.phlo(DEFAULT_PHLO_ID).node("multi_party_call", DEFAULT_NODE_ID)

    result = await node.update("call", AGENT, CUSTOMER, "customer")

    assert result.error == ""
    assert emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID) == {AGENT: ON_CALL, CUSTOMER: ON_CALL}
    [action] = emulator.executed
    assert (action.kind, action.member) == ("call", CUSTOMER)
    assert [(r.method, r.path) for r in emulator.requests] == [
        ("POST", f"/v1/phlo/{DEFAULT_PHLO_ID}/multi_party_call/{DEFAULT_NODE_ID}")
    ]


async def test_node_update_on_a_bridge_is_405_and_runs_nothing(
    client: PhloClient, emulator: PhloEmulator
) -> None:
    node = client.phlo(DEFAULT_PHLO_ID).node("conference_bridge", DEFAULT_BRIDGE_ID)

    with pytest.raises(MethodNotAllowedError):
        await node.update("call", AGENT, CUSTOMER)

    assert len(emulator.requests) == 1
    assert emulator.executed == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [("error_after", ServerOutcomeUnknownError), ("drop_after", OutcomeUnknownError)],
)
async def test_a_node_update_whose_answer_is_lost_after_it_ran_is_sent_once(
    connect: Connect,
    emulator: PhloEmulator,
    sleeps: list[float],
    fault: str,
    error: type[Exception],
) -> None:
    client = await connect(emulator, max_retries=5)
    emulator.inject(fault, method="POST", status=500)

    with pytest.raises(error):
        await (
            client.phlo(DEFAULT_PHLO_ID)
            .node("multi_party_call", DEFAULT_NODE_ID)
            .update("call", AGENT, CUSTOMER)
        )

    assert len(emulator.requests) == 1
    assert [a.kind for a in emulator.executed] == ["call"]  # it ran: do not send it again
    assert sleeps == []


# --------------------------------------------------------------------------- seeds


def test_a_seed_file_names_a_node_s_type() -> None:
    config = EmulatorConfig.from_mapping(
        {
            "phlos": [
                {
                    "phlo_id": "p-1",
                    "nodes": [
                        {
                            "node_id": "b-1",
                            "node_type": "conference_bridge",
                            "members": [{"address": "+14155550100"}],
                        },
                        {"node_id": "n-1"},
                    ],
                }
            ]
        }
    )

    bridge, mpc = config.phlos[0].nodes
    assert (bridge.node_type, mpc.node_type) == ("conference_bridge", "multi_party_call")
    emulator = PhloEmulator(config)
    assert emulator.members("p-1", "b-1") == {"+14155550100": ON_CALL}


@pytest.mark.parametrize("node_type", ["", "Conference", "a/b", "..", "conference-bridge", 3])
def test_a_seed_with_a_bad_node_type_is_refused(node_type: Any) -> None:
    with pytest.raises(ValueError, match="node_type"):
        NodeSeed(node_id="n-1", node_type=node_type)


def test_only_nodes_with_members_may_be_seeded_with_members() -> None:
    with pytest.raises(ConfigError, match="a send_sms node has no members"):
        NodeSeed(node_id="n-1", node_type="send_sms", members=(MemberSeed("+14155550100"),))
