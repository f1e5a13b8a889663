"""The package's one entry point for requests checked ahead of time:
``send_prepared(client, prepare_run(...))`` / ``prepare_action(...)``, as the
bulk runner sends them, against the emulator counting what it receives."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from plivo_phlo_async import ActionResult, PhloRunResult, ServerOutcomeUnknownError
from plivo_phlo_async.emulator import DEFAULT_NODE_ID, DEFAULT_PHLO_ID, PhloEmulator
from plivo_phlo_async.resources._resource import PreparedRequest, send_prepared
from plivo_phlo_async.resources.multi_party_call import prepare_action
from plivo_phlo_async.resources.phlo import encode_run_payload, prepare_run
from plivo_phlo_async.types._params import (
    CallCreateParams,
    MemberActionParams,
    NodeActionParams,
)

AGENT = "+14155550100"
CUSTOMER = "+14155550101"


async def test_a_prepared_run_is_one_post_of_the_encoded_body_to_the_run_url() -> None:
    emulator = PhloEmulator()
    client = emulator.client()
    content = encode_run_payload({"to": CUSTOMER}, {"from": AGENT})

    request = prepare_run(client.phlo(DEFAULT_PHLO_ID), content)
    result = await send_prepared(client, request)

    assert request.method == "POST"
    assert request.url.endswith(f"/account/{emulator.auth_id}/phlo/{DEFAULT_PHLO_ID}")
    assert isinstance(result, PhloRunResult)
    [received] = emulator.requests
    assert (received.method, received.body) == ("POST", content)
    assert received.json == {"to": CUSTOMER, "from": AGENT}
    [run] = emulator.executions("run")
    assert run.run_id == result.run_id


async def test_a_prepared_run_answered_500_after_processing_is_not_sent_again() -> None:
    emulator = PhloEmulator()
    client = emulator.client(max_retries=3)
    emulator.inject("error_after", method="POST", status=500)
    request = prepare_run(client.phlo(DEFAULT_PHLO_ID), encode_run_payload(None, {"to": AGENT}))

    with pytest.raises(ServerOutcomeUnknownError):
        await send_prepared(client, request)

    assert [r.status for r in emulator.requests] == [500]
    assert len(emulator.executions("run")) == 1


async def test_a_prepared_node_action_is_one_post_of_the_validated_params() -> None:
    emulator = PhloEmulator()
    client = emulator.client()
    node = client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID)
    params = NodeActionParams.model_validate(
        {"action": "call", "to": CUSTOMER, "role": "customer", "trigger_source": AGENT}
    )

    request = prepare_action(node, params)
    result = await send_prepared(client, request)

    assert isinstance(result, ActionResult)
    assert request.content == params.to_json()
    [received] = emulator.requests
    assert received.path == f"/v1/phlo/{DEFAULT_PHLO_ID}/multi_party_call/{DEFAULT_NODE_ID}"
    assert json.loads(received.body) == {
        "action": "call",
        "to": CUSTOMER,
        "role": "customer",
        "trigger_source": AGENT,
    }
    assert emulator.roles(DEFAULT_PHLO_ID, DEFAULT_NODE_ID) == {
        AGENT: "agent",
        CUSTOMER: "customer",
    }


def test_a_prepared_request_is_immutable() -> None:
    request = PreparedRequest("POST", "https://example.test/x", ActionResult, b"{}")

    with pytest.raises(AttributeError):
        request.url = "https://example.test/y"  # type: ignore[misc]


@pytest.mark.parametrize("model", [NodeActionParams, MemberActionParams, CallCreateParams])
def test_request_body_models_run_no_post_init_hook(model: type[BaseModel]) -> None:
    # pydantic runs one for a model with PrivateAttrs, deep-copying each default
    # for every request; the encoded body is kept without one.
    assert model.__pydantic_post_init__ is None
    assert model.__private_attributes__ == {}


def test_a_body_model_built_by_hand_encodes_its_body_when_asked() -> None:
    params = NodeActionParams(action="call", to=CUSTOMER, trigger_source=AGENT)

    assert params.to_json() == (
        b'{"action":"call","to":"+14155550101","role":"agent","trigger_source":"+14155550100"}'
    )
    assert params.to_json() is params.to_json()
