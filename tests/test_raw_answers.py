"""Raw answers: every result carries its answer's HTTP status and headers, read
from the one request that was sent (no second request), on both sending paths.

The loopback server (tests/_servers.py, the ``canned`` answer) answers each request with the status,
headers and body the test chose; every test runs on the fast path (the SDK's own pool)
and on httpx (an injected ``httpx.AsyncClient``), and counts the requests.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Awaitable, Callable

import pytest
import respx
from _servers import BODY, NODE_ID, PHLO_ID, Canned, Server

from plivo_phlo_async import (
    ActionResult,
    APIResponseValidationError,
    CallCreateResult,
    ConferenceBridgeDetails,
    MultiPartyCallDetails,
    NodeDetails,
    NotFoundError,
    PhloClient,
    PhloDetails,
    PhloRun,
    PhloRunResult,
    PlivoObject,
    ResponseHeaders,
    ServerOutcomeUnknownError,
)

MEMBER = "+14155550122"
HEADERS = [
    ("X-Request-Id", "req-42"),
    ("X-RateLimit-Remaining", "299"),
    ("Set-Cookie", "a=1"),
    ("Set-Cookie", "b=2"),
    # A server that echoes credentials back must not get them into a result.
    ("Authorization", "Basic c2VjcmV0"),
]


@pytest.fixture
def path_client(canned: Canned, on_path: Callable[..., PhloClient]) -> PhloClient:
    """A client on the loopback server (answering with HEADERS), by each send path."""
    canned.headers = list(HEADERS)
    return on_path()


RESULTS: list[tuple[str, Callable[[PhloClient], Awaitable[PlivoObject]], type[PlivoObject]]] = [
    ("phlo.get", lambda c: c.phlo(PHLO_ID).get(), PhloDetails),
    ("phlo.run", lambda c: c.phlo(PHLO_ID).run(to=MEMBER), PhloRunResult),
    ("phlo.get_run", lambda c: c.phlo(PHLO_ID).get_run("r-1"), PhloRun),
    ("mpc.get", lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).get(), MultiPartyCallDetails),
    (
        "mpc.call",
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).call("+14155550100", MEMBER),
        ActionResult,
    ),
    (
        "member.mute",
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER).mute(),
        ActionResult,
    ),
    (
        "bridge.get",
        lambda c: c.phlo(PHLO_ID).conference_bridge(NODE_ID).get(),
        ConferenceBridgeDetails,
    ),
    (
        "bridge_member.hold",
        lambda c: c.phlo(PHLO_ID).conference_bridge(NODE_ID).member(MEMBER).hold(),
        ActionResult,
    ),
    ("node.get", lambda c: c.phlo(PHLO_ID).node("send_sms", NODE_ID).get(), NodeDetails),
    (
        "calls.create",
        lambda c: c.calls.create("+14155550100", MEMBER, "https://example.com/a.xml"),
        CallCreateResult,
    ),
]


@pytest.mark.parametrize(
    ("call", "model"), [pytest.param(call, model, id=name) for name, call, model in RESULTS]
)
async def test_every_result_carries_its_answer_s_status_and_headers(
    send_path: str,
    path_client: PhloClient,
    loopback: Server,
    canned: Canned,
    call: Callable[[PhloClient], Awaitable[PlivoObject]],
    model: type[PlivoObject],
) -> None:
    canned.status = 202

    result = await call(path_client)

    assert isinstance(result, model)
    assert (path_client._requester.sender._fast is not None) == (send_path == "fast")
    assert len(loopback.received) == 1  # read from the one answer, nothing sent again
    assert result.http_status == 202
    headers = result.http_headers
    assert isinstance(headers, ResponseHeaders)
    assert headers["x-request-id"] == headers["X-REQUEST-ID"] == "req-42"
    assert headers["content-type"] == "application/json"
    assert headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert headers["Set-Cookie"] == "a=1, b=2"
    assert "x-ratelimit-remaining" in headers


async def test_headers_never_hold_authorization_or_the_token(
    path_client: PhloClient, loopback: Server, auth_token: str
) -> None:
    result = await path_client.phlo(PHLO_ID).get()

    headers = result.http_headers
    assert "authorization" not in headers
    assert headers.get("Authorization") is None
    assert headers.get_list("authorization") == []
    shown = repr(headers) + repr(dict(headers)) + repr(result)
    assert "c2VjcmV0" not in shown
    assert auth_token not in shown


async def test_headers_are_read_only(path_client: PhloClient) -> None:
    result = await path_client.phlo(PHLO_ID).get()

    with pytest.raises(TypeError):
        result.http_headers["x-request-id"] = "changed"  # type: ignore[index]
    assert not hasattr(result.http_headers, "update")
    assert result.http_headers["x-request-id"] == "req-42"


async def test_status_and_headers_are_not_part_of_the_dump(path_client: PhloClient) -> None:
    result = await path_client.phlo(PHLO_ID).get()

    dumped = result.model_dump()
    assert "http_headers" not in dumped
    assert "http_status" not in dumped
    assert "req-42" not in result.model_dump_json()


async def test_headers_survive_a_copy_and_a_pickle(path_client: PhloClient) -> None:
    result = await path_client.phlo(PHLO_ID).get()

    for copied in (copy.deepcopy(result), pickle.loads(pickle.dumps(result))):  # noqa: S301
        assert copied.http_headers == result.http_headers
        assert copied.http_headers["X-Request-Id"] == "req-42"
        assert copied.http_status == result.http_status


def test_a_model_built_by_hand_has_empty_headers() -> None:
    details = PhloDetails.model_validate({"phlo_id": PHLO_ID})

    assert details.http_headers == {}
    assert len(details.http_headers) == 0
    assert details.http_status is None


# --------------------------------------------------------------------------- errors


async def test_a_status_error_carries_the_answer_s_headers(
    path_client: PhloClient, loopback: Server, canned: Canned
) -> None:
    canned.status = 404
    canned.body = b'{"api_id": "a-1", "error": "not found"}'

    with pytest.raises(NotFoundError) as info:
        await path_client.phlo(PHLO_ID).get()

    assert len(loopback.received) == 1
    assert info.value.response.headers["x-request-id"] == "req-42"
    assert info.value.response.headers.get_list("set-cookie") == ["a=1", "b=2"]


async def test_an_outcome_unknown_error_carries_the_answer_s_headers(
    path_client: PhloClient, loopback: Server, canned: Canned
) -> None:
    canned.status = 503

    with pytest.raises(ServerOutcomeUnknownError) as info:
        await path_client.phlo(PHLO_ID).conference_bridge(NODE_ID).member(MEMBER).mute()

    assert len(loopback.received) == 1  # a POST that may have run: never sent again
    assert info.value.response.headers["X-Request-Id"] == "req-42"


async def test_an_unreadable_success_carries_the_answer_s_headers(
    path_client: PhloClient, loopback: Server, canned: Canned
) -> None:
    canned.body = b"<html>OK</html>"

    with pytest.raises(APIResponseValidationError) as info:
        await path_client.phlo(PHLO_ID).run()

    assert len(loopback.received) == 1
    assert info.value.response.headers["x-request-id"] == "req-42"


# --------------------------------------------------------------------------- with a mock


async def test_headers_of_a_mocked_answer_are_exposed(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get().respond(200, json=BODY, headers={"X-Trace": "t-1"})

    result = await client.phlo(PHLO_ID).get()

    assert result.http_headers["x-trace"] == "t-1"
    assert respx_mock.calls.call_count == 1


async def test_status_and_headers_survive_model_copy(path_client: PhloClient) -> None:
    result = await path_client.phlo(PHLO_ID).get()

    copied = result.model_copy(update={"name": "renamed"})

    assert copied.name == "renamed"
    assert copied.http_status == result.http_status
    assert copied.http_status is not None
    assert copied.http_headers["X-Request-Id"] == "req-42"
