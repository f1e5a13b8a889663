"""Every failure is a typed SDK error, and a timeout that would never expire is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _servers import AUTH_ID, AUTH_TOKEN, Server

from plivo_phlo_async import (
    APIConnectionError,
    ConfigurationError,
    InvalidParameterError,
    PhloClient,
    PlivoError,
)

LONG_LABEL = "a" * 64  # DNS labels are at most 63 characters (IDNA encoding fails)

BAD_TIMEOUTS: list[Any] = [
    float("nan"),
    float("inf"),
    -1,
    0,
    "5",
    httpx.Timeout(5.0, read=float("nan")),
    httpx.Timeout(5.0, connect=-1.0),
]
BAD_IDS = ["nan", "inf", "minus-one", "zero", "string", "httpx-read-nan", "httpx-connect-negative"]


async def build_and_use(which: str, url: str) -> None:
    """Build a client with ``url`` as ``which``, then send a POST to that origin."""
    client = PhloClient(AUTH_ID, AUTH_TOKEN, max_retries=0, **{which: url})
    async with client:
        if which == "base_url":
            await client.phlo("p1").run()
        else:
            await client.calls.create("+14155550100", "+14155550111", "https://e.com/a.xml")


@pytest.mark.parametrize("which", ["base_url", "voice_base_url"])
async def test_a_64_character_dns_label_is_a_typed_error(which: str) -> None:
    url = f"https://{LONG_LABEL}.example.com/v1"
    with pytest.raises(PlivoError) as caught:  # never a raw UnicodeError
        await build_and_use(which, url)
    error = caught.value
    assert isinstance(error, ConfigurationError | APIConnectionError), repr(error)
    assert not error.outcome_unknown  # nothing can have been sent


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=BAD_IDS)
async def test_a_bad_per_call_timeout_is_invalid_and_nothing_is_sent(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    timeout: Any,
) -> None:
    server = serve()
    client = connect(server)
    mpc = client.phlo("p1").multi_party_call("n1")
    for call in (
        lambda: client.phlo("p1").get(timeout=timeout),
        lambda: mpc.call("+14155550100", "+14155550111", timeout=timeout),
        lambda: client.calls.create(
            "+14155550100", "+14155550111", "https://e.com/a.xml", timeout=timeout
        ),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            await call()
        assert caught.value.field == "timeout"
    assert server.received == []
    assert server.connections == 0


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=BAD_IDS)
def test_a_bad_timeout_in_the_constructor_is_a_configuration_error(timeout: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PhloClient(AUTH_ID, AUTH_TOKEN, timeout=timeout)
    assert caught.value.field == "timeout"


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=BAD_IDS)
def test_a_bad_timeout_in_with_options_is_refused(timeout: Any) -> None:
    client = PhloClient(AUTH_ID, AUTH_TOKEN)
    with pytest.raises(PlivoError) as caught:
        client.with_options(timeout=timeout)
    assert isinstance(caught.value, ConfigurationError | InvalidParameterError)
    assert caught.value.field == "timeout"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "deadline", [float("nan"), -1, 0, "5"], ids=["nan", "minus-one", "zero", "string"]
)
def test_a_bad_attempt_deadline_is_a_configuration_error(deadline: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PhloClient(AUTH_ID, AUTH_TOKEN, attempt_deadline=deadline)
    assert caught.value.field == "attempt_deadline"
