"""Bad input raises InvalidParameterError (a ValueError) naming the field, before any request.

Every test runs under respx with no route for the rejected call: a request that
slipped through would fail the test (respx refuses unmocked requests) and is
also counted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

import anyio
import pytest
import respx
from _rejections import rejected

from plivo_phlo_async import InvalidParameterError, PhloClient, PlivoError
from plivo_phlo_async._validation import is_int, is_number, validate_model
from plivo_phlo_async.types._params import MemberActionParams, NodeActionParams

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
SOURCE = "+14155550111"
AGENT = "+14155550100"
ANSWER_URL = "https://example.com/answer.xml"
VOICE_URL = "https://api.plivo.com/v1/Account/{auth_id}/Call/"


@pytest.fixture(scope="module")
def client() -> Iterator[PhloClient]:
    """One client for the whole module: validation never touches the connection pool."""
    client = PhloClient("MAXXXXXXXXXXXXXXXXXX", "validation-token")
    yield client
    anyio.run(client.aclose)


# --------------------------------------------------------------------------- path ids

BAD_IDS = [
    pytest.param("", id="empty"),
    pytest.param("a/b", id="slash"),
    pytest.param("/", id="only-slash"),
    pytest.param("a?b", id="question-mark"),
    pytest.param("a#b", id="hash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("a b", id="space"),
    pytest.param(" a", id="leading-space"),
    pytest.param("a\tb", id="tab"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\xa0b", id="no-break-space"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\u200bb", id="zero-width-space"),
    pytest.param("..", id="dot-dot"),
    pytest.param(".", id="dot"),
    pytest.param("a..b", id="dot-dot-inside"),
]

ID_USES: list[Any] = [
    pytest.param(lambda c, v: c.phlo(v).get(), "phlo_id", id="phlo(id)"),
    pytest.param(lambda c, v: c.phlo.get(v), "phlo_id", id="phlo.get(id)"),
    pytest.param(lambda c, v: c.phlo(v).run(), "phlo_id", id="phlo(id).run"),
    pytest.param(lambda c, v: c.phlo(PHLO_ID).multi_party_call(v).get(), "node_id", id="node"),
    pytest.param(lambda c, v: c.phlo(PHLO_ID).get_run(v), "run_id", id="run"),
]


@pytest.mark.parametrize(("use", "field"), ID_USES)
@pytest.mark.parametrize("bad_id", BAD_IDS)
async def test_bad_ids_are_rejected(
    client: PhloClient, respx_mock: respx.MockRouter, use: Any, field: str, bad_id: str
) -> None:
    await rejected(respx_mock, lambda: use(client, bad_id), field)


@pytest.mark.parametrize(("use", "field"), ID_USES)
@pytest.mark.parametrize("bad_id", [123, None, b"abc", ["abc"], 1.5])
async def test_non_string_ids_are_rejected(
    client: PhloClient, respx_mock: respx.MockRouter, use: Any, field: str, bad_id: Any
) -> None:
    error = await rejected(respx_mock, lambda: use(client, bad_id), field)
    assert "must be a string" in error.reason


async def test_an_id_too_long_for_a_url_raises_a_plivo_error_before_sending(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.route().respond(200, json={"phlo_id": "p"})

    with pytest.raises(PlivoError):
        await client.phlo("a" * 70_000).get()

    assert route.call_count == 0


def test_building_a_handle_with_a_bad_id_raises_at_once(client: PhloClient) -> None:
    # No await needed: the handle checks its id when it is created.
    with pytest.raises(InvalidParameterError) as info:
        client.phlo(PHLO_ID).multi_party_call("../x")
    assert info.value.field == "node_id"


# --------------------------------------------------------------------------- addresses

BAD_ADDRESSES = [
    pytest.param("", id="empty"),
    pytest.param("bob", id="bare-name"),
    pytest.param("+", id="only-plus"),
    pytest.param("+1-415-555-0100", id="dashes"),
    pytest.param("(415) 5550100", id="punctuation"),
    pytest.param("1234567890123456", id="16-digits"),
    pytest.param("++14155550100", id="two-pluses"),
    pytest.param("tel:+14155550100", id="tel-uri"),
    pytest.param("sip:bob", id="sip-without-host"),
    pytest.param("sip:@example.com", id="sip-without-user"),
    pytest.param("SIP:bob@example.com", id="upper-case-scheme"),
    pytest.param("sip:bob@exa mple.com", id="space-in-host"),
    pytest.param("sip:bob@example.com/x", id="slash-after-host"),
    pytest.param("sip:bob@example.com?x=1", id="query-after-host"),
    pytest.param("sip:b/b@example.com", id="slash-in-user"),
    pytest.param("sip:a<b@example.com", id="lt-in-user"),
    pytest.param("+14155550100 ", id="trailing-space"),
    pytest.param("sip:bob@example.com:0", id="sip-port-0"),
    pytest.param("sip:bob@example.com:65536", id="sip-port-65536"),
    pytest.param("sips:bob@example.com:99999", id="sip-port-99999"),
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
async def test_bad_member_address_is_rejected(
    client: PhloClient, respx_mock: respx.MockRouter, address: str
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await rejected(respx_mock, lambda: node.member(address).hold(), "member_address")


@pytest.mark.parametrize("address", [14155550100, None, b"+14155550100"])
async def test_non_string_member_address_is_rejected(
    client: PhloClient, respx_mock: respx.MockRouter, address: Any
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await rejected(respx_mock, lambda: node.member(address).hold(), "member_address")


@pytest.mark.parametrize(
    "address",
    [
        "14155550100",
        "+14155550100",
        "+123456789012345",
        "sip:bob@example.com",
        "sips:bob@example.com:5061",
        "sip:bob@example.com:1",
        "sip:bob@example.com:65535",
        "sip:bob.smith_1-x@phone.plivo.com",
    ],
)
async def test_phone_numbers_and_sip_uris_are_accepted_as_members(
    client: PhloClient, respx_mock: respx.MockRouter, address: str
) -> None:
    route = respx_mock.post().respond(201, json={"api_id": "a", "error": ""})

    await client.phlo(PHLO_ID).multi_party_call(NODE_ID).member(address).hold()

    assert route.call_count == 1


@pytest.mark.parametrize("action", ["call", "warm_transfer", "cold_transfer"])
@pytest.mark.parametrize("address", BAD_ADDRESSES)
async def test_bad_trigger_source_is_rejected(
    client: PhloClient, respx_mock: respx.MockRouter, action: str, address: str
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await rejected(respx_mock, lambda: getattr(node, action)(address, AGENT), "trigger_source")


@pytest.mark.parametrize("action", ["call", "warm_transfer", "cold_transfer"])
@pytest.mark.parametrize("address", BAD_ADDRESSES)
async def test_bad_to_is_rejected(
    client: PhloClient, respx_mock: respx.MockRouter, action: str, address: str
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await rejected(respx_mock, lambda: getattr(node, action)(SOURCE, address), "to")


@pytest.mark.parametrize("action", ["call", "warm_transfer", "cold_transfer"])
@pytest.mark.parametrize("role", ["supervisor", "Agent", "CUSTOMER", "", None, 1])
async def test_role_must_be_agent_or_customer(
    client: PhloClient, respx_mock: respx.MockRouter, action: str, role: Any
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await rejected(respx_mock, lambda: getattr(node, action)(SOURCE, AGENT, role), "role")


async def test_every_bad_node_action_argument_is_listed(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    error = await rejected(respx_mock, lambda: node.call("bob", "alice", "boss"), "to")

    assert sorted(field for field, _ in error.errors) == ["role", "to", "trigger_source"]


# --------------------------------------------------------------------------- action literals


@pytest.mark.parametrize("action", ["mute", "hold", "CALL", "", "cold-transfer"])
async def test_node_action_must_be_one_of_the_three(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    # The public methods fix the action; the internal path validates it all the same.
    await rejected(respx_mock, lambda: node._act(action, SOURCE, AGENT, "agent", None), "action")  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["MUTE", "un_mute", "call", "HOLD", "", "voicemail-drop"])
async def test_member_action_must_be_one_of_the_eight(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    member = client.phlo(PHLO_ID).multi_party_call(NODE_ID).member(AGENT)

    await rejected(respx_mock, lambda: member._act(action, None), "action")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (NodeActionParams, {"action": "mute", "to": AGENT, "trigger_source": SOURCE}),
        (MemberActionParams, {"action": "call"}),
    ],
)
def test_action_models_reject_unknown_actions(model: Any, data: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError) as info:
        validate_model(model, data)
    assert info.value.field == "action"


@pytest.mark.parametrize(
    "data",
    [
        {"action": "call", "to": AGENT, "trigger_source": SOURCE, "extra": 1},
        {"action": "hold", "extra": 1},
    ],
)
def test_action_models_reject_unknown_fields(data: dict[str, Any]) -> None:
    model = NodeActionParams if data["action"] == "call" else MemberActionParams
    with pytest.raises(InvalidParameterError) as info:
        validate_model(model, data)
    assert info.value.field == "extra"


# --------------------------------------------------------------------------- run payloads


@pytest.mark.parametrize(
    "payload",
    [[("from", "+14155550100")], "from=+14155550100", 42, ("a", "b")],
    ids=["list-of-pairs", "string", "int", "tuple"],
)
async def test_run_payload_must_be_a_mapping(
    client: PhloClient, respx_mock: respx.MockRouter, payload: Any
) -> None:
    await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(payload), "payload")


@pytest.mark.parametrize(
    "payload",
    [{1: "a"}, {None: "a"}, {("a",): 1}, {"": "empty key"}],
    ids=["int-key", "none-key", "tuple-key", "empty-key"],
)
async def test_run_payload_keys_must_be_non_empty_strings(
    client: PhloClient, respx_mock: respx.MockRouter, payload: Any
) -> None:
    await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(payload), "payload")


@pytest.mark.parametrize(
    "value",
    [datetime(2024, 1, 1), object(), {1, 2}, b"bytes", float("nan"), float("inf")],
    ids=["datetime", "object", "set", "bytes", "nan", "infinity"],
)
async def test_run_payload_must_be_json_serialisable(
    client: PhloClient, respx_mock: respx.MockRouter, value: Any
) -> None:
    error = await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(field=value), "payload")
    assert "JSON" in error.reason


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        pytest.param({"a": {1: "x", "1": "y"}}, "payload['a']", id="int-beside-its-text"),
        pytest.param({"a": {None: "x"}}, "payload['a']", id="none"),
        pytest.param({"a": {True: "x"}}, "payload['a']", id="bool"),
        pytest.param({"a": {1.5: "x"}}, "payload['a']", id="float"),
        pytest.param({"a": [{"b": {2: "x"}}]}, "payload['a'][0]['b']", id="in-a-list"),
    ],
)
async def test_run_payload_nested_keys_must_be_strings(
    client: PhloClient, respx_mock: respx.MockRouter, payload: Any, path: str
) -> None:
    # json.dumps would write {1: "x", "1": "y"} as {"1":"x","1":"y"}: one name twice.
    error = await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(payload), "payload")

    assert f"at {path}: keys must be strings" in error.reason


async def test_run_payload_nested_values_must_be_json_serialisable(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    payload = {"order": {"items": [{"when": datetime(2024, 1, 1)}]}}

    await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(payload), "payload")


async def test_run_rejects_a_key_given_both_in_the_mapping_and_as_keyword(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    error = await rejected(
        respx_mock,
        lambda: client.phlo(PHLO_ID).run({"to": "+14155550100", "x": 1}, to="+14155550199"),
        "payload",
    )
    assert "'to'" in error.reason


# --------------------------------------------------------------------------- Voice API call


def call_with(client: PhloClient, **changes: Any) -> Callable[[], Awaitable[Any]]:
    arguments: dict[str, Any] = {"from_": SOURCE, "to": AGENT, "answer_url": ANSWER_URL}
    arguments.update(changes)
    return lambda: client.calls.create(**arguments)


URL_ARGUMENTS = ["answer_url", "ring_url", "hangup_url", "fallback_url", "machine_detection_url"]
METHOD_ARGUMENTS = [
    "answer_method",
    "ring_method",
    "hangup_method",
    "fallback_method",
    "machine_detection_method",
]


@pytest.mark.parametrize("argument", URL_ARGUMENTS)
@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/answer.xml",
        "example.com/answer.xml",
        "https://",
        "https:///path",
        "https://exa mple.com/a",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "",
    ],
)
async def test_call_urls_must_be_absolute_http_or_https(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str, url: str
) -> None:
    await rejected(respx_mock, call_with(client, **{argument: url}), argument)


@pytest.mark.parametrize("argument", METHOD_ARGUMENTS)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "", "GETS", 1])
async def test_call_methods_must_be_get_or_post(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str, method: Any
) -> None:
    await rejected(respx_mock, call_with(client, **{argument: method}), argument)


@pytest.mark.parametrize("address", BAD_ADDRESSES)
async def test_call_from_must_be_a_phone_number_or_sip_uri(
    client: PhloClient, respx_mock: respx.MockRouter, address: str
) -> None:
    # Named as the caller wrote it (from_), not by its wire name.
    await rejected(respx_mock, call_with(client, from_=address), "from_")


@pytest.mark.parametrize(
    "to",
    [
        pytest.param([], id="empty-list"),
        pytest.param((), id="empty-tuple"),
        pytest.param(["+14155550100", "bob"], id="bad-element"),
        pytest.param(["+14155550100", 14155550199], id="non-string-element"),
        pytest.param("+14155550100<", id="trailing-lt"),
        pytest.param("+14155550100<<+14155550199", id="empty-between-lts"),
        pytest.param(14155550100, id="int"),
        pytest.param(None, id="none"),
        pytest.param("bob", id="bare-name"),
    ],
)
async def test_call_to_must_name_valid_destinations(
    client: PhloClient, respx_mock: respx.MockRouter, to: Any
) -> None:
    await rejected(respx_mock, call_with(client, to=to), "to")


def numbers(count: int) -> list[str]:
    return [f"+1415666{n:04d}" for n in range(count)]


@pytest.mark.parametrize(
    "to",
    [
        pytest.param(numbers(1001), id="list"),
        pytest.param("<".join(numbers(1001)), id="lt-joined"),
    ],
)
async def test_call_to_names_at_most_1000_unique_destinations(
    client: PhloClient, respx_mock: respx.MockRouter, to: Any
) -> None:
    error = await rejected(respx_mock, call_with(client, to=to), "to")

    assert "1,001 unique destinations" in error.reason


async def test_call_to_counts_a_repeated_destination_once(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(VOICE_URL.format(auth_id=client.auth_id)).respond(
        201, json={"api_id": "a", "message": "call fired", "request_uuid": ["u"]}
    )
    to = [*numbers(1000), "+14156660000", "14156660001"]  # 1,002 given, 1,000 unique

    await call_with(client, to=to)()

    assert json.loads(route.calls.last.request.content)["to"] == "<".join(to)


@pytest.mark.parametrize(
    ("from_", "to"),
    [
        pytest.param(SOURCE, SOURCE, id="the-same-number"),
        pytest.param(SOURCE, [AGENT, SOURCE], id="one-of-a-list"),
        pytest.param(SOURCE, f"{AGENT}<{SOURCE}", id="one-of-a-lt-joined-string"),
        pytest.param(SOURCE, SOURCE.removeprefix("+"), id="without-its-plus"),
        pytest.param("sip:bob@example.com", "sip:bob@EXAMPLE.com", id="sip-host-case"),
    ],
)
async def test_call_source_must_not_be_a_destination(
    client: PhloClient, respx_mock: respx.MockRouter, from_: str, to: Any
) -> None:
    # plivo-python refuses it too: "src and destination cannot overlap".
    error = await rejected(respx_mock, call_with(client, from_=from_, to=to), "to")

    assert "must not include the source" in error.reason


async def test_call_caller_name_is_at_most_50_characters(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    await rejected(respx_mock, call_with(client, caller_name="x" * 51), "caller_name")


async def test_call_caller_name_must_not_be_empty(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    await rejected(respx_mock, call_with(client, caller_name=""), "caller_name")


@pytest.mark.parametrize("argument", ["time_limit", "hangup_on_ring", "ring_timeout"])
@pytest.mark.parametrize("value", [0, -1, 1.5, "ten"])
async def test_call_durations_must_be_positive_integers(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str, value: Any
) -> None:
    await rejected(respx_mock, call_with(client, **{argument: value}), argument)


@pytest.mark.parametrize(
    "argument", ["time_limit", "hangup_on_ring", "ring_timeout", "machine_detection_time"]
)
async def test_call_durations_reject_booleans(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str
) -> None:
    error = await rejected(respx_mock, call_with(client, **{argument: True}), argument)
    assert "bool" in error.reason


@pytest.mark.parametrize("value", [0, 1999, 10001, 60000])
async def test_call_machine_detection_time_is_2000_to_10000_ms(
    client: PhloClient, respx_mock: respx.MockRouter, value: int
) -> None:
    await rejected(
        respx_mock, call_with(client, machine_detection_time=value), "machine_detection_time"
    )


@pytest.mark.parametrize("value", ["maybe", "TRUE", "", 1])
async def test_call_machine_detection_is_true_false_or_hangup(
    client: PhloClient, respx_mock: respx.MockRouter, value: Any
) -> None:
    await rejected(respx_mock, call_with(client, machine_detection=value), "machine_detection")


@pytest.mark.parametrize(
    "digits",
    [
        "",
        "1x2",
        "12 3",
        "@100",
        "12@",
        "12@1a",
        "1@2@3",
        "+1",
        "xyz",
    ],
)
async def test_call_send_digits_are_dtmf_pauses_and_an_optional_duration(
    client: PhloClient, respx_mock: respx.MockRouter, digits: str
) -> None:
    await rejected(respx_mock, call_with(client, send_digits=digits), "send_digits")


@pytest.mark.parametrize(
    "headers",
    [
        "head1=val1;head2=val2",
        "X-Head=val",
        "head1=",
        "=val1",
        "head1=val 1",
        "head1=val1,",
        "",
        {"bad-key": "v"},
        {"k": "v,w"},
        {},
    ],
)
async def test_call_sip_headers_are_alphanumeric_key_value_pairs(
    client: PhloClient, respx_mock: respx.MockRouter, headers: Any
) -> None:
    await rejected(respx_mock, call_with(client, sip_headers=headers), "sip_headers")


async def test_call_parent_call_uuid_must_not_be_empty(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    await rejected(respx_mock, call_with(client, parent_call_uuid=""), "parent_call_uuid")


async def test_call_lists_every_bad_argument(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    error = await rejected(
        respx_mock,
        call_with(client, from_="alice", answer_url="ftp://x", time_limit=0),
        "from_",
    )

    assert [field for field, _ in error.errors] == ["from_", "answer_url", "time_limit"]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"caller_name": "x" * 50}, id="caller-name-50"),
        pytest.param({"machine_detection_time": 2000}, id="detection-2000"),
        pytest.param({"machine_detection_time": 10000}, id="detection-10000"),
        pytest.param({"time_limit": 1, "hangup_on_ring": 1, "ring_timeout": 1}, id="durations-1"),
        pytest.param({"send_digits": "123@1000"}, id="digits-with-duration"),
        pytest.param({"send_digits": "*#ABCDabcd0w9W"}, id="every-dtmf-character"),
        pytest.param({"sip_headers": "a=1"}, id="one-sip-header"),
        pytest.param({"answer_url": "HTTP://EXAMPLE.COM/a?x=1"}, id="upper-case-url"),
        pytest.param({"to": ("+14155550100",)}, id="tuple-of-one"),
    ],
)
async def test_call_boundary_values_are_accepted(
    client: PhloClient, respx_mock: respx.MockRouter, changes: dict[str, Any]
) -> None:
    route = respx_mock.post(VOICE_URL.format(auth_id=client.auth_id)).respond(
        201, json={"api_id": "a", "message": "call fired", "request_uuid": "u"}
    )

    await call_with(client, **changes)()

    assert route.call_count == 1


def test_invalid_parameter_error_message_names_field_and_reason() -> None:
    error = InvalidParameterError("role", "must be 'agent' or 'customer'")

    assert str(error) == "invalid 'role': must be 'agent' or 'customer'"
    assert error.errors == [("role", "must be 'agent' or 'customer'")]


# --------------------------------------------------------------------------- shared checks


@pytest.mark.parametrize("value", [0, 1, -5, 2**100])
def test_is_int_takes_ints(value: object) -> None:
    assert is_int(value)
    assert is_number(value)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, [1]])
def test_is_int_refuses_bools_and_non_ints(value: object) -> None:
    assert not is_int(value)


@pytest.mark.parametrize("value", [0.5, 1e300, float("inf"), float("nan")])
def test_is_number_takes_floats_the_range_is_the_callers(value: object) -> None:
    assert is_number(value)
    assert not is_int(value)


@pytest.mark.parametrize("value", [True, False, "1.5", None, 1j])
def test_is_number_refuses_bools_and_non_numbers(value: object) -> None:
    assert not is_number(value)
