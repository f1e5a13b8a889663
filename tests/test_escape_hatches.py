"""Escape hatches (openai-python's convention): ``extra_headers=``, ``extra_query=``
and ``extra_body=`` on every method but ``run()``, ``PhloClient(default_headers=...)``,
and all of them through ``with_options(...)``, which is how ``run()`` gets them.

Wire checks run on both sending paths against the loopback server of
tests/_servers.py, which records each request whole. Refusals are checked with
respx: a typed error naming the argument, and nothing sent.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import respx
from _rejections import rejected
from _servers import NODE_ID, PHLO_ID, Canned, Server
from _waiting import wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plivo_phlo_async import ConfigurationError, InvalidParameterError, PhloClient
from plivo_phlo_async.bulk import RunJob

MEMBER = "+14155550122"
Extras = dict[str, Any]

Method = tuple[str, Callable[[PhloClient, Extras], Awaitable[object]], str, bool]


def node_methods(name: str, node: Callable[[PhloClient], Any], actions: list[str]) -> list[Method]:
    """``name.action`` for each action of the handle ``node(client)`` gives: POSTs
    taking only the extras, or (mpc's) the trigger source and the number."""
    node_actions = {"call", "warm_transfer", "cold_transfer"}
    return [
        (
            f"{name}.{action}",
            lambda c, x, action=action: getattr(node(c), action)(
                *(("+14155550100", MEMBER) if action in node_actions else ()), **x
            ),
            "POST",
            True,
        )
        for action in actions
    ]


#: (name, the call with the extras given, method, whether it sends a JSON body)
METHODS: list[Method] = [
    ("phlo.get", lambda c, x: c.phlo.get(PHLO_ID, **x), "GET", False),
    ("Phlo.get", lambda c, x: c.phlo(PHLO_ID).get(**x), "GET", False),
    ("Phlo.get_run", lambda c, x: c.phlo(PHLO_ID).get_run("r-1", **x), "GET", False),
    ("mpc.get", lambda c, x: c.phlo(PHLO_ID).multi_party_call(NODE_ID).get(**x), "GET", False),
    *node_methods(
        "mpc",
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID),
        ["call", "warm_transfer", "cold_transfer"],
    ),
    *node_methods(
        "member",
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER),
        [
            "mute",
            "unmute",
            "hold",
            "unhold",
            "hangup",
            "resume_call",
            "abort_transfer",
            "voicemail_drop",
        ],
    ),
    ("bridge.get", lambda c, x: c.phlo(PHLO_ID).conference_bridge(NODE_ID).get(**x), "GET", False),
    *node_methods(
        "bridge_member",
        lambda c: c.phlo(PHLO_ID).conference_bridge(NODE_ID).member(MEMBER),
        ["mute", "unmute", "hold", "unhold", "hangup"],
    ),
    ("node.get", lambda c, x: c.phlo(PHLO_ID).node("send_sms", NODE_ID).get(**x), "GET", False),
    (
        "calls.create",
        lambda c, x: c.calls.create("+14155550100", MEMBER, "https://example.com/a.xml", **x),
        "POST",
        True,
    ),
]


def method_params(*, with_body: bool | None = None) -> list[Any]:
    return [
        pytest.param(call, method, id=name)
        for name, call, method, has_body in METHODS
        if with_body is None or has_body == with_body
    ]


# --------------------------------------------------------------------------- on the wire


@pytest.mark.parametrize(("call", "method"), method_params())
async def test_every_method_sends_extra_headers_and_query(
    on_path: Callable[..., PhloClient],
    loopback: Server,
    call: Callable[[PhloClient, Extras], Awaitable[object]],
    method: str,
) -> None:
    await call(
        on_path(),
        {"extra_headers": {"X-Trace-Id": "t-1"}, "extra_query": {"debug": "yes", "n": 2}},
    )

    [request] = loopback.received
    assert request.method == method
    assert request.header("x-trace-id") == ["t-1"]
    assert request.path.endswith("?debug=yes&n=2")
    assert request.header("authorization")  # the SDK's own headers are still there


@pytest.mark.parametrize(("call", "method"), method_params(with_body=True))
async def test_every_post_merges_extra_body_into_its_json(
    on_path: Callable[..., PhloClient],
    loopback: Server,
    call: Callable[[PhloClient, Extras], Awaitable[object]],
    method: str,
) -> None:
    await call(on_path(), {"extra_body": {"campaign": "spring", "weights": [1, 2.5, None]}})

    [request] = loopback.received
    body = request.json()
    assert body["campaign"] == "spring"
    assert body["weights"] == [1, 2.5, None]
    assert len(body) > 2  # merged into the method's own keys, not instead of them
    assert request.header("content-length") == [str(len(request.body))]


async def test_calls_create_sends_voice_parameters_the_sdk_does_not_list(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    client = on_path()

    await client.calls.create(
        "+14155550100",
        MEMBER,
        "https://example.com/a.xml",
        ring_timeout=30,
        extra_body={"machine_detection_answer_time": 5000, "ring_timeout": 45},
    )

    [request] = loopback.received
    assert request.json() == {
        "from": "+14155550100",
        "to": MEMBER,
        "answer_url": "https://example.com/a.xml",
        "ring_timeout": 45,  # the extra key wins over the listed argument
        "machine_detection_answer_time": 5000,
    }


async def test_an_extra_header_replaces_the_sdk_s_own_of_that_name(
    on_path: Callable[..., PhloClient], loopback: Server, auth_id: str, auth_token: str
) -> None:
    await (
        on_path()
        .phlo(PHLO_ID)
        .get(extra_headers={"user-agent": "my-app/2.0", "ACCEPT": "application/json; v=2"})
    )

    [request] = loopback.received
    assert request.header("User-Agent") == ["my-app/2.0"]
    assert request.header("Accept") == ["application/json; v=2"]
    credentials = base64.b64encode(f"{auth_id}:{auth_token}".encode()).decode()
    assert request.header("Authorization") == [f"Basic {credentials}"]


async def test_default_headers_go_with_every_request_run_included(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    client = on_path(default_headers={"X-Tenant": "acme", "User-Agent": "acme-bot/1"})

    await client.phlo(PHLO_ID).run(to=MEMBER)
    await client.phlo(PHLO_ID).get()
    await client.calls.create("+14155550100", MEMBER, "https://example.com/a.xml")

    assert [r.method for r in loopback.received] == ["POST", "GET", "POST"]
    for request in loopback.received:
        assert request.header("x-tenant") == ["acme"]
        assert request.header("user-agent") == ["acme-bot/1"]
        assert "?" not in request.path


async def test_with_options_gives_run_its_extras(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    client = on_path()
    tagged = client.with_options(
        extra_headers={"X-Campaign": "spring"},
        extra_query={"source": "sdk"},
        extra_body={"campaign": "spring"},
    )

    await tagged.phlo(PHLO_ID).run(to=MEMBER, name="Ann")

    [request] = loopback.received
    assert request.method == "POST"
    assert request.path == f"/v1/account/{client.auth_id}/phlo/{PHLO_ID}?source=sdk"
    assert request.header("x-campaign") == ["spring"]
    assert request.json() == {"to": MEMBER, "name": "Ann", "campaign": "spring"}


async def test_with_options_default_headers_add_to_the_client_s(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    client = on_path(default_headers={"X-Tenant": "acme"})

    await client.with_options(default_headers={"X-Region": "eu"}).phlo(PHLO_ID).get()

    [request] = loopback.received
    assert request.header("x-tenant") == ["acme"]
    assert request.header("x-region") == ["eu"]


async def test_a_method_s_extras_go_on_top_of_the_copy_s(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    copy = on_path().with_options(
        extra_headers={"X-A": "copy", "X-B": "copy"},
        extra_query={"a": "copy", "b": "copy"},
        extra_body={"a": "copy", "b": "copy"},
    )

    await (
        copy.phlo(PHLO_ID)
        .multi_party_call(NODE_ID)
        .member(MEMBER)
        .hold(
            extra_headers={"x-a": "call"}, extra_query={"a": ["1", "2"]}, extra_body={"a": "call"}
        )
    )

    [request] = loopback.received
    assert request.header("x-a") == ["call"]
    assert request.header("x-b") == ["copy"]
    assert request.path.endswith("?a=1&a=2&b=copy")
    assert request.json() == {"action": "hold", "a": "call", "b": "copy"}


async def test_a_copy_s_extras_never_reach_the_original_client(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    client = on_path()
    client.with_options(extra_headers={"X-Copy": "1"}, extra_query={"q": "1"}, extra_body={"b": 1})

    await client.phlo(PHLO_ID).run(to=MEMBER)

    [request] = loopback.received
    assert request.header("x-copy") == []
    assert "?" not in request.path
    assert request.json() == {"to": MEMBER}


async def test_a_copy_s_extra_body_leaves_its_gets_without_a_body(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    await on_path().with_options(extra_body={"b": 1}).phlo(PHLO_ID).get()

    [request] = loopback.received
    assert request.method == "GET"
    assert request.body == b""
    assert request.header("content-length") == []


async def test_query_values_are_percent_encoded(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    await (
        on_path()
        .phlo(PHLO_ID)
        .get(extra_query={"q": "a b&c=d/é", "flag": True, "off": False, "x": 1.5})
    )

    [request] = loopback.received
    assert request.path.endswith("?q=a%20b%26c%3Dd%2F%C3%A9&flag=true&off=false&x=1.5")


async def test_extras_given_later_do_not_change_what_was_checked(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    body: dict[str, Any] = {"tags": ["a"]}
    copy = on_path().with_options(extra_body=body)
    body["tags"].append(float("nan"))  # changing the caller's mapping afterwards

    await copy.phlo(PHLO_ID).run(to=MEMBER)

    [request] = loopback.received
    assert request.json()["tags"] == ["a"]


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Host": "evil.example"}, "set by the SDK"),
        ({"content-length": "0"}, "set by the SDK"),
        ({"Transfer-Encoding": "chunked"}, "set by the SDK"),
        ({"Connection": "close"}, "set by the SDK"),
        ({"Authorization": "Basic eA=="}, "set by the SDK"),
        ({"Accept-Encoding": "br"}, "set by the SDK"),
        ({"X-A": "1\r\nContent-Length: 0"}, "line break"),
        ({"X-A": "1\nX-B: 2"}, "line break"),
        ({"X-A": "a\0b"}, "control character"),
        ({"X-A": "a\x1bb"}, "control character"),
        ({"X-A": "naïve ✓"}, "Latin-1"),
        ({"X-A": 1}, "must be a str"),
        ({"X-A": b"1"}, "must be a str"),
        ({"X A": "1"}, "not a header name"),
        ({"X:A": "1"}, "not a header name"),
        ({"": "1"}, "not a header name"),
        ({"X-\u00e9": "1"}, "not a header name"),
        ({"X-A": "1", "x-a": "2"}, "given twice"),
        ({"X-Big": "v" * 5000}, "bytes of headers"),
        ([("X-A", "1")], "must be a mapping"),
    ],
)
async def test_unusable_extra_headers_are_refused_before_sending(
    client: PhloClient, respx_mock: respx.MockRouter, headers: Any, reason: str
) -> None:
    member = client.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER)

    error = await rejected(
        respx_mock, lambda: member.hangup(extra_headers=headers), "extra_headers"
    )

    assert reason in error.reason


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"a": None}, "must be a str, int, float or bool"),
        ({"a": {"b": 1}}, "must be a str, int, float or bool"),
        ({"a": b"x"}, "must be a str, int, float or bool"),
        ({"a": float("nan")}, "not a finite number"),
        ({"a": 10**30}, "64 bits"),
        ({"a": "\ud800"}, "lone surrogate"),
        ({"\ud800": "a"}, "lone surrogate"),
        ({1: "a"}, "non-empty strings"),
        ({"": "a"}, "non-empty strings"),
        ({"a": "v" * 5000}, "query string longer"),
        ("a=1", "must be a mapping"),
    ],
)
async def test_unusable_extra_query_is_refused_before_sending(
    client: PhloClient, respx_mock: respx.MockRouter, query: Any, reason: str
) -> None:
    error = await rejected(
        respx_mock, lambda: client.phlo(PHLO_ID).get(extra_query=query), "extra_query"
    )

    assert reason in error.reason


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"a": float("inf")}, "finite"),
        ({"a": b"x"}, "bytes are never accepted"),
        ({"a": nested(100)}, "nested deeper"),
        ({"a": "x" * (1024 * 1024)}, "larger"),
        ({"a": 2**64}, "64 bits"),
        ({"a": object()}, "not JSON-serialisable"),
        ({"a": {1: "x", "1": "y"}}, "keys must be strings"),
        ({1: "a"}, "non-empty strings"),
        ({"": "a"}, "non-empty strings"),
        (["a"], "must be a mapping"),
    ],
)
async def test_unusable_extra_body_is_refused_before_sending(
    client: PhloClient, respx_mock: respx.MockRouter, body: Any, reason: str
) -> None:
    error = await rejected(
        respx_mock,
        lambda: client.calls.create(
            "+14155550100", MEMBER, "https://example.com/a.xml", extra_body=body
        ),
        "extra_body",
    )

    assert reason in error.reason


async def test_extra_body_that_makes_the_body_too_large_is_refused(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    copy = client.with_options(extra_body={"pad": "x" * (1024 * 1024 - 100)})

    error = await rejected(
        respx_mock, lambda: copy.phlo(PHLO_ID).run(to=MEMBER, note="y" * 200), "extra_body"
    )

    assert "larger" in error.reason


@pytest.mark.parametrize(("call", "method"), method_params(with_body=False))
async def test_extra_body_on_a_get_is_refused(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    call: Callable[[PhloClient, Extras], Awaitable[object]],
    method: str,
) -> None:
    error = await rejected(respx_mock, lambda: call(client, {"extra_body": {"a": 1}}), "extra_body")

    assert "GET" in error.reason


async def test_an_empty_extra_body_on_a_get_is_fine(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(url__regex=r".*/phlo/.*").respond(
        200, json={"api_id": "a", "phlo_id": PHLO_ID, "name": "n", "created_on": "2026-01-01"}
    )

    await client.phlo(PHLO_ID).get(extra_body={}, extra_headers={}, extra_query={})

    assert route.call_count == 1
    assert route.calls.last.request.url.query == b""


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"default_headers": {"Host": "x"}}, "default_headers"),
        ({"default_headers": {"X-A": "1\r\n"}}, "default_headers"),
        ({"default_headers": "X-A: 1"}, "default_headers"),
    ],
)
def test_unusable_default_headers_are_a_configuration_error(
    options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        PhloClient("MAXXXXXXXXXXXXXXXXXX", "token", **options)

    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"default_headers": {"Content-Length": "1"}}, "default_headers"),
        ({"extra_headers": {"Authorization": "x"}}, "extra_headers"),
        ({"extra_query": {"a": None}}, "extra_query"),
        ({"extra_body": {"a": float("nan")}}, "extra_body"),
    ],
)
async def test_unusable_with_options_extras_are_a_configuration_error(
    client: PhloClient, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        client.with_options(**options)

    assert info.value.field == field


# --------------------------------------------------------------------------- fuzzed

_HEADER_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("Xx-_.!#$%&'*+^`|~09azAZ :\t\r\n\0\x7f\x1b"),
        st.characters(min_codepoint=0x80, max_codepoint=0x2FF),
    ),
    max_size=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    headers=st.one_of(
        st.dictionaries(_HEADER_TEXT, _HEADER_TEXT, max_size=4),
        # Names and values that are all usable, so that many examples are sent.
        st.dictionaries(
            st.from_regex(r"X-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}", fullmatch=True),
            st.text(
                st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                max_size=20,
            ),
            max_size=4,
        ),
    )
)
def test_fuzz_extra_headers_are_refused_or_sent_as_given_in_one_request(
    headers: dict[str, str],
) -> None:
    """Whatever the headers, a POST is refused having sent nothing, or the server
    receives it exactly once, with each header once and as given."""

    async def main(server: Server) -> None:
        refused: InvalidParameterError | None = None
        async with PhloClient(
            "MAXXXXXXXXXXXXXXXXXX", "fuzz-token", base_url=server.base_url, max_retries=0
        ) as client:
            member = client.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER)
            try:
                await member.hangup(extra_headers=headers)
            except InvalidParameterError as error:
                refused = error
        # The client has closed: once the server has read to the end, anything
        # smuggled after the body has been read too.
        await wait_until(lambda: server.open == 0, what="the server to read to the end")
        if refused is not None:
            assert refused.field == "extra_headers"
            assert server.received == []
            return
        [request] = server.received
        assert request.json() == {"action": "hangup"}
        for name, value in headers.items():
            assert request.header(name) == [value.strip(" \t")]

    server = Server(Canned())
    try:
        asyncio.run(main(server))
    finally:
        server.stop()


async def test_a_copy_s_extras_go_with_its_bulk_runs(
    on_path: Callable[..., PhloClient], loopback: Server
) -> None:
    tagged = on_path().with_options(
        extra_headers={"X-Campaign": "spring"}, extra_body={"campaign": "spring"}
    )
    jobs = [RunJob(PHLO_ID, {"to": f"+1415555{n:04d}"}) for n in range(3)]

    report = await tagged.bulk(jobs, rate_limit=None).run()

    assert report.succeeded == 3
    assert len(loopback.received) == 3
    for request in loopback.received:
        assert request.header("x-campaign") == ["spring"]
        assert request.json()["campaign"] == "spring"
