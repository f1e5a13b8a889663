"""Base URLs come from PLIVO_PHLO_BASE_URL and PLIVO_API_BASE_URL when not given."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from plivo_phlo_async import (
    DEFAULT_BASE_URL,
    DEFAULT_VOICE_BASE_URL,
    ConfigurationError,
    PhloClient,
)

PHLO_ENV = "PLIVO_PHLO_BASE_URL"
VOICE_ENV = "PLIVO_API_BASE_URL"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PHLO_ENV, raising=False)
    monkeypatch.delenv(VOICE_ENV, raising=False)


def test_without_arguments_or_environment_the_defaults_are_plivos(
    make_client: Callable[..., PhloClient],
) -> None:
    client = make_client()
    assert (client.base_url, client.voice_base_url) == (DEFAULT_BASE_URL, DEFAULT_VOICE_BASE_URL)


def test_the_environment_sets_both_base_urls(
    make_client: Callable[..., PhloClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PHLO_ENV, "https://phlo.example.test/v1/")
    monkeypatch.setenv(VOICE_ENV, "https://voice.example.test/v1")
    client = make_client()
    assert client.base_url == "https://phlo.example.test/v1"
    assert client.voice_base_url == "https://voice.example.test/v1"


def test_arguments_win_over_the_environment(
    make_client: Callable[..., PhloClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PHLO_ENV, "https://phlo.example.test/v1")
    client = make_client(base_url="https://other.example.test/v1")
    assert client.base_url == "https://other.example.test/v1"


def test_an_empty_variable_means_the_default(
    make_client: Callable[..., PhloClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PHLO_ENV, "")
    assert make_client().base_url == DEFAULT_BASE_URL


def test_a_bad_url_in_the_environment_is_a_configuration_error(
    make_client: Callable[..., PhloClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VOICE_ENV, "http://voice.example.test/v1")  # plain http, not loopback
    with pytest.raises(ConfigurationError) as raised:
        make_client()
    assert raised.value.field == "voice_base_url"


@respx.mock
async def test_requests_go_where_the_environment_says(
    make_client: Callable[..., PhloClient], monkeypatch: pytest.MonkeyPatch, auth_id: str
) -> None:
    monkeypatch.setenv(VOICE_ENV, "https://voice.example.test/v1")
    route = respx.post(f"https://voice.example.test/v1/Account/{auth_id}/Call/").mock(
        return_value=httpx.Response(
            201, json={"api_id": "a1", "message": "call fired", "request_uuid": "r1"}
        )
    )
    client = make_client()
    await client.calls.create(
        from_="+14155550100", to="+14155550111", answer_url="https://example.test/answer"
    )
    assert route.call_count == 1
