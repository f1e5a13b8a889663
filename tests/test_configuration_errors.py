"""A client that cannot work is refused at ``PhloClient()`` with a ConfigurationError
naming the argument or the environment variable, chained to the cause: never a
raw TypeError, ValueError, ImportError or OSError, and never a token or a proxy
password in the message.

Covered: the type and content of every argument, credentials that are not text
(a byte that is not UTF-8 in the environment), proxies from the environment that
httpx would fail on (now or at every request), and CA certificates that do not
load. A later event loop whose httpx client meets a broken environment is typed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _descriptors import no_free_descriptor

from plivo_phlo_async import CannotConnectError, ConfigurationError, PhloClient, PlivoError

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "tok-Zq9-never-print-me-7Hk2"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
BASE_URL = "https://phlo.example.com/v1"


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy, credentials or base URLs from the machine; socksio not installed."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in ("PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "PLIVO_PHLO_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "socksio", None)  # find_spec: None; import: ImportError


def refused(**options: Any) -> ConfigurationError:
    """The ConfigurationError that building a client with ``options`` raises."""
    options.setdefault("auth_id", AUTH_ID)
    options.setdefault("auth_token", AUTH_TOKEN)
    with pytest.raises(ConfigurationError) as caught:
        PhloClient(**options)
    assert AUTH_TOKEN not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"auth_id": 5}, "auth_id"),
        ({"auth_id": b"MAXXXXXXXXXXXXXXXXXX"}, "auth_id"),
        ({"auth_token": 5}, "auth_token"),
        ({"auth_token": AUTH_TOKEN.encode()}, "auth_token"),
        ({"auth_id": "MA:XXXXXXXXXXXXXXXXX"}, "auth_id"),
        ({"auth_id": "MA\udcffXXXXXXXXXXXXXXXX"}, "auth_id"),
        ({"auth_token": AUTH_TOKEN + "\udcff"}, "auth_token"),
        ({"proxy": 3128}, "proxy"),
        ({"proxy": "not a url"}, "proxy"),
        ({"proxy": "ftp://proxy.example.com:21"}, "proxy"),
        ({"proxy": "http://[::1"}, "proxy"),
        ({"proxy": "http://:3128"}, "proxy"),
        ({"proxy": "http://proxy.example.com:99999"}, "proxy"),
        ({"proxy": "socks5://proxy.example.com:1080"}, "proxy"),
        ({"proxy": httpx.Proxy("socks5h://proxy.example.com:1080")}, "proxy"),
        ({"max_connections": "3"}, "max_connections"),
        ({"timeout": object()}, "timeout"),
        ({"attempt_deadline": "5"}, "attempt_deadline"),
        ({"max_retries": "2"}, "max_retries"),
        ({"base_url": 5}, "base_url"),
        ({"base_url": "https://phlo.example.com:99999/v1"}, "base_url"),
        ({"voice_base_url": "http://127.0.0.1:0/v1"}, "voice_base_url"),
        ({"http_client": object()}, "http_client"),
        ({"insecure_http_hosts": 5}, "insecure_http_hosts"),
        ({"rate_limit": 300}, "rate_limit"),
        ({"default_headers": [("X-A", "b")]}, "default_headers"),
    ],
    ids=lambda value: repr(value)[:60],
)
def test_a_bad_argument_is_named(options: dict[str, Any], field: str) -> None:
    assert refused(**options).field == field


@pytest.mark.parametrize(
    ("variable", "field"), [("PLIVO_AUTH_ID", "auth_id"), ("PLIVO_AUTH_TOKEN", "auth_token")]
)
def test_a_credential_with_a_byte_that_is_not_utf8_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", AUTH_ID)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv(variable, os.fsdecode(os.environ[variable].encode() + b"\xff"))

    error = refused(auth_id=None, auth_token=None)

    assert error.field == field
    assert variable in str(error)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALL_PROXY", "socks5://127.0.0.1:1080"),
        ("HTTPS_PROXY", "ftp://user:pr0xy-s3cret@proxy.example.com"),
        ("https_proxy", "http://["),
        ("HTTP_PROXY", "not a url"),
        ("all_proxy", "http://proxy.example.com:99999"),
        ("HTTPS_PROXY", "http://:3128"),
    ],
)
def test_a_broken_proxy_in_the_environment_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    error = refused()

    assert error.field == variable
    assert "pr0xy-s3cret" not in str(error)


@pytest.mark.parametrize("unused_by", ["NO_PROXY=*", "http_client"])
async def test_a_proxy_in_the_environment_that_httpx_does_not_use_is_not_checked(
    monkeypatch: pytest.MonkeyPatch, unused_by: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "ftp://proxy.example.com")
    options: dict[str, Any] = {}
    if unused_by == "NO_PROXY=*":
        monkeypatch.setenv("NO_PROXY", "*")
    async with contextlib.AsyncExitStack() as stack:
        if unused_by == "http_client":
            options["http_client"] = await stack.enter_async_context(
                httpx.AsyncClient(trust_env=False)
            )
        client = PhloClient(AUTH_ID, AUTH_TOKEN, **options)
        await client.aclose()
        assert client.is_closed


@pytest.fixture
def not_a_certificate(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("not a certificate\n")
    return path


@pytest.mark.parametrize(
    ("variable", "value", "cause"),
    [
        ("SSL_CERT_FILE", "{tmp}/missing.pem", FileNotFoundError),
        ("SSL_CERT_FILE", "{tmp}", IsADirectoryError),
        ("SSL_CERT_FILE", "{tmp}/ca.pem", OSError),  # ssl.SSLError: no certificate found
        ("SSL_CERT_DIR", "{tmp}/missing", None),  # OpenSSL would fail every handshake
    ],
)
def test_ca_certificates_that_do_not_load_name_their_variable(
    monkeypatch: pytest.MonkeyPatch,
    not_a_certificate: Path,
    variable: str,
    value: str,
    cause: type[BaseException] | None,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv(variable, value.format(tmp=not_a_certificate.parent))

    error = refused()

    assert error.field == variable
    assert variable in str(error)
    if cause is not None:
        assert isinstance(error.__cause__, cause)


def second_loop_error(
    client: PhloClient, broken: contextlib.AbstractContextManager[object]
) -> PlivoError:
    """What a GET raises in a second event loop while ``broken`` holds.

    Each loop gets an httpx client of its own, built (and loading the CA
    certificates) when it first sends; httpx is used because respx mocks it.
    """
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE_URL}/phlo/p1").respond(200, json={"phlo_id": "p1"})
        asyncio.run(client.phlo("p1").get())  # the first loop: the client built at construction
        loop = asyncio.new_event_loop()
        try:
            with broken, pytest.raises(PlivoError) as caught:
                loop.run_until_complete(client.phlo("p1").get())
        finally:
            loop.run_until_complete(client.aclose())
            loop.close()
    assert route.call_count == 1
    return caught.value


@contextlib.contextmanager
def certificates_gone(path: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(path))
        yield


def test_a_later_loop_meeting_certificates_gone_gets_a_configuration_error(
    tmp_path: Path,
) -> None:
    client = PhloClient(AUTH_ID, AUTH_TOKEN, base_url=BASE_URL)

    error = second_loop_error(client, certificates_gone(tmp_path / "gone.pem"))

    assert isinstance(error, ConfigurationError)
    assert error.field == "SSL_CERT_FILE"


def test_a_later_loop_with_no_free_descriptor_gets_a_retried_connect_error(
    sleeps: list[float],
) -> None:
    client = PhloClient(AUTH_ID, AUTH_TOKEN, base_url=BASE_URL)

    error = second_loop_error(client, no_free_descriptor())

    assert isinstance(error, CannotConnectError)
    assert not error.outcome_unknown
    assert len(sleeps) == 2  # max_retries=2: retried, never sent
