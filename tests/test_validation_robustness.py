"""Hostile input never escapes as a raw exception (issue 9).

Whatever a caller passes, the SDK raises ``InvalidParameterError`` naming the
argument, and sends nothing; whatever a server answers, the SDK raises one of
its own errors. Conventions as in test_validation.py: respx with no route for
a rejected call, and ``call_count == 0``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from _rejections import rejected
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plivo_phlo_async import (
    APIResponseValidationError,
    BadRequestError,
    InternalServerError,
    InvalidParameterError,
    PhloClient,
    ServerOutcomeUnknownError,
)
from plivo_phlo_async._validation import (
    MAX_BODY_BYTES,
    MAX_CALL_SECONDS,
    MAX_PAYLOAD_DEPTH,
)

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
SOURCE = "+14155550111"
AGENT = "+14155550100"
ANSWER_URL = "https://example.com/answer.xml"
RUN_URL = f"https://phlorunner.plivo.com/v1/account/MAXXXXXXXXXXXXXXXXXX/phlo/{PHLO_ID}"
GET_URL = f"https://phlorunner.plivo.com/v1/phlo/{PHLO_ID}"


@pytest.fixture(scope="module")
def client() -> Iterator[PhloClient]:
    """One client for the module; no retries, so each answer is seen once."""
    client = PhloClient("MAXXXXXXXXXXXXXXXXXX", "validation-token", max_retries=0)
    yield client
    anyio.run(client.aclose)


def nested(depth: int) -> Any:
    """A list nested ``depth`` lists deep, built without recursion."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def call_with(client: PhloClient, **changes: Any) -> Callable[[], Awaitable[Any]]:
    arguments: dict[str, Any] = {"from_": SOURCE, "to": AGENT, "answer_url": ANSWER_URL}
    arguments.update(changes)
    return lambda: client.calls.create(**arguments)


# --------------------------------------------------------------------------- 1. depth


@pytest.mark.parametrize("depth", [MAX_PAYLOAD_DEPTH, 1_200, 100_000])
async def test_a_payload_nested_too_deep_is_refused_without_recursion(
    client: PhloClient, respx_mock: respx.MockRouter, depth: int
) -> None:
    # The payload is level 1, so a value nested MAX_PAYLOAD_DEPTH deep is one too many.
    error = await rejected(
        respx_mock, lambda: client.phlo(PHLO_ID).run({"a": nested(depth)}), "payload"
    )
    assert f"deeper than {MAX_PAYLOAD_DEPTH} levels" in error.reason


async def test_a_payload_nested_to_the_limit_is_sent(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(RUN_URL).respond(201, json={"api_id": "a"})

    await client.phlo(PHLO_ID).run({"a": nested(MAX_PAYLOAD_DEPTH - 1)})

    assert route.call_count == 1
    assert json.loads(route.calls.last.request.content) == {"a": nested(MAX_PAYLOAD_DEPTH - 1)}


async def test_deep_dicts_and_keywords_are_refused_too(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    value: Any = {}
    for _ in range(2_000):
        value = {"k": value}
    await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(order=value), "payload")


async def test_a_payload_that_contains_itself_is_refused(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    loop: list[Any] = []
    loop.append(loop)
    error = await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(a=loop), "payload")
    assert "contains itself" in error.reason


# --------------------------------------------------------------------------- 2. deep answers

DEEP_BODY = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("status", [200, 201])
async def test_a_success_nested_too_deep_is_a_response_validation_error(
    client: PhloClient, respx_mock: respx.MockRouter, status: int
) -> None:
    respx_mock.get(GET_URL).respond(status, content=DEEP_BODY)
    respx_mock.post(RUN_URL).respond(status, content=DEEP_BODY)

    for call in (client.phlo(PHLO_ID).get, client.phlo(PHLO_ID).run):
        with pytest.raises(APIResponseValidationError) as info:
            await call()
        assert info.value.status_code == status
        assert "nested too deeply" in str(info.value)


@pytest.mark.parametrize(
    ("status", "method", "error_type"),
    [
        (400, "GET", BadRequestError),
        (400, "POST", BadRequestError),
        (500, "GET", InternalServerError),
        (503, "POST", ServerOutcomeUnknownError),
    ],
)
async def test_an_error_status_nested_too_deep_is_the_status_error_without_a_body(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    status: int,
    method: str,
    error_type: type[Exception],
) -> None:
    respx_mock.get(GET_URL).respond(status, content=DEEP_BODY)
    respx_mock.post(RUN_URL).respond(status, content=DEEP_BODY)
    call = client.phlo(PHLO_ID).get if method == "GET" else client.phlo(PHLO_ID).run

    with pytest.raises(error_type) as info:
        await call()

    assert getattr(info.value, "status_code", None) == status
    assert getattr(info.value, "body", "missing") is None


# --------------------------------------------------------------------------- 3. surrogates

SURROGATE = "\ud800"

CALL_TEXT_ARGUMENTS = [
    ("from_", SURROGATE),
    ("to", SURROGATE),
    ("to", [AGENT, SURROGATE]),
    ("answer_url", f"https://example.com/{SURROGATE}"),
    ("ring_url", f"https://example.com/{SURROGATE}"),
    ("hangup_url", f"https://example.com/{SURROGATE}"),
    ("fallback_url", f"https://example.com/{SURROGATE}"),
    ("machine_detection_url", f"https://example.com/{SURROGATE}"),
    ("answer_method", SURROGATE),
    ("caller_name", f"Alice{SURROGATE}"),
    ("send_digits", SURROGATE),
    ("machine_detection", SURROGATE),
    ("sip_headers", SURROGATE),
    ("sip_headers", {"a": SURROGATE}),
    ("parent_call_uuid", f"abc{SURROGATE}"),
]


@pytest.mark.parametrize(("argument", "value"), CALL_TEXT_ARGUMENTS)
async def test_a_lone_surrogate_in_any_call_argument_names_it(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str, value: Any
) -> None:
    await rejected(respx_mock, call_with(client, **{argument: value}), argument)


NODE_TEXT_ARGUMENTS: list[Any] = [
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).call(SURROGATE, AGENT),
        "trigger_source",
        id="trigger_source",
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).call(SOURCE, SURROGATE), "to", id="to"
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).warm_transfer(SOURCE, AGENT, SURROGATE),
        "role",
        id="role",
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(SURROGATE).hold(),
        "member_address",
        id="member_address",
    ),
    pytest.param(lambda c: c.phlo(SURROGATE).run(), "phlo_id", id="phlo_id"),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(SURROGATE).get(), "node_id", id="node_id"
    ),
    pytest.param(lambda c: c.phlo(PHLO_ID).get_run(SURROGATE), "run_id", id="run_id"),
    pytest.param(lambda c: c.phlo(PHLO_ID).run({SURROGATE: 1}), "payload", id="payload-key"),
    pytest.param(lambda c: c.phlo(PHLO_ID).run(to=SURROGATE), "payload", id="payload-value"),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).run(a={"b": [SURROGATE]}), "payload", id="payload-nested-value"
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).run(a={SURROGATE: 1}), "payload", id="payload-nested-key"
    ),
]


@pytest.mark.parametrize(("use", "field"), NODE_TEXT_ARGUMENTS)
async def test_a_lone_surrogate_in_any_other_argument_names_it(
    client: PhloClient, respx_mock: respx.MockRouter, use: Any, field: str
) -> None:
    await rejected(respx_mock, lambda: use(client), field)


async def test_a_surrogate_in_a_payload_is_reported_with_its_key_path(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    error = await rejected(
        respx_mock, lambda: client.phlo(PHLO_ID).run(order={"items": ["ok", SURROGATE]}), "payload"
    )
    assert "payload['order']['items'][1]" in error.reason
    assert "surrogate" in error.reason


# --------------------------------------------------------------------------- 4. huge ints

HUGE = 10**5000


@pytest.mark.parametrize(
    "payload",
    [{HUGE: 1}, {"a": HUGE}, {"a": {HUGE: 1}}, {"a": [2**63]}, {"a": -(2**63) - 1}],
    ids=["top-key", "value", "nested-key", "just-over-64-bits", "just-under-minus-64-bits"],
)
async def test_integers_beyond_64_bits_are_refused_in_payloads(
    client: PhloClient, respx_mock: respx.MockRouter, payload: dict[Any, Any]
) -> None:
    await rejected(respx_mock, lambda: client.phlo(PHLO_ID).run(payload), "payload")


async def test_64_bit_integers_are_sent(client: PhloClient, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(RUN_URL).respond(201, json={"api_id": "a"})
    payload = {"max": 2**63 - 1, "min": -(2**63), "nested": {"1": [0]}}

    await client.phlo(PHLO_ID).run(payload)

    assert json.loads(route.calls.last.request.content) == payload


# --------------------------------------------------------------------------- 5. bounds and text


@pytest.mark.parametrize("argument", ["time_limit", "hangup_on_ring", "ring_timeout"])
@pytest.mark.parametrize(
    "value", [MAX_CALL_SECONDS + 1, HUGE, 10.0**300], ids=["bound+1", "5001-digits", "1e300"]
)
async def test_call_durations_have_an_upper_bound(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str, value: Any
) -> None:
    await rejected(respx_mock, call_with(client, **{argument: value}), argument)


@pytest.mark.parametrize(
    "value", [HUGE, "9" * 5000, math.inf, math.nan], ids=["int", "text", "inf", "nan"]
)
async def test_machine_detection_time_refuses_huge_and_non_finite_values(
    client: PhloClient, respx_mock: respx.MockRouter, value: Any
) -> None:
    await rejected(
        respx_mock, call_with(client, machine_detection_time=value), "machine_detection_time"
    )


async def test_send_digits_tone_length_has_an_upper_bound(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    await rejected(respx_mock, call_with(client, send_digits="1@" + "9" * 5000), "send_digits")


async def test_durations_at_the_bound_are_sent(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post().respond(201, json={"api_id": "a"})
    bound = MAX_CALL_SECONDS

    await call_with(client, time_limit=bound, hangup_on_ring=bound, ring_timeout=bound)()

    body = json.loads(route.calls.last.request.content)
    assert (body["time_limit"], body["hangup_on_ring"], body["ring_timeout"]) == (bound,) * 3


URL_ARGUMENTS = ["answer_url", "ring_url", "hangup_url", "fallback_url", "machine_detection_url"]


@pytest.mark.parametrize("argument", URL_ARGUMENTS)
@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a\x00b",
        "https://example.com/\x7f",
        "https://example.com/\x85",
        "http://[",
        "http://[::1/answer",
        "https://example.com:99999/answer",
        "https://example.com:port/answer",
        "https://:80/answer",
        "https://user@/answer",
    ],
    ids=[
        "nul",
        "del",
        "c1-control",
        "open-bracket",
        "unclosed-ipv6",
        "port-out-of-range",
        "port-not-a-number",
        "no-host-with-port",
        "no-host-with-user",
    ],
)
async def test_unusable_urls_are_refused(
    client: PhloClient, respx_mock: respx.MockRouter, argument: str, url: str
) -> None:
    await rejected(respx_mock, call_with(client, **{argument: url}), argument)


@pytest.mark.parametrize("name", ["Al\rice", "Al\nice", "Al\x00ice", "Alice\r\nX-Evil: 1", "\t"])
async def test_caller_name_refuses_control_characters(
    client: PhloClient, respx_mock: respx.MockRouter, name: str
) -> None:
    error = await rejected(respx_mock, call_with(client, caller_name=name), "caller_name")
    assert "control characters" in error.reason


@pytest.mark.parametrize("uuid", ["a b", "a\x00b", "a\nb", "x" * 257])
async def test_parent_call_uuid_refuses_whitespace_control_and_length(
    client: PhloClient, respx_mock: respx.MockRouter, uuid: str
) -> None:
    await rejected(respx_mock, call_with(client, parent_call_uuid=uuid), "parent_call_uuid")


async def test_urls_with_ports_ipv6_and_unicode_are_still_sent(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post().respond(201, json={"api_id": "a"})
    urls = {
        "answer_url": "https://example.com:8443/answer.xml?x=1#f",
        "ring_url": "http://[::1]:8080/ring",
        "hangup_url": "https://bücher.example/hangup",
    }

    await call_with(client, caller_name="Zoë «Ops»", **urls)()

    body = json.loads(route.calls.last.request.content)
    assert {key: body[key] for key in urls} == urls
    assert body["caller_name"] == "Zoë «Ops»"


# One rule for bytes: never accepted, wherever an argument is expected.
BYTES_USES: list[Any] = [
    *[
        pytest.param(
            lambda c, a=argument, v=value: call_with(c, **{a: v})(), argument, id=f"call-{argument}"
        )
        for argument, value in [
            ("from_", SOURCE.encode()),
            ("to", AGENT.encode()),
            ("to", [AGENT.encode()]),
            ("answer_url", ANSWER_URL.encode()),
            ("ring_url", bytearray(ANSWER_URL.encode())),
            ("answer_method", b"GET"),
            ("caller_name", b"Alice"),
            ("send_digits", b"123"),
            ("send_on_preanswer", b"true"),
            ("machine_detection", b"true"),
            ("sip_headers", b"a=b"),
            ("sip_headers", {"a": b"b"}),
            ("time_limit", b"30"),
            ("parent_call_uuid", memoryview(b"abc")),
            ("error_if_parent_not_found", b"false"),
        ]
    ],
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).call(SOURCE.encode(), AGENT),
        "trigger_source",
        id="node-trigger_source",
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).call(SOURCE, AGENT.encode()),
        "to",
        id="node-to",
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).cold_transfer(SOURCE, AGENT, b"agent"),
        "role",
        id="node-role",
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(AGENT.encode()).hangup(),
        "member_address",
        id="member_address",
    ),
    pytest.param(lambda c: c.phlo(PHLO_ID.encode()).get(), "phlo_id", id="phlo_id"),
    pytest.param(lambda c: c.phlo(PHLO_ID).run(to=AGENT.encode()), "payload", id="payload"),
]


@pytest.mark.parametrize(("use", "field"), BYTES_USES)
async def test_bytes_are_refused_everywhere_with_one_reason(
    client: PhloClient, respx_mock: respx.MockRouter, use: Any, field: str
) -> None:
    error = await rejected(respx_mock, lambda: use(client), field)
    assert "bytes are never accepted" in error.reason


async def test_a_run_payload_over_the_body_limit_is_refused(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    for payload in (
        {"a": "x" * MAX_BODY_BYTES},
        {"a": [0] * MAX_BODY_BYTES},
        {"a": "é" * (MAX_BODY_BYTES // 2)},  # 1 MiB of text in UTF-8, half of it in characters
        {f"k{n}": "v" * 1000 for n in range(1100)},
    ):
        error = await rejected(respx_mock, lambda p=payload: client.phlo(PHLO_ID).run(p), "payload")
        assert "1 MiB" in error.reason


async def test_a_run_payload_just_under_the_body_limit_is_sent(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(RUN_URL).respond(201, json={"api_id": "a"})
    payload = {"a": "x" * (MAX_BODY_BYTES - len('{"a":""}'))}

    await client.phlo(PHLO_ID).run(payload)

    assert len(route.calls.last.request.content) == MAX_BODY_BYTES


async def test_a_call_body_over_the_limit_names_the_largest_argument(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    error = await rejected(respx_mock, call_with(client, to=[AGENT] * 100_000), "to")
    assert "1 MiB" in error.reason


# --------------------------------------------------------------------------- fuzzing


def _hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        # Every code point, surrogates and controls included.
        st.text(st.characters(exclude_categories=()), max_size=20),
        st.sampled_from(
            [
                SURROGATE,
                "\x00",
                "http://[",
                "https://a.b/\r\n",
                "+14155550100",
                "sip:a@b.com",
                "agent",
                "GET",
                "true",
                ANSWER_URL,
                "",
            ]
        ),
        st.integers(),
        st.sampled_from([5000, 20, 19, 5]).map(lambda digits: 10**digits),  # 10**5000 included
        st.sampled_from([-(2**63) - 1, 2**63, 2**64, 86_401, 0, -1]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.binary(max_size=10),
        st.builds(bytearray, st.binary(max_size=5)),
    )


def _hostile() -> st.SearchStrategy[Any]:
    deep = st.sampled_from([0, 70, 1_200, 20_000]).map(nested)
    return st.one_of(
        _hostile_scalars(),
        deep,
        st.recursive(
            _hostile_scalars(),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3),
                st.dictionaries(_hostile_scalars().filter(_hashable), inner, max_size=3),
                st.tuples(inner, inner),
            ),
            max_leaves=8,
        ),
    )


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


async def _only_invalid_parameter(call: Callable[[], Awaitable[Any]]) -> None:
    """``call`` succeeds, or raises InvalidParameterError having sent nothing."""
    with respx.mock(assert_all_called=False) as mock:
        mock.route().respond(201, json={"api_id": "a", "request_uuid": "r", "message": "ok"})
        error: InvalidParameterError | None = None
        try:
            await call()
        except InvalidParameterError as caught:
            error = caught
        if error is None:
            assert mock.calls.call_count == 1
        else:
            assert isinstance(error.field, str)
            assert error.field
            assert mock.calls.call_count == 0


# Shared by every fuzzed example: building a TLS context per client would take
# most of the time. It never opens a connection (respx answers), so it is never closed.
_HTTP = httpx.AsyncClient()


def _run_sync(use: Callable[[PhloClient], Awaitable[Any]]) -> None:
    async def main() -> None:
        async with PhloClient(
            "MAXXXXXXXXXXXXXXXXXX", "fuzz-token", max_retries=0, http_client=_HTTP
        ) as client:
            await _only_invalid_parameter(lambda: use(client))

    anyio.run(main)


@FUZZ
@given(
    payload=st.one_of(
        _hostile(), st.dictionaries(_hostile_scalars().filter(_hashable), _hostile(), max_size=4)
    ),
    fields=st.dictionaries(st.text(max_size=5).filter(str.isidentifier), _hostile(), max_size=3),
)
def test_fuzz_run(payload: Any, fields: dict[str, Any]) -> None:
    _run_sync(lambda c: c.phlo(PHLO_ID).run(payload, **fields))


@FUZZ
@given(
    trigger_source=st.one_of(_hostile(), st.just(SOURCE)),
    to=st.one_of(_hostile(), st.just(AGENT)),
    role=st.one_of(_hostile(), st.sampled_from(["agent", "customer"])),
    node_id=st.one_of(_hostile(), st.just(NODE_ID)),
)
def test_fuzz_node_call(trigger_source: Any, to: Any, role: Any, node_id: Any) -> None:
    _run_sync(lambda c: c.phlo(PHLO_ID).multi_party_call(node_id).call(trigger_source, to, role))


@FUZZ
@given(
    phlo_id=st.one_of(_hostile(), st.just(PHLO_ID)),
    member_address=st.one_of(_hostile(), st.just(AGENT)),
)
def test_fuzz_member_action(phlo_id: Any, member_address: Any) -> None:
    _run_sync(
        lambda c: c.phlo(phlo_id).multi_party_call(NODE_ID).member(member_address).voicemail_drop()
    )


CALL_ARGUMENTS = [
    "answer_method",
    "ring_url",
    "ring_method",
    "hangup_url",
    "hangup_method",
    "fallback_url",
    "fallback_method",
    "caller_name",
    "send_digits",
    "send_on_preanswer",
    "time_limit",
    "hangup_on_ring",
    "machine_detection",
    "machine_detection_time",
    "machine_detection_url",
    "machine_detection_method",
    "sip_headers",
    "ring_timeout",
    "parent_call_uuid",
    "error_if_parent_not_found",
]


@FUZZ
@given(
    from_=st.one_of(_hostile(), st.just(SOURCE)),
    to=st.one_of(_hostile(), st.just(AGENT), st.lists(_hostile_scalars(), max_size=3)),
    answer_url=st.one_of(_hostile(), st.just(ANSWER_URL)),
    options=st.dictionaries(st.sampled_from(CALL_ARGUMENTS), _hostile(), max_size=6),
)
def test_fuzz_calls_create(from_: Any, to: Any, answer_url: Any, options: dict[str, Any]) -> None:
    _run_sync(lambda c: c.calls.create(from_, to, answer_url, **options))
