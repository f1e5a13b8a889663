"""verify_signature_v2 / sign_v2: the official SDKs' V2 vectors, what is signed, bad input.

The vectors are those of plivo-go (utils_test.go, TestValidateSignatureV2Pass)
and plivo-java (src/test/java/com/plivo/api/UtilsTest.java).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from plivo_phlo_async import InvalidParameterError
from plivo_phlo_async.webhooks import sign_v2, verify_signature_v2

VECTORS = [
    ("https://answer.url", "12345", "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc="),
    ("https://answer.url/", "12345", "do1CXv+k99A6+B+eTcyqbxWlezFIxJ/1vz72787r37g="),
    ("https://answer.url:8000", "12345", "Gm7Z7AGBmf5JpSHrtUmeofrGyA4xV0ZiV0rH8JPXWGU="),
]
TOKEN = "my_auth_token"


def _hmac(text: str) -> str:
    return base64.b64encode(hmac.new(b"tok", text.encode(), hashlib.sha256).digest()).decode()


def _verify(**arguments: Any) -> bool:
    call: dict[str, Any] = {
        "url": "https://h.io/a",
        "nonce": "n",
        "signature": _hmac("https://h.io/an"),
        "auth_token": "tok",
        **arguments,
    }
    return verify_signature_v2(**call)


@pytest.mark.parametrize(("url", "nonce", "signature"), VECTORS)
def test_official_vectors_verify(url: str, nonce: str, signature: str) -> None:
    assert verify_signature_v2(url=url, nonce=nonce, signature=signature, auth_token=TOKEN)


@pytest.mark.parametrize(("url", "nonce", "signature"), VECTORS)
def test_sign_v2_reproduces_official_vectors(url: str, nonce: str, signature: str) -> None:
    assert sign_v2(url=url, nonce=nonce, auth_token=TOKEN) == signature


@pytest.mark.parametrize(("url", "nonce", "signature"), VECTORS)
def test_official_vectors_fail_with_another_token(url: str, nonce: str, signature: str) -> None:
    assert not verify_signature_v2(
        url=url, nonce=nonce, signature=signature, auth_token=TOKEN + "s"
    )


def test_the_signature_is_hmac_sha256_of_scheme_host_path_then_nonce() -> None:
    assert _verify()


def test_query_fragment_and_path_parameters_are_not_signed() -> None:
    assert _verify(url="https://h.io/a;p?CallStatus=completed#frag")


@pytest.mark.parametrize(
    "arguments",
    [
        {"url": "https://h.io/b"},
        {"url": "http://h.io/a"},
        {"url": "https://h.io:8443/a"},
        {"nonce": "m"},
        {"auth_token": "other"},
    ],
)
def test_another_url_nonce_or_token_fails(arguments: dict[str, Any]) -> None:
    assert not _verify(**arguments)


def test_non_ascii_is_signed_as_utf8() -> None:
    assert _verify(url="https://h.io/é", nonce="ñ", signature=_hmac("https://h.io/éñ"))


def test_any_one_of_several_comma_separated_signatures_passes() -> None:
    assert _verify(signature=f"{_hmac('x')}, {_hmac('https://h.io/an')}")


@pytest.mark.parametrize(
    "arguments",
    [
        {"signature": None},
        {"signature": ""},
        {"signature": b"abc"},
        {"signature": "\udce9"},
        {"nonce": None},
        {"nonce": ""},
        {"nonce": "\udce9"},
        {"url": "/relative"},
        {"url": "https://[::1/"},
        {"url": "https://h.io/\ud800"},
        {"url": None},
    ],
)
def test_what_came_with_the_request_is_false_never_an_error(arguments: dict[str, Any]) -> None:
    assert _verify(**arguments) is False


@pytest.mark.parametrize("auth_token", ["", None, "secret-7Hk2\udce9"])
def test_a_bad_auth_token_is_a_typed_error_without_the_token(auth_token: Any) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        _verify(auth_token=auth_token)
    assert raised.value.field == "auth_token"
    assert "secret-7Hk2" not in str(raised.value)


@pytest.mark.parametrize(
    ("field", "arguments"),
    [("nonce", {"nonce": ""}), ("nonce", {"nonce": "\udce9"}), ("url", {"url": "h.io/a"})],
)
def test_sign_v2_refuses_what_it_cannot_sign(field: str, arguments: dict[str, Any]) -> None:
    call: dict[str, Any] = {"url": "https://h.io/a", "nonce": "n", "auth_token": "tok", **arguments}
    with pytest.raises(InvalidParameterError) as raised:
        sign_v2(**call)
    assert raised.value.field == field
