"""What every endpoint puts on the wire: method, URL, headers and JSON body.

Requests are caught by respx; each test reads back the one request the SDK sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

import httpx
import pytest
import respx
from _servers import Canned, Server

from plivo_phlo_async import PhloClient, __version__

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
RUN_ID = "7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269"
SOURCE = "+14155550111"
AGENT = "+14155550100"
MEMBER = "+14155550122"
BASE = "https://phlorunner.plivo.com/v1"
VOICE_BASE = "https://api.plivo.com/v1"

#: One answer that satisfies every response model.
ANSWER = {
    "api_id": "e4202a42-0419-43db-9889-c440d3167796",
    "phlo_id": PHLO_ID,
    "node_id": NODE_ID,
    "run_id": RUN_ID,
    "error": "",
    "message": "ok",
}

Call = Callable[[PhloClient], Awaitable[Any]]


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def basic_credentials(request: httpx.Request) -> str:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(encoded).decode()


def only_request(mock: respx.MockRouter) -> httpx.Request:
    assert mock.calls.call_count == 1
    return mock.calls.last.request


# --------------------------------------------------------------------------- endpoints

ENDPOINTS: list[tuple[str, Call, str, str]] = [
    ("client.phlo.get", lambda c: c.phlo.get(PHLO_ID), "GET", f"/phlo/{PHLO_ID}"),
    ("phlo.get", lambda c: c.phlo(PHLO_ID).get(), "GET", f"/phlo/{PHLO_ID}"),
    ("phlo.run", lambda c: c.phlo(PHLO_ID).run(), "POST", f"/account/{{auth_id}}/phlo/{PHLO_ID}"),
    (
        "phlo.get_run",
        lambda c: c.phlo(PHLO_ID).get_run(RUN_ID),
        "GET",
        f"/phlo/{PHLO_ID}/runs/{RUN_ID}",
    ),
    (
        "mpc.get",
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).get(),
        "GET",
        f"/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}",
    ),
    *[
        (
            f"mpc.{action}",
            lambda c, action=action: getattr(c.phlo(PHLO_ID).multi_party_call(NODE_ID), action)(
                SOURCE, AGENT
            ),
            "POST",
            f"/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}",
        )
        for action in ("call", "warm_transfer", "cold_transfer")
    ],
    *[
        (
            f"member.{action}",
            lambda c, action=action: getattr(
                c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER), action
            )(),
            "POST",
            f"/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}/members/{MEMBER}",
        )
        for action in (
            "hold",
            "unhold",
            "hangup",
            "resume_call",
            "abort_transfer",
            "voicemail_drop",
            "mute",
            "unmute",
        )
    ],
    (
        "bridge.get",
        lambda c: c.phlo(PHLO_ID).conference_bridge(NODE_ID).get(),
        "GET",
        f"/phlo/{PHLO_ID}/conference_bridge/{NODE_ID}",
    ),
    *[
        (
            f"bridge_member.{action}",
            lambda c, action=action: getattr(
                c.phlo(PHLO_ID).conference_bridge(NODE_ID).member(MEMBER), action
            )(),
            "POST",
            f"/phlo/{PHLO_ID}/conference_bridge/{NODE_ID}/members/{MEMBER}",
        )
        for action in ("mute", "unmute", "hold", "unhold", "hangup")
    ],
    *[
        (
            f"node.get[{node_type}]",
            lambda c, node_type=node_type: c.phlo(PHLO_ID).node(node_type, NODE_ID).get(),
            "GET",
            f"/phlo/{PHLO_ID}/{node_type}/{NODE_ID}",
        )
        for node_type in ("multi_party_call", "conference_bridge", "send_sms")
    ],
    *[
        (
            f"node.update[{node_type}]",
            lambda c, node_type=node_type: (
                c.phlo(PHLO_ID).node(node_type, NODE_ID).update("call", SOURCE, AGENT)
            ),
            "POST",
            f"/phlo/{PHLO_ID}/{node_type}/{NODE_ID}",
        )
        for node_type in ("multi_party_call", "custom_node")
    ],
]


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [pytest.param(call, method, path, id=name) for name, call, method, path in ENDPOINTS],
)
async def test_each_endpoint_sends_exactly_one_request_to_its_url(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    call: Call,
    method: str,
    path: str,
) -> None:
    url = BASE + path.format(auth_id=client.auth_id)
    route = respx_mock.request(method, url).respond(200, json=ANSWER)

    await call(client)

    assert route.call_count == 1
    request = only_request(respx_mock)  # no GET before a POST, nothing else
    assert request.method == method
    assert str(request.url) == url


@pytest.mark.parametrize(
    ("call", "method"),
    [pytest.param(call, method, id=name) for name, call, method, _ in ENDPOINTS],
)
async def test_each_endpoint_sends_basic_auth_user_agent_and_accept(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    auth_token: str,
    call: Call,
    method: str,
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await call(client)

    request = only_request(respx_mock)
    assert basic_credentials(request) == f"{client.auth_id}:{auth_token}"
    assert request.headers["User-Agent"].startswith(f"plivo-phlo-async/{__version__} ")
    assert request.headers["Accept"] == "application/json"
    if method == "POST":
        assert request.headers["Content-Type"] == "application/json"
    else:
        assert "Content-Type" not in request.headers
        assert request.content == b""


async def test_calls_create_sends_basic_auth_json_and_user_agent(
    client: PhloClient, respx_mock: respx.MockRouter, auth_token: str
) -> None:
    url = f"{VOICE_BASE}/Account/{client.auth_id}/Call/"
    route = respx_mock.post(url).respond(201, json=ANSWER)

    await client.calls.create("+14152224444", "+14152223333", "https://example.com/answer.xml")

    assert route.call_count == 1
    request = only_request(respx_mock)
    assert str(request.url) == url
    assert basic_credentials(request) == f"{client.auth_id}:{auth_token}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith(f"plivo-phlo-async/{__version__} ")


# --------------------------------------------------------------------------- PHLO run bodies


@pytest.fixture
def run_route(client: PhloClient, respx_mock: respx.MockRouter) -> respx.Route:
    url = f"{BASE}/account/{client.auth_id}/phlo/{PHLO_ID}"
    return respx_mock.post(url).respond(
        201, json={"api_id": RUN_ID, "phlo_id": PHLO_ID, "message": "executed"}
    )


async def test_run_sends_keyword_fields_as_a_flat_json_object(
    client: PhloClient, run_route: respx.Route
) -> None:
    await client.phlo(PHLO_ID).run(From="+14155550100", To="+14155550199", item_count=3)

    assert body_of(run_route.calls.last.request) == {
        "From": "+14155550100",
        "To": "+14155550199",
        "item_count": 3,
    }


async def test_run_sends_a_mapping_as_given(client: PhloClient, run_route: respx.Route) -> None:
    payload = {"phoneMeNumber": "+14155550100", "order": {"id": 7, "items": ["a", "b"]}}

    await client.phlo(PHLO_ID).run(payload)

    assert body_of(run_route.calls.last.request) == payload


async def test_run_merges_a_mapping_and_keywords(
    client: PhloClient, run_route: respx.Route
) -> None:
    await client.phlo(PHLO_ID).run({"from": "+14155550100"}, to="+14155550199")

    assert body_of(run_route.calls.last.request) == {"from": "+14155550100", "to": "+14155550199"}


@pytest.mark.parametrize("key", ["phoneMeNumber", "From", "customer_name", "X-Ref", "ünïcode"])
async def test_run_never_renames_keys(client: PhloClient, run_route: respx.Route, key: str) -> None:
    await client.phlo(PHLO_ID).run({key: "v"})

    assert list(body_of(run_route.calls.last.request)) == [key]


async def test_run_camel_case_keyword_stays_camel_case(
    client: PhloClient, run_route: respx.Route
) -> None:
    await client.phlo(PHLO_ID).run(phoneMeNumber="+14155550100")

    assert body_of(run_route.calls.last.request) == {"phoneMeNumber": "+14155550100"}


async def test_run_without_payload_sends_an_empty_object(
    client: PhloClient, run_route: respx.Route
) -> None:
    await client.phlo(PHLO_ID).run()

    assert run_route.calls.last.request.content == b"{}"


async def test_run_treats_every_keyword_as_payload_even_timeout(
    client: PhloClient, run_route: respx.Route
) -> None:
    # Documented: run() has no options of its own; use with_options for a timeout.
    await client.phlo(PHLO_ID).run(timeout=5)

    assert body_of(run_route.calls.last.request) == {"timeout": 5}


async def test_run_returns_the_run_id(client: PhloClient, run_route: respx.Route) -> None:
    result = await client.phlo(PHLO_ID).run()

    assert result.run_id == RUN_ID
    assert result.phlo_id == PHLO_ID
    assert result.message == "executed"


# --------------------------------------------------------------------------- node actions

NODE_URL = f"{BASE}/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}"
NODE_ACTIONS = ["call", "warm_transfer", "cold_transfer"]


@pytest.mark.parametrize("action", NODE_ACTIONS)
async def test_node_action_body_defaults_to_the_agent_role(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(NODE_URL).respond(201, json={"api_id": "x", "error": ""})
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await getattr(node, action)(SOURCE, AGENT)

    assert body_of(route.calls.last.request) == {
        "action": action,
        "to": AGENT,
        "role": "agent",
        "trigger_source": SOURCE,
    }


@pytest.mark.parametrize("action", NODE_ACTIONS)
async def test_node_action_sends_the_customer_role(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(NODE_URL).respond(201, json={"api_id": "x", "error": ""})
    node = client.phlo(PHLO_ID).multi_party_call(NODE_ID)

    await getattr(node, action)(SOURCE, "sip:carol@example.com", role="customer")

    assert body_of(route.calls.last.request) == {
        "action": action,
        "to": "sip:carol@example.com",
        "role": "customer",
        "trigger_source": SOURCE,
    }


@pytest.mark.parametrize("action", NODE_ACTIONS)
async def test_node_action_keys_are_in_plivo_order(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(NODE_URL).respond(201, json={"api_id": "x", "error": ""})

    await getattr(client.phlo(PHLO_ID).multi_party_call(NODE_ID), action)(SOURCE, AGENT, "customer")

    assert list(body_of(route.calls.last.request)) == ["action", "to", "role", "trigger_source"]


@pytest.mark.parametrize("action", NODE_ACTIONS)
async def test_node_update_on_a_multi_party_call_sends_what_its_own_method_sends(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(NODE_URL).respond(201, json={"api_id": "x", "error": ""})
    phlo = client.phlo(PHLO_ID)

    await getattr(phlo.multi_party_call(NODE_ID), action)(SOURCE, AGENT, "customer")
    result = await phlo.node("multi_party_call", NODE_ID).update(action, SOURCE, AGENT, "customer")

    first, second = (call.request for call in route.calls)
    assert second.content == first.content
    assert body_of(second) == {
        "action": action,
        "to": AGENT,
        "role": "customer",
        "trigger_source": SOURCE,
    }
    assert (result.api_id, result.error) == ("x", "")


async def test_node_update_on_any_type_posts_the_four_keys_in_plivo_order(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    url = f"{BASE}/phlo/{PHLO_ID}/custom_node/{NODE_ID}"
    route = respx_mock.post(url).respond(201, json={"api_id": "x", "error": ""})

    await client.phlo(PHLO_ID).node("custom_node", NODE_ID).update("ring_all", SOURCE, AGENT)

    request = only_request(respx_mock)
    assert route.call_count == 1
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == (
        b'{"action":"ring_all","to":"+14155550100","role":"agent","trigger_source":"+14155550111"}'
    )


MEMBER_ACTIONS = [
    "hold",
    "unhold",
    "hangup",
    "resume_call",
    "abort_transfer",
    "voicemail_drop",
    "mute",
    "unmute",
]


@pytest.mark.parametrize("action", MEMBER_ACTIONS)
async def test_member_action_posts_only_the_action(
    client: PhloClient, respx_mock: respx.MockRouter, action: str
) -> None:
    route = respx_mock.post(f"{NODE_URL}/members/{MEMBER}").respond(
        201, json={"api_id": "x", "error": ""}
    )
    member = client.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER)

    result = await getattr(member, action)()

    assert body_of(route.calls.last.request) == {"action": action}
    assert result.api_id == "x"
    assert result.error == ""


# --------------------------------------------------------------------------- Voice API call

#: Every argument of the Voice sample (voice-make-call-postman.txt) plus the rest of the table.
FULL_CALL: dict[str, Any] = {
    "from_": "+14152224444",
    "to": "+14152223333",
    "answer_url": "https://s3.amazonaws.com/plivosamplexml/play_url.xml",
    "answer_method": "GET",
    "ring_url": "https://www.foo.com/ring.url",
    "ring_method": "POST",
    "hangup_url": "https://www.foo.com/hangup.url",
    "hangup_method": "POST",
    "fallback_url": "https://www.foo.com/fallback.url",
    "fallback_method": "POST",
    "caller_name": "friendly_name",
    "send_digits": "1w2W3",
    "send_on_preanswer": True,
    "time_limit": 300,
    "hangup_on_ring": 45,
    "machine_detection": "hangup",
    "machine_detection_time": 5000,
    "machine_detection_url": "https://www.foo.com/machine.url",
    "machine_detection_method": "GET",
    "sip_headers": "head1=val1,head2=val2",
    "ring_timeout": 120,
    "parent_call_uuid": "9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
    "error_if_parent_not_found": True,
}


@pytest.fixture
def call_route(client: PhloClient, respx_mock: respx.MockRouter) -> respx.Route:
    return respx_mock.post(f"{VOICE_BASE}/Account/{client.auth_id}/Call/").respond(
        201,
        json={
            "message": "call fired",
            "request_uuid": "9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
            "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb",
        },
    )


async def test_calls_create_sends_every_argument_under_plivos_names(
    client: PhloClient, call_route: respx.Route
) -> None:
    result = await client.calls.create(**FULL_CALL)

    assert body_of(call_route.calls.last.request) == {
        "from": "+14152224444",
        "to": "+14152223333",
        "answer_url": "https://s3.amazonaws.com/plivosamplexml/play_url.xml",
        "answer_method": "GET",
        "ring_url": "https://www.foo.com/ring.url",
        "ring_method": "POST",
        "hangup_url": "https://www.foo.com/hangup.url",
        "hangup_method": "POST",
        "fallback_url": "https://www.foo.com/fallback.url",
        "fallback_method": "POST",
        "caller_name": "friendly_name",
        "send_digits": "1w2W3",
        "send_on_preanswer": True,
        "time_limit": 300,
        "hangup_on_ring": 45,
        "machine_detection": "hangup",
        "machine_detection_time": 5000,
        "machine_detection_url": "https://www.foo.com/machine.url",
        "machine_detection_method": "GET",
        "sip_headers": "head1=val1,head2=val2",
        "ring_timeout": 120,
        "parent_call_uuid": "9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
        "error_if_parent_not_found": True,
    }
    assert result.message == "call fired"
    assert result.request_uuid == "9834029e-58b6-11e1-b8b7-a5bd0e4e126f"


async def test_calls_create_leaves_out_arguments_that_are_none(
    client: PhloClient, call_route: respx.Route
) -> None:
    await client.calls.create(
        "+14152224444",
        "+14152223333",
        "https://example.com/answer.xml",
        ring_url=None,
        caller_name=None,
        time_limit=None,
    )

    assert body_of(call_route.calls.last.request) == {
        "from": "+14152224444",
        "to": "+14152223333",
        "answer_url": "https://example.com/answer.xml",
    }


async def test_calls_create_joins_a_list_of_destinations_with_lt(
    client: PhloClient, call_route: respx.Route
) -> None:
    await client.calls.create(
        "+14152224444",
        ["+14152223333", "14152225555", "sip:john1234@phone.plivo.com"],
        "https://example.com/answer.xml",
    )

    sent = body_of(call_route.calls.last.request)
    assert sent["to"] == "+14152223333<14152225555<sip:john1234@phone.plivo.com"


async def test_calls_create_keeps_a_lt_joined_string(
    client: PhloClient, call_route: respx.Route
) -> None:
    await client.calls.create("+14152224444", "+14152223333<+14152225555", "https://e.com/a")

    assert body_of(call_route.calls.last.request)["to"] == "+14152223333<+14152225555"


@pytest.mark.parametrize(
    "argument",
    [
        "answer_method",
        "ring_method",
        "hangup_method",
        "fallback_method",
        "machine_detection_method",
    ],
)
@pytest.mark.parametrize(("given", "sent"), [("get", "GET"), ("post", "POST"), ("PoSt", "POST")])
async def test_calls_create_upper_cases_methods(
    client: PhloClient, call_route: respx.Route, argument: str, given: str, sent: str
) -> None:
    await client.calls.create(
        "+14152224444", "+14152223333", "https://e.com/a", **{argument: given}
    )

    assert body_of(call_route.calls.last.request)[argument] == sent


@pytest.mark.parametrize(
    ("given", "sent"), [(True, "true"), (False, "false"), ("hangup", "hangup")]
)
async def test_calls_create_sends_machine_detection_as_text(
    client: PhloClient, call_route: respx.Route, given: Any, sent: str
) -> None:
    await client.calls.create(
        "+14152224444", "+14152223333", "https://e.com/a", machine_detection=given
    )

    assert body_of(call_route.calls.last.request)["machine_detection"] == sent


async def test_calls_create_formats_a_mapping_of_sip_headers(
    client: PhloClient, call_route: respx.Route
) -> None:
    await client.calls.create(
        "+14152224444",
        "+14152223333",
        "https://e.com/a",
        sip_headers={"head1": "val1", "Head2": "Val2"},
    )

    assert body_of(call_route.calls.last.request)["sip_headers"] == "head1=val1,Head2=Val2"


async def test_calls_create_result_lists_request_uuids_of_several_destinations(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{VOICE_BASE}/Account/{client.auth_id}/Call/").respond(
        201, json={"message": "calls fired", "request_uuid": ["u1", "u2"], "api_id": "a"}
    )

    result = await client.calls.create("+14152224444", ["+14152223333", "+1415"], "https://e.com/a")

    assert result.request_uuid == ["u1", "u2"]


# --------------------------------------------------------------------------- handles and ids


async def test_handles_make_no_request(client: PhloClient, respx_mock: respx.MockRouter) -> None:
    phlo = client.phlo(PHLO_ID)
    node = phlo.multi_party_call(NODE_ID)
    member = node.member("sip:bob@example.com")

    assert respx_mock.calls.call_count == 0
    assert (phlo.phlo_id, node.node_id, member.member_address) == (
        PHLO_ID,
        NODE_ID,
        "sip:bob@example.com",
    )


@pytest.mark.parametrize(
    ("call", "path"),
    [
        pytest.param(
            lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member("+14155550100").hold(),
            f"/v1/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}/members/+14155550100",
            id="phone-member-keeps-plus",
        ),
        pytest.param(
            lambda c: (
                c.phlo(PHLO_ID).multi_party_call(NODE_ID).member("sip:bob@example.com").hold()
            ),
            f"/v1/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}/members/sip:bob@example.com",
            id="sip-member-keeps-colon-and-at",
        ),
        pytest.param(
            lambda c: (
                c.phlo(PHLO_ID)
                .multi_party_call(NODE_ID)
                .member("sip:bob;transport=tcp@example.com:5080")
                .unhold()
            ),
            f"/v1/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}/members/"
            "sip:bob%3Btransport%3Dtcp@example.com:5080",
            id="sip-member-delimiters-encoded",
        ),
        pytest.param(lambda c: c.phlo.get("a+b"), "/v1/phlo/a+b", id="plus-in-phlo-id"),
        pytest.param(lambda c: c.phlo.get("50%off"), "/v1/phlo/50%25off", id="percent"),
        pytest.param(lambda c: c.phlo.get("café"), "/v1/phlo/caf%C3%A9", id="non-ascii"),
        pytest.param(
            lambda c: c.phlo(PHLO_ID).multi_party_call("a&b=c;d").get(),
            f"/v1/phlo/{PHLO_ID}/multi_party_call/a%26b%3Dc%3Bd",
            id="query-like-characters",
        ),
        pytest.param(
            lambda c: c.phlo(PHLO_ID).get_run("run[1]"),
            f"/v1/phlo/{PHLO_ID}/runs/run%5B1%5D",
            id="brackets-in-run-id",
        ),
        pytest.param(
            lambda c: c.phlo("p'\"<>").run(),
            "/v1/account/{auth_id}/phlo/p%27%22%3C%3E",
            id="quotes-and-angles-in-run-url",
        ),
    ],
)
async def test_ids_appear_in_the_url_path_percent_encoded_where_needed(
    client: PhloClient, respx_mock: respx.MockRouter, call: Call, path: str
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await call(client)

    request = only_request(respx_mock)
    assert request.url.host == "phlorunner.plivo.com"
    assert request.url.raw_path.decode() == path.format(auth_id=client.auth_id)
    assert request.url.query == b""


# --------------------------------------------------------------------------- base URLs


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda c: c.phlo.get(PHLO_ID),
            f"http://127.0.0.1:8765/v1/phlo/{PHLO_ID}",
            id="phlo.get",
        ),
        pytest.param(
            lambda c: c.phlo(PHLO_ID).run(),
            f"http://127.0.0.1:8765/v1/account/{{auth_id}}/phlo/{PHLO_ID}",
            id="phlo.run",
        ),
        pytest.param(
            lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER).hangup(),
            f"http://127.0.0.1:8765/v1/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}/members/{MEMBER}",
            id="member.hangup",
        ),
        pytest.param(
            lambda c: c.calls.create(SOURCE, AGENT, "https://e.com/a"),
            "http://localhost:9000/voice/v1/Account/{auth_id}/Call/",
            id="calls.create",
        ),
    ],
)
async def test_custom_base_urls_are_used_for_every_endpoint(
    make_client: Callable[..., PhloClient],
    respx_mock: respx.MockRouter,
    call: Call,
    expected: str,
) -> None:
    client = make_client(
        base_url="http://127.0.0.1:8765/v1/",  # the trailing slash is dropped
        voice_base_url="http://localhost:9000/voice/v1",
    )
    respx_mock.route().respond(201, json=ANSWER)

    await call(client)

    assert str(only_request(respx_mock).url) == expected.format(auth_id=client.auth_id)


async def test_run_accepts_any_mapping(client: PhloClient, run_route: respx.Route) -> None:
    await client.phlo(PHLO_ID).run(MappingProxyType({"phoneMeNumber": "+14155550100"}))

    assert body_of(run_route.calls.last.request) == {"phoneMeNumber": "+14155550100"}


# --------------------------------------------------------------------------- the fast path


SAME_ON_BOTH_PATHS: list[Call] = [
    *(call for _, call, _, _ in ENDPOINTS),
    lambda c: c.phlo(PHLO_ID).run({"phoneMeNumber": AGENT}, name="Zoë"),
    lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member("sip:b;x=1@example.com").hold(),
    lambda c: c.phlo("50%off+é").get(),
    lambda c: c.calls.create(**FULL_CALL),
]


async def test_the_fast_path_puts_the_same_requests_on_the_wire_as_httpx(
    make_client: Callable[..., PhloClient], loopback: Server, canned: Canned
) -> None:
    base, received = loopback.base_url, loopback.received
    canned.body = json.dumps(ANSWER).encode()
    with respx.mock() as mock:
        mock.route().respond(201, json=ANSWER)
        mocked = make_client(base_url=base, voice_base_url=base)
        for call in SAME_ON_BOTH_PATHS:
            await call(mocked)
        via_httpx = [call.request for call in mock.calls]

    fast = make_client(base_url=base, voice_base_url=base)
    for call in SAME_ON_BOTH_PATHS:
        await call(fast)  # not mocked: the default (fast) path over a real socket
    assert fast._requester.sender._fast is not None  # the fast path was taken

    assert len(received) == len(via_httpx) == len(SAME_ON_BOTH_PATHS)
    for on_socket, request in zip(received, via_httpx, strict=True):
        assert on_socket.method == request.method
        assert on_socket.path == request.url.raw_path.decode()
        assert on_socket.body == request.content
        for name in ("authorization", "user-agent", "accept", "content-type"):
            sent = request.headers.get(name)
            assert on_socket.header(name) == ([] if sent is None else [sent]), name
