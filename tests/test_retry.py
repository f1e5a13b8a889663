"""Every row of the retry table in plivo_phlo_async/_retry.py.

A GET is repeated after any failure that may be transient; a POST (a PHLO run,
a node or member action, a call) is repeated only when it certainly never
reached Plivo or was refused unprocessed (429). The ``sleeps`` fixture records
the waits instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from plivo_phlo_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CannotConnectError,
    ConnectionOutcomeUnknownError,
    ConnectTimeoutError,
    InternalServerError,
    OutcomeUnknownError,
    PhloClient,
    RateLimitError,
    RequestTimeoutError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
)
from plivo_phlo_async._retry import RetryPolicy, parse_retry_after

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
SOURCE = "+14155550111"
AGENT = "+14155550100"

Call = Callable[[PhloClient], Awaitable[Any]]


def get(client: PhloClient) -> Awaitable[Any]:
    return client.phlo(PHLO_ID).get()


def post(client: PhloClient) -> Awaitable[Any]:
    return client.phlo(PHLO_ID).run(From=SOURCE)


METHODS = [pytest.param(get, id="GET"), pytest.param(post, id="POST")]

#: Every kind of POST the SDK sends.
POSTS = [
    pytest.param(post, id="phlo.run"),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).call(SOURCE, AGENT), id="mpc.call"
    ),
    pytest.param(
        lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(AGENT).hangup(),
        id="member.hangup",
    ),
    pytest.param(
        lambda c: c.calls.create(SOURCE, AGENT, "https://example.com/a"), id="calls.create"
    ),
]


def ok() -> httpx.Response:
    """An answer every endpoint accepts."""
    return httpx.Response(200, json={"api_id": "ok-1", "phlo_id": PHLO_ID, "error": ""})


def status(code: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(code, headers=headers, json={"api_id": f"e-{code}", "error": "nope"})


def http_date(seconds_from_now: float) -> str:
    return format_datetime(
        datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now), usegmt=True
    )


def answers(mock: respx.MockRouter, *effects: Any) -> respx.Route:
    """Every request gets the next of ``effects`` (a response or an httpx error class)."""
    return mock.route().mock(side_effect=list(effects))


def assert_backoff(delay: float, retry_number: int) -> None:
    """Half fixed, half random: within [ceiling / 2, ceiling] of 0.5 s doubling, max 8 s."""
    ceiling = min(0.5 * 2 ** (retry_number - 1), 8.0)
    assert ceiling / 2 <= delay <= ceiling


# --------------------------------------------------------------------------- never sent

NEVER_SENT = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError]


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize("error", NEVER_SENT)
async def test_a_request_that_never_left_is_retried_for_every_method(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    error: type[httpx.TransportError],
) -> None:
    route = answers(respx_mock, error, ok())

    result = await call(client)

    assert result.api_id == "ok-1"
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert_backoff(sleeps[0], 1)


# --------------------------------------------------------------------------- 429


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [("7", 7.0), ("0", 0.0), ("2.5", 2.5), (" 3 ", 3.0), ("-4", 0.0)],
)
async def test_429_is_retried_after_retry_after_seconds(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    retry_after: str,
    waited: float,
) -> None:
    route = answers(respx_mock, status(429, {"Retry-After": retry_after}), ok())

    await call(client)

    assert route.call_count == 2
    assert sleeps == [waited]


@pytest.mark.parametrize("call", METHODS)
async def test_429_is_retried_at_a_retry_after_http_date(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], call: Call
) -> None:
    route = answers(respx_mock, status(429, {"Retry-After": http_date(30)}), ok())

    await call(client)

    assert route.call_count == 2
    # The date has one-second resolution and the clock moves on meanwhile.
    assert len(sleeps) == 1
    assert 25.0 <= sleeps[0] <= 30.0


@pytest.mark.parametrize("call", METHODS)
async def test_429_with_a_retry_after_date_in_the_past_is_retried_at_once(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], call: Call
) -> None:
    route = answers(respx_mock, status(429, {"Retry-After": http_date(-3600)}), ok())

    await call(client)

    assert route.call_count == 2
    assert sleeps == [0.0]


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize("retry_after", ["61", "3600", "1e9", http_date(600)])
async def test_retry_after_is_capped_at_60_seconds(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    retry_after: str,
) -> None:
    answers(respx_mock, status(429, {"Retry-After": retry_after}), ok())

    await call(client)

    assert sleeps == [60.0]


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize("headers", [None, {"Retry-After": "soon"}, {"Retry-After": "nan"}])
async def test_429_without_a_usable_retry_after_backs_off(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    headers: dict[str, str] | None,
) -> None:
    route = answers(respx_mock, status(429, headers), status(429, headers), ok())

    await call(client)

    assert route.call_count == 3
    assert len(sleeps) == 2
    assert_backoff(sleeps[0], 1)
    assert_backoff(sleeps[1], 2)


async def test_each_429_is_waited_for_as_it_asks(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    answers(
        respx_mock,
        status(429, {"Retry-After": "5"}),
        status(429, {"Retry-After": "1"}),
        ok(),
    )

    await post(client)

    assert sleeps == [5.0, 1.0]


# --------------------------------------------------------------------------- GET only

MAYBE_SENT_STATUSES = [408, 500, 502, 503, 504]
MAYBE_SENT_ERRORS = [
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
]


@pytest.mark.parametrize("code", MAYBE_SENT_STATUSES)
async def test_get_is_retried_after_408_and_5xx(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], code: int
) -> None:
    route = answers(respx_mock, status(code), ok())

    result = await get(client)

    assert result.api_id == "ok-1"
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert_backoff(sleeps[0], 1)


@pytest.mark.parametrize("error", MAYBE_SENT_ERRORS)
async def test_get_is_retried_after_a_read_timeout_or_a_lost_connection(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    error: type[httpx.TransportError],
) -> None:
    route = answers(respx_mock, error, ok())

    await get(client)

    assert route.call_count == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "get_call",
    [
        pytest.param(lambda c: c.phlo.get(PHLO_ID), id="client.phlo.get"),
        pytest.param(lambda c: c.phlo(PHLO_ID).get_run("run-1"), id="phlo.get_run"),
        pytest.param(lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).get(), id="mpc.get"),
    ],
)
async def test_every_get_endpoint_is_retried_after_a_5xx(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], get_call: Call
) -> None:
    answer = {"api_id": "a", "phlo_id": PHLO_ID, "node_id": NODE_ID, "run_id": "run-1"}
    route = answers(respx_mock, status(503), httpx.Response(200, json=answer))

    await get_call(client)

    assert route.call_count == 2


# --------------------------------------------------------------------------- POST: outcome unknown


@pytest.mark.parametrize("call", POSTS)
@pytest.mark.parametrize("code", [500, 502, 503, 504])
async def test_post_that_got_a_5xx_is_outcome_unknown_after_one_request(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    code: int,
) -> None:
    route = answers(respx_mock, status(code), ok())

    with pytest.raises(ServerOutcomeUnknownError) as info:
        await call(client)

    error = info.value
    assert isinstance(error, OutcomeUnknownError)
    assert isinstance(error, InternalServerError)  # still the ordinary 5xx error
    assert error.outcome_unknown is True
    assert error.status_code == code
    assert "outcome unknown" in str(error)
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("call", POSTS)
async def test_post_that_got_a_408_is_outcome_unknown(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], call: Call
) -> None:
    route = answers(respx_mock, status(408), ok())

    with pytest.raises(StatusOutcomeUnknownError) as info:
        await call(client)

    assert isinstance(info.value, OutcomeUnknownError)
    assert isinstance(info.value, RequestTimeoutError)
    assert info.value.outcome_unknown is True
    assert info.value.status_code == 408
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("call", POSTS)
@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.WriteTimeout])
async def test_post_that_timed_out_after_sending_is_outcome_unknown(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    error: type[httpx.TransportError],
) -> None:
    route = answers(respx_mock, error, ok())

    with pytest.raises(TimeoutOutcomeUnknownError) as info:
        await call(client)

    assert isinstance(info.value, OutcomeUnknownError)
    assert isinstance(info.value, APITimeoutError)
    assert info.value.outcome_unknown is True
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("call", POSTS)
@pytest.mark.parametrize(
    "error", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError]
)
async def test_post_that_lost_its_connection_is_outcome_unknown(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    error: type[httpx.TransportError],
) -> None:
    route = answers(respx_mock, error, ok())

    with pytest.raises(ConnectionOutcomeUnknownError) as info:
        await call(client)

    assert isinstance(info.value, OutcomeUnknownError)
    assert isinstance(info.value, APIConnectionError)
    assert info.value.outcome_unknown is True
    assert isinstance(info.value.__cause__, error)
    assert info.value.request is not None
    assert info.value.request.method == "POST"
    assert route.call_count == 1
    assert sleeps == []


async def test_post_retried_after_a_429_still_stops_at_a_5xx(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = answers(respx_mock, status(429, {"Retry-After": "1"}), status(500), ok())

    with pytest.raises(ServerOutcomeUnknownError):
        await post(client)

    assert route.call_count == 2
    assert sleeps == [1.0]


async def test_post_retried_after_a_connect_error_still_stops_at_a_read_timeout(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = answers(respx_mock, httpx.ConnectError, httpx.ReadTimeout, ok())

    with pytest.raises(TimeoutOutcomeUnknownError):
        await post(client)

    assert route.call_count == 2
    assert len(sleeps) == 1


# --------------------------------------------------------------------------- local errors


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize("error", [httpx.LocalProtocolError, httpx.UnsupportedProtocol])
async def test_a_request_httpx_refused_to_build_is_not_retried_and_not_outcome_unknown(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    error: type[httpx.TransportError],
) -> None:
    route = answers(respx_mock, error, ok())

    with pytest.raises(APIConnectionError) as info:
        await call(client)

    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.outcome_unknown is False
    assert route.call_count == 1
    assert sleeps == []


# --------------------------------------------------------------------------- other 4xx


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 409, 422])
async def test_other_4xx_are_raised_at_once(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    code: int,
) -> None:
    route = answers(respx_mock, status(code), ok())

    with pytest.raises(APIStatusError) as info:
        await call(client)

    assert info.value.status_code == code
    assert info.value.outcome_unknown is False
    assert route.call_count == 1
    assert sleeps == []


# --------------------------------------------------------------------------- max_retries


@pytest.mark.parametrize("call", METHODS)
async def test_exhausted_429s_raise_rate_limit_error_with_retry_after(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], call: Call
) -> None:
    route = respx_mock.route().mock(return_value=status(429, {"Retry-After": "2"}))

    with pytest.raises(RateLimitError) as info:
        await call(client)

    assert info.value.retry_after == 2.0
    assert info.value.outcome_unknown is False
    assert "after 3 attempts" in str(info.value)
    assert route.call_count == 3  # max_retries=2 by default
    assert sleeps == [2.0, 2.0]


@pytest.mark.parametrize("call", METHODS)
async def test_exhausted_connect_errors_raise_api_connection_error(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float], call: Call
) -> None:
    route = respx_mock.route().mock(side_effect=httpx.ConnectError)

    with pytest.raises(APIConnectionError) as info:
        await call(client)

    assert type(info.value) is CannotConnectError  # an APIConnectionError: the API was not reached
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.outcome_unknown is False
    assert "after 3 attempts" in str(info.value)
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert_backoff(sleeps[0], 1)
    assert_backoff(sleeps[1], 2)


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize("error", [httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_exhausted_connect_timeouts_raise_api_timeout_error(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    error: type[httpx.TransportError],
) -> None:
    route = respx_mock.route().mock(side_effect=error)

    with pytest.raises(APITimeoutError) as info:
        await call(client)

    expected = ConnectTimeoutError if error is httpx.ConnectTimeout else APITimeoutError
    assert type(info.value) is expected
    assert isinstance(info.value, CannotConnectError) is (error is httpx.ConnectTimeout)
    assert info.value.outcome_unknown is False
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        (status(503), InternalServerError),
        (status(408), RequestTimeoutError),
        (httpx.ReadTimeout, APITimeoutError),
        (httpx.RemoteProtocolError, APIConnectionError),
    ],
)
async def test_exhausted_get_retries_raise_the_ordinary_error(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    effect: Any,
    expected: type[Exception],
) -> None:
    if isinstance(effect, httpx.Response):
        route = respx_mock.route().mock(return_value=effect)
    else:
        route = respx_mock.route().mock(side_effect=effect)

    with pytest.raises(expected) as info:
        await get(client)

    assert type(info.value) is expected
    assert not isinstance(info.value, OutcomeUnknownError)
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("call", METHODS)
@pytest.mark.parametrize(
    "effect", [pytest.param(status(503), id="503"), pytest.param(httpx.ConnectError, id="refused")]
)
async def test_max_retries_zero_makes_one_attempt(
    make_client: Callable[..., PhloClient],
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    call: Call,
    effect: Any,
) -> None:
    client = make_client(max_retries=0)
    route = answers(respx_mock, effect, ok())

    with pytest.raises(APIConnectionError if effect is httpx.ConnectError else APIStatusError):
        await call(client)

    assert route.call_count == 1
    assert sleeps == []


async def test_max_retries_sets_the_number_of_attempts(
    make_client: Callable[..., PhloClient], respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    client = make_client(max_retries=5)
    route = respx_mock.route().mock(return_value=status(429))

    with pytest.raises(RateLimitError) as info:
        await post(client)

    assert route.call_count == 6
    assert info.value.retry_after is None
    assert len(sleeps) == 5
    for retry_number, delay in enumerate(sleeps, start=1):
        assert_backoff(delay, retry_number)


@pytest.mark.parametrize(("max_retries", "attempts"), [(0, 1), (1, 2), (4, 5)])
async def test_with_options_changes_max_retries(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    max_retries: int,
    attempts: int,
) -> None:
    route = respx_mock.route().mock(return_value=status(503))

    with pytest.raises(InternalServerError):
        await get(client.with_options(max_retries=max_retries))

    assert route.call_count == attempts
    assert client.max_retries == 2  # the original keeps its own


async def test_retries_do_not_leak_into_the_next_call(
    client: PhloClient, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = answers(respx_mock, status(503), status(503), ok(), status(503), status(503), ok())

    await get(client)
    await get(client)

    assert route.call_count == 6


# --------------------------------------------------------------------------- the policy itself


@pytest.mark.parametrize("retry_number", [1, 2, 3, 4, 5, 6, 10])
def test_backoff_stays_within_its_jitter_bounds(retry_number: int) -> None:
    policy = RetryPolicy()

    delays = [policy.backoff(retry_number) for _ in range(200)]

    for delay in delays:
        assert_backoff(delay, retry_number)
    assert len(set(delays)) > 1  # jittered, not fixed


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 +0100", 0.0),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)

    assert parse_retry_after(value, now=now) == seconds


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(0.0, 0.0), (12.0, 12.0), (60.0, 60.0), (61.0, 60.0)]
)
def test_rate_limit_delay_honours_retry_after_up_to_60_seconds(
    retry_after: float, delay: float
) -> None:
    assert RetryPolicy().rate_limit_delay(retry_after, 1) == delay
