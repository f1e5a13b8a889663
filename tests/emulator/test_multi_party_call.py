"""Multi-party-call nodes and the member state machine, through the SDK."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from plivo_phlo_async import BadRequestError, MultiPartyCall, NotFoundError, PhloClient
from plivo_phlo_async.emulator import (
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    EmulatorConfig,
    MemberSeed,
    NodeSeed,
    PhloEmulator,
    PhloSeed,
)
from plivo_phlo_async.emulator._state import (
    ON_CALL,
    ON_HOLD,
    TRANSFER_INITIATOR,
    TRANSFER_RECIPIENT,
    WAITING_ON_TRANSFER,
)

from .conftest import Connect

AGENT = "+14155550100"
CUSTOMER = "+14155550111"
EXPERT = "sip:expert@example.com"
OTHER_AGENT = "+14155550122"


@pytest.fixture
def mpc(client: PhloClient) -> MultiPartyCall:
    return client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID)


def members(emulator: PhloEmulator) -> dict[str, str]:
    return emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID)


async def test_get_returns_the_multi_party_call_object(mpc: MultiPartyCall) -> None:
    node = await mpc.get()

    assert (node.node_id, node.phlo_id) == (DEFAULT_NODE_ID, DEFAULT_PHLO_ID)
    assert node.name == "Multi-Party Call_1"
    assert node.node_type == "multi_party_call"
    assert node.created_on == datetime(2024, 5, 1, 9, 5, 11, 846982, tzinfo=timezone.utc)
    assert node.api_id


async def test_unknown_node_is_404(client: PhloClient) -> None:
    node = client.phlo(DEFAULT_PHLO_ID).multi_party_call("00000000-0000-4000-8000-0000000000ff")
    with pytest.raises(NotFoundError):
        await node.get()
    with pytest.raises(NotFoundError):
        await node.call(AGENT, CUSTOMER)


async def test_first_call_brings_the_agent_and_dials_the_customer(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    result = await mpc.call(AGENT, CUSTOMER, role="customer")

    assert result.error == ""
    assert result.api_id
    assert members(emulator) == {AGENT: ON_CALL, CUSTOMER: ON_CALL}
    roles = emulator.roles(DEFAULT_PHLO_ID, DEFAULT_NODE_ID)
    assert roles == {AGENT: "agent", CUSTOMER: "customer"}
    [action] = emulator.executed
    assert (action.kind, action.member) == ("call", CUSTOMER)
    assert action.payload == {
        "action": "call",
        "to": CUSTOMER,
        "role": "customer",
        "trigger_source": AGENT,
    }


async def test_call_from_someone_not_on_the_call_is_400(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(BadRequestError) as caught:
        await mpc.call(OTHER_AGENT, EXPERT)

    assert "not a member" in str(caught.value.error)
    assert EXPERT not in members(emulator)


async def test_a_customer_cannot_trigger_a_call(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(BadRequestError) as caught:
        await mpc.call(CUSTOMER, EXPERT)

    assert "not an agent" in str(caught.value.error)


async def test_calling_a_member_already_on_the_call_is_400(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(BadRequestError) as caught:
        await mpc.call(AGENT, CUSTOMER)

    assert "already a member" in str(caught.value.error)


async def test_hold_then_unhold(mpc: MultiPartyCall, emulator: PhloEmulator) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    member = mpc.member(CUSTOMER)

    await member.hold()
    assert members(emulator)[CUSTOMER] == ON_HOLD
    await member.unhold()
    assert members(emulator)[CUSTOMER] == ON_CALL
    assert [a.kind for a in emulator.executed] == ["call", "hold", "unhold"]


async def test_hold_twice_is_400(mpc: MultiPartyCall, emulator: PhloEmulator) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.member(CUSTOMER).hold()

    with pytest.raises(BadRequestError) as caught:
        await mpc.member(CUSTOMER).hold()

    assert "on_hold" in str(caught.value.error)
    assert [a.kind for a in emulator.executed] == ["call", "hold"]


async def test_unhold_of_a_member_not_on_hold_is_400(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(BadRequestError):
        await mpc.member(CUSTOMER).unhold()


async def test_hold_of_a_member_not_on_the_call_is_404(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(NotFoundError) as caught:
        await mpc.member("+14155550199").hold()

    assert "not on the call" in str(caught.value.error)
    assert [a.kind for a in emulator.executed] == ["call"]


async def test_resume_call_without_a_warm_transfer_is_400(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(BadRequestError) as caught:
        await mpc.member(AGENT).resume_call()

    assert "no warm transfer" in str(caught.value.error)


async def test_warm_transfer_holds_the_others_while_agents_talk(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    await mpc.warm_transfer(AGENT, EXPERT)

    assert members(emulator) == {
        AGENT: TRANSFER_INITIATOR,
        CUSTOMER: WAITING_ON_TRANSFER,
        EXPERT: TRANSFER_RECIPIENT,
    }


async def test_resume_call_by_the_recipient_brings_everyone_back(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    await mpc.member(EXPERT).resume_call()

    assert members(emulator) == {AGENT: ON_CALL, CUSTOMER: ON_CALL, EXPERT: ON_CALL}
    with pytest.raises(BadRequestError):
        await mpc.member(AGENT).resume_call()


async def test_resume_call_by_the_initiator_works_too(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    await mpc.member(AGENT).resume_call()

    assert set(members(emulator).values()) == {ON_CALL}


async def test_a_waiting_member_cannot_resume_or_be_held(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    with pytest.raises(BadRequestError):
        await mpc.member(CUSTOMER).resume_call()
    with pytest.raises(BadRequestError):
        await mpc.member(CUSTOMER).hold()


async def test_abort_transfer_drops_the_recipient(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    await mpc.member(AGENT).abort_transfer()

    assert members(emulator) == {AGENT: ON_CALL, CUSTOMER: ON_CALL}


async def test_only_the_initiator_can_abort_a_transfer(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    with pytest.raises(BadRequestError):
        await mpc.member(EXPERT).abort_transfer()
    with pytest.raises(BadRequestError):
        await mpc.member(CUSTOMER).abort_transfer()


async def test_abort_transfer_without_a_transfer_is_400(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    with pytest.raises(BadRequestError):
        await mpc.member(AGENT).abort_transfer()


async def test_no_second_transfer_while_one_is_in_progress(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    with pytest.raises(BadRequestError) as caught:
        await mpc.warm_transfer(AGENT, OTHER_AGENT)

    assert TRANSFER_INITIATOR in str(caught.value.error)


async def test_a_member_on_hold_keeps_its_hold_through_a_transfer(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.call(AGENT, OTHER_AGENT)
    await mpc.member(OTHER_AGENT).hold()
    await mpc.warm_transfer(AGENT, EXPERT)

    await mpc.member(EXPERT).resume_call()

    assert members(emulator) == {
        AGENT: ON_CALL,
        CUSTOMER: ON_CALL,
        OTHER_AGENT: ON_HOLD,
        EXPERT: ON_CALL,
    }


async def test_hangup_of_the_initiator_hands_the_call_to_the_recipient(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.warm_transfer(AGENT, EXPERT)

    await mpc.member(AGENT).hangup()

    assert members(emulator) == {CUSTOMER: ON_CALL, EXPERT: ON_CALL}


async def test_cold_transfer_connects_the_recipient_and_drops_the_initiator(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    await mpc.cold_transfer(AGENT, OTHER_AGENT, role="agent")

    assert members(emulator) == {CUSTOMER: ON_CALL, OTHER_AGENT: ON_CALL}
    with pytest.raises(NotFoundError):
        await mpc.member(AGENT).hold()


async def test_hangup_removes_the_member(mpc: MultiPartyCall, emulator: PhloEmulator) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    await mpc.member(CUSTOMER).hangup()

    assert members(emulator) == {AGENT: ON_CALL}
    with pytest.raises(NotFoundError):
        await mpc.member(CUSTOMER).unhold()


async def test_voicemail_drop_leaves_the_message_and_the_call(
    mpc: MultiPartyCall, emulator: PhloEmulator
) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    await mpc.member(CUSTOMER).voicemail_drop()

    assert CUSTOMER not in members(emulator)


async def test_voicemail_drop_on_hold_is_400(mpc: MultiPartyCall) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")
    await mpc.member(CUSTOMER).hold()

    with pytest.raises(BadRequestError):
        await mpc.member(CUSTOMER).voicemail_drop()


async def test_sip_members_survive_the_url(mpc: MultiPartyCall, emulator: PhloEmulator) -> None:
    await mpc.call(AGENT, EXPERT)

    await mpc.member(EXPERT).hold()

    assert members(emulator)[EXPERT] == ON_HOLD
    assert emulator.requests[-1].path.endswith(f"/members/{EXPERT}")


async def test_seeded_members_are_on_the_call(connect: Connect) -> None:
    emulator = PhloEmulator(
        EmulatorConfig(
            phlos=(
                PhloSeed(
                    phlo_id="p-1",
                    nodes=(
                        NodeSeed(
                            node_id="n-1",
                            members=(MemberSeed(AGENT), MemberSeed(CUSTOMER, "customer")),
                        ),
                    ),
                ),
            )
        )
    )
    client = await connect(emulator)
    node = client.phlo("p-1").multi_party_call("n-1")

    await node.warm_transfer(AGENT, EXPERT)

    assert emulator.members("p-1", "n-1") == {
        AGENT: TRANSFER_INITIATOR,
        CUSTOMER: WAITING_ON_TRANSFER,
        EXPERT: TRANSFER_RECIPIENT,
    }


async def test_node_actions_dial_a_call_leg(mpc: MultiPartyCall, emulator: PhloEmulator) -> None:
    await mpc.call(AGENT, CUSTOMER, role="customer")

    legs = [(c.to, c.source, c.node_id) for c in emulator.calls]

    assert legs == [
        (AGENT, "multi_party_call", DEFAULT_NODE_ID),
        (CUSTOMER, "multi_party_call", DEFAULT_NODE_ID),
    ]
