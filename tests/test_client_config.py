"""Client setup: credentials, base URLs, the connection pool, timeouts and with_options."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
import respx

from plivo_phlo_async import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_VOICE_BASE_URL,
    APIConnectionError,
    ClientClosedError,
    ConfigurationError,
    InvalidParameterError,
    PhloClient,
)

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
SOURCE = "+14155550111"
AGENT = "+14155550100"
ANSWER = {"api_id": "a-1", "phlo_id": PHLO_ID, "node_id": NODE_ID, "run_id": "r-1", "error": ""}

Call = Callable[[PhloClient], Awaitable[Any]]


def credentials_sent(request: httpx.Request) -> str:
    return base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()


def timeout_sent(mock: respx.MockRouter) -> dict[str, float | None]:
    timeout: dict[str, float | None] = mock.calls.last.request.extensions["timeout"]
    return timeout


# --------------------------------------------------------------------------- credentials


async def test_credentials_come_from_the_environment_when_omitted(
    monkeypatch: pytest.MonkeyPatch, respx_mock: respx.MockRouter
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAENVIRONMENT0000000")
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "env-token")
    respx_mock.route().respond(200, json=ANSWER)

    async with PhloClient() as client:
        await client.phlo(PHLO_ID).run()

    assert client.auth_id == "MAENVIRONMENT0000000"
    request = respx_mock.calls.last.request
    assert credentials_sent(request) == "MAENVIRONMENT0000000:env-token"
    assert "/account/MAENVIRONMENT0000000/" in str(request.url)


async def test_explicit_credentials_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, respx_mock: respx.MockRouter
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAENVIRONMENT0000000")
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "env-token")
    respx_mock.route().respond(200, json=ANSWER)

    async with PhloClient("MAEXPLICIT0000000000", "explicit-token") as client:
        await client.phlo(PHLO_ID).get()

    assert credentials_sent(respx_mock.calls.last.request) == "MAEXPLICIT0000000000:explicit-token"


async def test_one_credential_may_come_from_each_place(
    monkeypatch: pytest.MonkeyPatch, respx_mock: respx.MockRouter
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAENVIRONMENT0000000")
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "env-token")
    respx_mock.route().respond(200, json=ANSWER)

    async with PhloClient(auth_token="explicit-token") as client:
        await client.phlo(PHLO_ID).get()

    assert credentials_sent(respx_mock.calls.last.request) == "MAENVIRONMENT0000000:explicit-token"


@pytest.mark.usefixtures("no_plivo_env")
@pytest.mark.parametrize(
    ("arguments", "missing"),
    [
        ({}, "auth id"),
        ({"auth_id": "MAXXXXXXXXXXXXXXXXXX"}, "auth token"),
        ({"auth_token": "token"}, "auth id"),
        ({"auth_id": "", "auth_token": "token"}, "auth id"),
        ({"auth_id": "MAXXXXXXXXXXXXXXXXXX", "auth_token": ""}, "auth token"),
    ],
)
def test_missing_credentials_raise_configuration_error(
    arguments: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        PhloClient(**arguments)


@pytest.mark.parametrize("variable", ["PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN"])
def test_an_empty_environment_variable_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAXXXXXXXXXXXXXXXXXX")
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "token")
    monkeypatch.setenv(variable, "")

    with pytest.raises(ConfigurationError):
        PhloClient()


@pytest.mark.parametrize("auth_id", ["MA/../other", "MA?x=1", "MA X", "..", "MA#1"])
def test_an_auth_id_that_would_change_the_url_is_refused(auth_id: str) -> None:
    with pytest.raises(ConfigurationError, match="auth id"):
        PhloClient(auth_id, "token")


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)


# --------------------------------------------------------------------------- base URLs


@pytest.mark.parametrize("option", ["base_url", "voice_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://phlorunner.plivo.com/v1",
        "http://10.0.0.1:8000/v1",
        "http://192.168.1.10/v1",
        "http://localhost.example.com/v1",
        "http://0.0.0.0:8000",
    ],
)
def test_plain_http_is_refused_for_a_remote_host(
    auth_id: str, auth_token: str, option: str, url: str
) -> None:
    with pytest.raises(ConfigurationError, match=option):
        PhloClient(auth_id, auth_token, **{option: url})


@pytest.mark.parametrize("option", ["base_url", "voice_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "ftp://phlorunner.plivo.com/v1",
        "phlorunner.plivo.com/v1",
        "/v1",
        "",
        "https://",
        "https://user:secret@phlorunner.plivo.com/v1",
        "https://phlorunner.plivo.com/v1?debug=1",
        "https://phlorunner.plivo.com/v1#top",
    ],
)
def test_malformed_base_urls_are_refused(
    auth_id: str, auth_token: str, option: str, url: str
) -> None:
    with pytest.raises(ConfigurationError, match=option):
        PhloClient(auth_id, auth_token, **{option: url})


@pytest.mark.parametrize("option", ["base_url", "voice_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "https://phlorunner.example.com/v1",
        "https://10.0.0.1:8443/v1",
        "http://127.0.0.1:8765/v1",
        "http://127.0.0.2:8765",
        "http://localhost:8765/v1",
        "http://[::1]:8765/v1",
    ],
)
async def test_https_and_loopback_http_are_accepted(
    make_client: Callable[..., PhloClient], option: str, url: str
) -> None:
    client = make_client(**{option: url})

    assert getattr(client, option) == url


async def test_defaults_are_plivos_urls(client: PhloClient) -> None:
    assert client.base_url == DEFAULT_BASE_URL == "https://phlorunner.plivo.com/v1"
    assert client.voice_base_url == DEFAULT_VOICE_BASE_URL == "https://api.plivo.com/v1"
    assert client.max_retries == DEFAULT_MAX_RETRIES == 2


async def test_a_local_emulator_url_is_used_on_the_wire(
    make_client: Callable[..., PhloClient], respx_mock: respx.MockRouter
) -> None:
    client = make_client(base_url="http://127.0.0.1:54321/v1")
    route = respx_mock.get(f"http://127.0.0.1:54321/v1/phlo/{PHLO_ID}").respond(200, json=ANSWER)

    await client.phlo.get(PHLO_ID)

    assert route.call_count == 1


# --------------------------------------------------------------------------- an injected client


class Recorder:
    """A MockTransport handler: answers 200 and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=ANSWER)


async def test_an_injected_http_client_sends_every_request(auth_id: str, auth_token: str) -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http_client:
        client = PhloClient(auth_id, auth_token, http_client=http_client)

        await client.phlo(PHLO_ID).get()
        await client.phlo(PHLO_ID).run(x=1)

        assert [(r.method, r.url.path) for r in recorder.requests] == [
            ("GET", f"/v1/phlo/{PHLO_ID}"),
            ("POST", f"/v1/account/{auth_id}/phlo/{PHLO_ID}"),
        ]
        assert credentials_sent(recorder.requests[0]) == f"{auth_id}:{auth_token}"
        # The SDK's timeouts apply to it too.
        assert recorder.requests[0].extensions["timeout"] == DEFAULT_TIMEOUT.as_dict()
        await client.aclose()


async def test_an_injected_http_client_is_left_open(auth_id: str, auth_token: str) -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http_client:
        async with PhloClient(auth_id, auth_token, http_client=http_client) as client:
            await client.phlo(PHLO_ID).get()

        assert not http_client.is_closed
        assert client.is_closed  # closing the SDK client is final, whoever owns the pool
        # Still usable by its owner after the SDK client is gone.
        assert (await http_client.get("https://example.com/")).status_code == 200


def test_an_injected_client_must_be_an_async_httpx_client(auth_id: str, auth_token: str) -> None:
    with httpx.Client() as sync_client, pytest.raises(ConfigurationError, match="http_client"):
        PhloClient(auth_id, auth_token, http_client=sync_client)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the SDK's own pool


async def test_aclose_closes_the_pool_the_client_owns(auth_id: str, auth_token: str) -> None:
    client = PhloClient(auth_id, auth_token)
    assert not client.is_closed

    await client.aclose()

    assert client.is_closed
    assert client._requester.http_client.is_closed


async def test_async_with_closes_the_pool_and_returns_the_client(
    auth_id: str, auth_token: str
) -> None:
    client = PhloClient(auth_id, auth_token)

    async with client as entered:
        assert entered is client
        assert not client.is_closed

    assert client.is_closed


async def test_aclose_twice_is_harmless(auth_id: str, auth_token: str) -> None:
    client = PhloClient(auth_id, auth_token)

    await client.aclose()
    await client.aclose()

    assert client.is_closed


async def test_a_closed_client_refuses_to_send(
    auth_id: str, auth_token: str, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.route().respond(200, json=ANSWER)
    client = PhloClient(auth_id, auth_token)
    await client.aclose()

    with pytest.raises(ClientClosedError, match="closed") as caught:
        await client.phlo(PHLO_ID).get()

    assert not isinstance(caught.value, APIConnectionError)  # nothing retries it
    assert route.call_count == 0


def test_a_client_can_be_built_outside_any_event_loop(auth_id: str, auth_token: str) -> None:
    client = PhloClient(auth_id, auth_token)

    assert not client.is_closed
    anyio.run(client.aclose)
    assert client.is_closed


# --------------------------------------------------------------------------- with_options


async def test_with_options_shares_the_connection_pool(client: PhloClient) -> None:
    copy = client.with_options(max_retries=5, timeout=3.0)

    assert copy is not client
    assert copy._requester is client._requester
    assert copy._requester.http_client is client._requester.http_client


async def test_closing_a_copy_leaves_the_shared_pool_open(client: PhloClient) -> None:
    copy = client.with_options(timeout=3.0)

    await copy.aclose()

    assert not client.is_closed
    assert not copy.is_closed


async def test_closing_the_original_closes_the_pool_of_its_copies(
    auth_id: str, auth_token: str
) -> None:
    client = PhloClient(auth_id, auth_token)
    copy = client.with_options(max_retries=0)

    await client.aclose()

    assert copy.is_closed


async def test_with_options_keeps_everything_it_is_not_told_to_change(
    make_client: Callable[..., PhloClient],
) -> None:
    client = make_client(
        base_url="http://127.0.0.1:8765/v1",
        voice_base_url="http://localhost:9000/v1",
        max_retries=4,
        timeout=7.0,
    )

    copy = client.with_options()

    assert (copy.auth_id, copy.base_url, copy.voice_base_url) == (
        client.auth_id,
        "http://127.0.0.1:8765/v1",
        "http://localhost:9000/v1",
    )
    assert copy.max_retries == 4
    assert copy.timeout == httpx.Timeout(7.0)


async def test_with_options_changes_the_timeout_sent(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await client.with_options(timeout=2.5).phlo(PHLO_ID).run()
    copy_timeout = timeout_sent(respx_mock)
    await client.phlo(PHLO_ID).run()

    assert copy_timeout == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert timeout_sent(respx_mock) == DEFAULT_TIMEOUT.as_dict()


async def test_with_options_accepts_an_httpx_timeout(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await client.with_options(timeout=httpx.Timeout(1.0, read=20.0)).phlo(PHLO_ID).get()

    assert timeout_sent(respx_mock) == {"connect": 1.0, "read": 20.0, "write": 1.0, "pool": 1.0}


@pytest.mark.parametrize(
    "options", [{"max_retries": -1}, {"max_retries": True}, {"timeout": 0}, {"timeout": -2.0}]
)
async def test_with_options_refuses_bad_values(client: PhloClient, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        client.with_options(**options)


# --------------------------------------------------------------------------- timeouts


async def test_default_timeouts_are_all_bounded(client: PhloClient) -> None:
    timeout = client.timeout

    assert timeout == DEFAULT_TIMEOUT
    for phase in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        assert phase is not None
        assert 0 < phase <= 60


async def test_default_timeouts_are_sent_with_each_request(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await client.phlo(PHLO_ID).get()

    sent = timeout_sent(respx_mock)
    assert sent == DEFAULT_TIMEOUT.as_dict()
    assert None not in sent.values()


async def test_a_client_timeout_number_sets_every_phase(
    make_client: Callable[..., PhloClient], respx_mock: respx.MockRouter
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await make_client(timeout=4).phlo(PHLO_ID).get()

    assert timeout_sent(respx_mock) == {"connect": 4, "read": 4, "write": 4, "pool": 4}


TIMED_CALLS = [
    pytest.param(lambda c, t: c.phlo.get(PHLO_ID, timeout=t), id="client.phlo.get"),
    pytest.param(lambda c, t: c.phlo(PHLO_ID).get(timeout=t), id="phlo.get"),
    pytest.param(lambda c, t: c.phlo(PHLO_ID).get_run("r-1", timeout=t), id="phlo.get_run"),
    pytest.param(
        lambda c, t: c.phlo(PHLO_ID).multi_party_call(NODE_ID).get(timeout=t), id="mpc.get"
    ),
    *[
        pytest.param(
            lambda c, t, name=name: getattr(c.phlo(PHLO_ID).multi_party_call(NODE_ID), name)(
                SOURCE, AGENT, timeout=t
            ),
            id=f"mpc.{name}",
        )
        for name in ("call", "warm_transfer", "cold_transfer")
    ],
    *[
        pytest.param(
            lambda c, t, name=name: getattr(
                c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(AGENT), name
            )(timeout=t),
            id=f"member.{name}",
        )
        for name in ("hold", "unhold", "hangup", "resume_call", "abort_transfer", "voicemail_drop")
    ],
    pytest.param(
        lambda c, t: c.calls.create(SOURCE, AGENT, "https://example.com/a", timeout=t),
        id="calls.create",
    ),
]


@pytest.mark.parametrize("call", TIMED_CALLS)
async def test_a_per_call_timeout_applies_to_that_request_only(
    client: PhloClient, respx_mock: respx.MockRouter, call: Any
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await call(client, 1.5)
    per_call = timeout_sent(respx_mock)
    await call(client, None)

    assert per_call == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}
    assert timeout_sent(respx_mock) == DEFAULT_TIMEOUT.as_dict()


async def test_a_per_call_httpx_timeout_is_sent_as_given(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.route().respond(200, json=ANSWER)

    await client.phlo.get(PHLO_ID, timeout=httpx.Timeout(2.0, connect=0.5))

    assert timeout_sent(respx_mock) == {"connect": 0.5, "read": 2.0, "write": 2.0, "pool": 2.0}


@pytest.mark.parametrize(
    "timeout",
    [0, -1, True, "5", float("nan"), float("inf"), 10**400, httpx.Timeout(5.0, read=float("nan"))],
)
async def test_a_bad_per_call_timeout_is_refused_before_sending(
    client: PhloClient, respx_mock: respx.MockRouter, timeout: Any
) -> None:
    with pytest.raises(InvalidParameterError, match="timeout") as caught:
        await client.phlo.get(PHLO_ID, timeout=timeout)

    assert caught.value.field == "timeout"
    assert respx_mock.calls.call_count == 0


@pytest.mark.parametrize("timeout", [0, -1, "5", float("nan"), float("-inf")])
def test_a_bad_client_timeout_names_the_field(auth_id: str, auth_token: str, timeout: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout") as caught:
        PhloClient(auth_id, auth_token, timeout=timeout)

    assert caught.value.field == "timeout"


@pytest.mark.parametrize("deadline", [0, -1, "5", float("nan"), float("inf"), True, 10**400])
def test_a_bad_attempt_deadline_is_refused(auth_id: str, auth_token: str, deadline: Any) -> None:
    with pytest.raises(ConfigurationError, match="attempt_deadline") as caught:
        PhloClient(auth_id, auth_token, attempt_deadline=deadline)

    assert caught.value.field == "attempt_deadline"


def test_the_attempt_deadline_defaults_to_twice_the_read_timeout(
    auth_id: str, auth_token: str
) -> None:
    assert PhloClient(auth_id, auth_token).attempt_deadline == 60.0
    assert PhloClient(auth_id, auth_token, timeout=4.0).attempt_deadline == 8.0
    assert PhloClient(auth_id, auth_token, attempt_deadline=12.5).attempt_deadline == 12.5
    client = PhloClient(auth_id, auth_token)
    assert client.with_options(timeout=1.0).attempt_deadline == 2.0
    assert client.with_options(attempt_deadline=3.0).attempt_deadline == 3.0


# --------------------------------------------------------------------------- bad options


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", True),
        ("timeout", "30"),
        ("timeout", None),
        ("max_retries", -1),
        ("max_retries", True),
        ("max_retries", 1.5),
        ("max_retries", "2"),
        ("max_connections", 0),
        ("max_connections", True),
        ("max_connections", 2.5),
    ],
)
def test_bad_client_options_raise_configuration_error(
    auth_id: str, auth_token: str, option: str, value: Any
) -> None:
    with pytest.raises(ConfigurationError, match=option):
        PhloClient(auth_id, auth_token, **{option: value})
