"""verify_signature_v3 / sign_v3: Plivo's own test vectors, the signed text, bad input.

The vectors are the V3 cases of Plivo's Go SDK (utils_test.go): one real
callback signed four ways (POST and GET, with and without a query in the URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from plivo_phlo_async import InvalidParameterError
from plivo_phlo_async.webhooks import sign_v3, signed_text_v3, verify_signature_v3

TOKEN = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
NONCE = "31627761595286130198"
URL = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml"
CALLBACK = {
    "Direction": "outbound",
    "From": "19792014278",
    "ALegUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallStatus": "in-progress",
    "BillRate": "0.002",
    "ParentAuthID": "MANWVLYTK4ZWU1YTY4QA",
    "To": "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
    "ALegRequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "RequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "SIP-H-To": "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
    "SessionStart": "2020-04-08 11:34:33.238707",
    "Event": "StartApp",
}
PLIVO_VECTORS = [
    ("POST", URL + "/?a=b&c=d", "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="),
    ("GET", URL + "/?a=b&c=d", "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ="),
    ("POST", URL, "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="),
    ("GET", URL, "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="),
]


def _hmac(text: str) -> str:
    return base64.b64encode(hmac.new(b"tok", text.encode(), hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(("method", "url", "signature"), PLIVO_VECTORS)
def test_plivo_vectors_verify(method: str, url: str, signature: str) -> None:
    assert verify_signature_v3(
        method=method,
        url=url,
        params=CALLBACK,
        nonce=NONCE,
        signature=signature,
        auth_token=TOKEN,
    )


@pytest.mark.parametrize(("method", "url", "signature"), PLIVO_VECTORS)
def test_sign_v3_reproduces_plivo_vectors(method: str, url: str, signature: str) -> None:
    assert sign_v3(method=method, url=url, params=CALLBACK, nonce=NONCE, auth_token=TOKEN) == (
        signature
    )


@pytest.mark.parametrize(("method", "url", "signature"), PLIVO_VECTORS)
def test_plivo_vectors_fail_with_another_token(method: str, url: str, signature: str) -> None:
    assert not verify_signature_v3(
        method=method,
        url=url,
        params=CALLBACK,
        nonce=NONCE,
        signature=signature,
        auth_token=TOKEN + "x",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"CallStatus": "completed"},  # a changed value
        {"Extra": "1"},  # an added parameter
    ],
)
def test_changed_parameters_fail(change: dict[str, str]) -> None:
    method, url, signature = PLIVO_VECTORS[0]
    assert not verify_signature_v3(
        method=method,
        url=url,
        params={**CALLBACK, **change},
        nonce=NONCE,
        signature=signature,
        auth_token=TOKEN,
    )


def test_changed_nonce_or_url_fails() -> None:
    method, url, signature = PLIVO_VECTORS[0]
    common: dict[str, Any] = {
        "method": method,
        "params": CALLBACK,
        "signature": signature,
        "auth_token": TOKEN,
    }
    assert not verify_signature_v3(url=url, nonce=NONCE + "1", **common)
    assert not verify_signature_v3(url=url.replace("a=b", "a=c"), nonce=NONCE, **common)
    assert not verify_signature_v3(url=url.replace("https", "http"), nonce=NONCE, **common)


# -- the signed text, rule by rule ---------------------------------------------


def test_get_signs_params_and_query_sorted_as_key_value_pairs() -> None:
    text = signed_text_v3(method="GET", url="https://h.io/a?z=1&b=2", params={"c": "3"})
    assert text == "https://h.io/a?b=2&c=3&z=1"


def test_get_query_wins_over_params_on_a_shared_key() -> None:
    text = signed_text_v3(method="GET", url="https://h.io/a?k=url", params={"k": "param"})
    assert text == "https://h.io/a?k=url"


def test_get_without_parameters_signs_the_bare_url() -> None:
    assert signed_text_v3(method="GET", url="https://h.io/a", params={}) == "https://h.io/a"


def test_post_signs_sorted_query_a_dot_then_params_concatenated() -> None:
    text = signed_text_v3(method="POST", url="https://h.io/a?z=1&b=2", params={"y": "9", "x": "8"})
    assert text == "https://h.io/a?b=2&z=1.x8y9"


def test_post_without_query_has_a_question_mark_and_no_dot() -> None:
    assert signed_text_v3(method="POST", url="https://h.io/a", params={"x": "8"}) == (
        "https://h.io/a?x8"
    )


def test_post_without_params_signs_like_get() -> None:
    url = "https://h.io/a?b=2"
    assert signed_text_v3(method="POST", url=url, params=None) == "https://h.io/a?b=2"
    assert signed_text_v3(method="POST", url="https://h.io/a", params={}) == "https://h.io/a"


def test_list_values_give_one_entry_per_sorted_item() -> None:
    params = {"k": ["b", "a"], "j": "1"}
    assert signed_text_v3(method="POST", url="https://h.io/", params=params) == (
        "https://h.io/?j1kakb"
    )
    assert signed_text_v3(method="GET", url="https://h.io/", params=params) == (
        "https://h.io/?j=1&k=a&k=b"
    )


def test_repeated_query_keys_are_sorted_items() -> None:
    assert signed_text_v3(method="GET", url="https://h.io/?k=2&k=1", params=None) == (
        "https://h.io/?k=1&k=2"
    )


def test_fragment_and_path_parameters_are_not_signed() -> None:
    assert signed_text_v3(method="GET", url="https://h.io/a;p#frag", params=None) == (
        "https://h.io/a"
    )


def test_numbers_are_signed_as_python_writes_them() -> None:
    assert signed_text_v3(method="POST", url="https://h.io/", params={"n": 5, "f": 1.5}) == (
        "https://h.io/?f1.5n5"
    )


def test_non_ascii_parameters_are_signed_as_utf8() -> None:
    assert sign_v3(
        method="POST", url="https://h.io/", params={"Name": "café"}, nonce="n", auth_token="tok"
    ) == _hmac("https://h.io/?Namecafé.n")


def test_a_non_ascii_nonce_is_double_encoded_like_the_official_package() -> None:
    assert sign_v3(
        method="POST", url="https://h.io/", params={}, nonce="é", auth_token="tok"
    ) == _hmac("https://h.io/." + "é".encode().decode("latin-1"))


def test_a_percent_encoded_query_is_decoded_once_as_utf8() -> None:
    # Issue 18's example: plivo-go, plivo-java and plivo-node sign "k=é" (see test_peer_parity).
    text = signed_text_v3(method="POST", url="https://example.com/x?k=%C3%A9", params={"a": "1"})
    assert text == "https://example.com/x?k=é.a1"


def test_an_invalid_utf8_sequence_in_the_query_is_the_replacement_character() -> None:
    text = signed_text_v3(method="GET", url="https://h.io/?m=%90&n=caf%C3", params=None)
    assert text == "https://h.io/?m=\ufffd&n=caf\ufffd"


def test_raw_non_ascii_in_the_query_is_signed_as_it_is() -> None:
    assert signed_text_v3(method="GET", url="https://h.io/?k=é", params=None) == (
        "https://h.io/?k=é"
    )


def test_the_signature_is_hmac_sha256_of_text_dot_nonce() -> None:
    assert sign_v3(
        method="POST", url="https://h.io/a", params={"x": "1"}, nonce="n1", auth_token="tok"
    ) == _hmac("https://h.io/a?x1.n1")


def test_method_in_any_case() -> None:
    signature = sign_v3(
        method="GET", url="https://h.io/?a=1", params=None, nonce="n", auth_token="tok"
    )
    assert verify_signature_v3(
        method="get",
        url="https://h.io/?a=1",
        params=None,
        nonce="n",
        signature=signature,
        auth_token="tok",
    )


def test_params_are_not_modified() -> None:
    params = {"a": "1"}
    signed_text_v3(method="GET", url="https://h.io/?b=2", params=params)
    assert params == {"a": "1"}


# -- several signatures in the header ------------------------------------------


def _good() -> str:
    return sign_v3(
        method="POST", url="https://h.io/", params={"a": "1"}, nonce="n", auth_token="tok"
    )


@pytest.mark.parametrize(
    "header",
    [
        "{good}",
        "{good},{other}",
        "{other},{good}",
        "{other}, {good}",
    ],
)
def test_any_one_of_several_signatures_passes(header: str) -> None:
    other = _hmac("something else")
    assert verify_signature_v3(
        method="POST",
        url="https://h.io/",
        params={"a": "1"},
        nonce="n",
        signature=header.format(good=_good(), other=other),
        auth_token="tok",
    )


@pytest.mark.parametrize(
    "header",
    ["", ",", "{other}", "{other},{other}", "{good}x", "x{good}", "{good};", "é{good}", "\x00"],
)
def test_headers_without_a_matching_signature_fail(header: str) -> None:
    assert not verify_signature_v3(
        method="POST",
        url="https://h.io/",
        params={"a": "1"},
        nonce="n",
        signature=header.format(good=_good(), other=_hmac("x")),
        auth_token="tok",
    )


# -- bad input: False for what came with the request, a typed error for the caller's token --


@pytest.mark.parametrize("signature", [None, "", 5, b"abc"])
def test_missing_or_mistyped_signature_is_false(signature: Any) -> None:
    assert (
        verify_signature_v3(
            method="POST",
            url="https://h.io/",
            params={},
            nonce="n",
            signature=signature,
            auth_token="tok",
        )
        is False
    )


@pytest.mark.parametrize("nonce", [None, "", 5])
def test_missing_or_mistyped_nonce_is_false(nonce: Any) -> None:
    assert (
        verify_signature_v3(
            method="POST",
            url="https://h.io/",
            params={},
            nonce=nonce,
            signature=_good(),
            auth_token="tok",
        )
        is False
    )


UNSIGNABLE = [
    ("method", {"method": "PUT"}),
    ("method", {"method": None}),
    ("url", {"url": "/relative/path"}),
    ("url", {"url": "ftp://h.io/"}),
    ("url", {"url": None}),
    ("url", {"url": "https://[::1/"}),
    ("url", {"url": "https://h.io/\udce9"}),
    ("params", {"params": [("a", "1")]}),
    ("params", {"params": {1: "a"}}),
    ("params", {"params": {"\ud800": "a"}}),
    ("params['a']", {"params": {"a": None}}),
    ("params['a']", {"params": {"a": {"nested": "x"}}}),
    ("params['a']", {"params": {"a": ["1", None]}}),
    ("params['a']", {"params": {"a": "\udce9"}}),
]


@pytest.mark.parametrize(("field", "arguments"), UNSIGNABLE)
def test_what_cannot_be_signed_is_a_typed_error_when_signing(
    field: str, arguments: dict[str, Any]
) -> None:
    call: dict[str, Any] = {"method": "POST", "url": "https://h.io/", "params": {}, **arguments}
    with pytest.raises(InvalidParameterError) as raised:
        signed_text_v3(**call)
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(("field", "arguments"), UNSIGNABLE)
def test_what_cannot_be_signed_is_false_when_verifying(
    field: str, arguments: dict[str, Any]
) -> None:
    call: dict[str, Any] = {
        "method": "POST",
        "url": "https://h.io/",
        "params": {},
        "nonce": "n",
        "signature": "s",
        "auth_token": "tok",
        **arguments,
    }
    assert verify_signature_v3(**call) is False


@pytest.mark.parametrize("nonce", ["\udce9", "1\ud800"])
def test_a_nonce_utf8_cannot_encode_is_false(nonce: str) -> None:
    assert (
        verify_signature_v3(
            method="POST",
            url="https://h.io/",
            params={"a": "1"},
            nonce=nonce,
            signature=_good(),
            auth_token="tok",
        )
        is False
    )


@pytest.mark.parametrize("header", ["\udce9", _hmac("x") + ",\ud800"])
def test_a_signature_utf8_cannot_encode_is_false(header: str) -> None:
    assert (
        verify_signature_v3(
            method="POST",
            url="https://h.io/",
            params={"a": "1"},
            nonce="n",
            signature=header,
            auth_token="tok",
        )
        is False
    )


@pytest.mark.parametrize("auth_token", ["", None, b"tok", "tok\udce9"])
def test_a_bad_auth_token_is_a_typed_error(auth_token: Any) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        verify_signature_v3(
            method="POST",
            url="https://h.io/",
            params={},
            nonce="n",
            signature="s",
            auth_token=auth_token,
        )
    assert raised.value.field == "auth_token"


def test_the_token_never_appears_in_an_error() -> None:
    with pytest.raises(InvalidParameterError) as raised:
        sign_v3(
            method="PUT",
            url="https://h.io/",
            params={},
            nonce="n",
            auth_token="tok-secret-123",
        )
    with pytest.raises(InvalidParameterError) as bad_token:
        verify_signature_v3(
            method="POST",
            url="https://h.io/",
            params={},
            nonce="n",
            signature="s",
            auth_token="tok-secret-123\udce9",
        )
    for error in (raised.value, bad_token.value):
        assert "tok-secret-123" not in str(error)
        assert "tok-secret-123" not in repr(error)


def test_sign_v3_refuses_an_empty_nonce() -> None:
    with pytest.raises(InvalidParameterError) as raised:
        sign_v3(method="POST", url="https://h.io/", params={}, nonce="", auth_token="tok")
    assert raised.value.field == "nonce"
