"""Plain http is refused except for loopback, or for a host the caller names
explicitly (the emulator as a service on another host), with a warning."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import respx

from plivo_phlo_async import ConfigurationError, PhloClient

PHLO_ID = "00000000-0000-4000-8000-00000000a001"
ENV = "PLIVO_PHLO_INSECURE_HTTP_HOSTS"


@pytest.fixture(autouse=True)
def no_insecure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def test_plain_http_to_another_host_is_refused_by_default(
    make_client: Callable[..., PhloClient],
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_client(base_url="http://emulator:8765/v1")
    assert raised.value.field == "base_url"
    assert "insecure_http_hosts" in str(raised.value)
    assert ENV in str(raised.value)


def test_a_named_host_is_allowed_with_a_warning(
    make_client: Callable[..., PhloClient], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="plivo_phlo_async"):
        client = make_client(
            base_url="http://emulator:8765/v1",
            voice_base_url="http://Emulator:8765/v1",
            insecure_http_hosts=["emulator"],
        )
    assert client.base_url == "http://emulator:8765/v1"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per base URL
    assert all("plain http to emulator" in w and "unencrypted" in w for w in warnings)


def test_the_environment_names_hosts_too(
    make_client: Callable[..., PhloClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "other, emulator")
    client = make_client(base_url="http://emulator:8765/v1", voice_base_url="http://other/v1")
    assert client.voice_base_url == "http://other/v1"


def test_naming_one_host_does_not_allow_another(
    make_client: Callable[..., PhloClient],
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_client(base_url="http://emulator.evil:8765/v1", insecure_http_hosts="emulator")
    assert raised.value.field == "base_url"


def test_https_is_unaffected_and_needs_no_opt_in(make_client: Callable[..., PhloClient]) -> None:
    client = make_client(base_url="https://emulator:8765/v1")
    assert client.base_url == "https://emulator:8765/v1"


@pytest.mark.parametrize("bad", [42, ["emulator", 7], ["bad host/x"], [b"emulator"]])
def test_bad_host_lists_are_configuration_errors(
    make_client: Callable[..., PhloClient], bad: object
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_client(insecure_http_hosts=bad)
    assert raised.value.field == "insecure_http_hosts"


@respx.mock
async def test_requests_go_to_the_named_host_over_plain_http(
    make_client: Callable[..., PhloClient],
) -> None:
    route = respx.get(f"http://emulator:8765/v1/phlo/{PHLO_ID}").mock(
        return_value=httpx.Response(200, json={"phlo_id": PHLO_ID, "name": "p", "api_id": "a"})
    )
    client = make_client(base_url="http://emulator:8765/v1", insecure_http_hosts="emulator")
    phlo = await client.phlo(PHLO_ID).get()
    assert phlo.phlo_id == PHLO_ID
    assert route.call_count == 1
