"""Whatever comes with a request, verification answers: a bool, or 403 from the ASGI helpers.

Behind aiohttp or any server, an exception from the check is a 500 (and a
log of an attacker's choosing) where a forged request should get 403. So
every request-derived argument of every public verification function gets
arbitrary text or bytes here: lone surrogates, undecodable bytes, broken
percent escapes, URLs that do not parse (``https://[::1/``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plivo_phlo_async import InvalidParameterError
from plivo_phlo_async.webhooks import (
    NONCE_HEADER,
    NONCE_V2_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    sign_v3,
    verify_signature_v2,
    verify_signature_v3,
)

TOKEN = "tok-never-raise"
# What breaks parsers and encoders, mixed into otherwise arbitrary text (surrogates included).
HOSTILE = [
    "\udce9", "\ud800", "\udfff", "%", "%C3", "%E9", "%zz", "%C3%A9", "é", "\ufffd", "[", "]",
    "::1", "@", ":", "/", "?", "#", ";", "&", "=", "+", ",", " ", "\x00", "\r\n", "\uff03",
    "\u2100", "\uff48\uff54\uff54\uff50\uff53", "https://", "http://h.io/",
]  # fmt: skip
_pieces = st.one_of(st.characters(exclude_categories=()), st.sampled_from(HOSTILE))
_text = st.lists(_pieces, max_size=12).map("".join)
_anything = st.one_of(_text, st.binary(max_size=24))
_urls = st.one_of(
    _anything,
    st.builds("".join, st.tuples(st.sampled_from(["https://", "http://h.io", "https://["]), _text)),
)
_methods = st.one_of(st.sampled_from(["GET", "POST", "get"]), _anything)
_params = st.one_of(
    st.dictionaries(_anything, st.one_of(_anything, st.lists(_anything, max_size=3)), max_size=4),
    st.none(),
)
_signatures = st.one_of(_anything, st.builds(lambda junk: f"{_good()},{junk}", _text), st.none())


def _good() -> str:
    return sign_v3(method="POST", url="https://h.io/", params={}, nonce="1", auth_token=TOKEN)


@settings(max_examples=600, deadline=None)
@given(method=_methods, url=_urls, params=_params, nonce=_anything, signature=_signatures)
def test_verify_signature_v3_always_answers_a_bool(
    method: Any, url: Any, params: Any, nonce: Any, signature: Any
) -> None:
    result = verify_signature_v3(
        method=method,
        url=url,
        params=params,
        nonce=nonce,
        signature=signature,
        auth_token=TOKEN,
    )
    assert isinstance(result, bool)


@settings(max_examples=300, deadline=None)
@given(url=_urls, nonce=_anything, signature=_signatures)
def test_verify_signature_v2_always_answers_a_bool(url: Any, nonce: Any, signature: Any) -> None:
    result = verify_signature_v2(url=url, nonce=nonce, signature=signature, auth_token=TOKEN)
    assert isinstance(result, bool)


# -- the ASGI helpers: any request is answered (its parameters or 403), never an exception --

starlette = pytest.importorskip("starlette")

from starlette.exceptions import HTTPException  # noqa: E402
from starlette.requests import Request  # noqa: E402

from plivo_phlo_async.webhooks import PlivoWebhook  # noqa: E402

_header_names = st.sampled_from(
    [
        b"host",
        b"content-type",
        SIGNATURE_HEADER.lower().encode(),
        NONCE_HEADER.lower().encode(),
        SIGNATURE_V2_HEADER.lower().encode(),
        NONCE_V2_HEADER.lower().encode(),
    ]
)
_bytes = st.one_of(st.binary(max_size=24), _text.map(lambda t: t.encode("utf-8", "surrogatepass")))


@st.composite
def _scopes(draw: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": draw(st.one_of(st.sampled_from(["GET", "POST"]), _text)),
        "scheme": draw(st.sampled_from(["http", "https"])),
        "server": ("127.0.0.1", 8000),
        "path": "/" + draw(_text),
        "raw_path": b"/" + draw(_bytes),
        "query_string": draw(_bytes),
        "root_path": "",
        "headers": draw(st.lists(st.tuples(_header_names, _bytes), max_size=6)),
    }


def _answer(webhook: PlivoWebhook, scope: dict[str, Any], body: bytes) -> object:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def call() -> object:
        try:
            return await webhook(Request(scope, receive))
        except HTTPException as refused:
            return refused.status_code

    return asyncio.run(call())


@settings(max_examples=300, deadline=None)
@given(
    scope=_scopes(),
    body=_bytes,
    public_url=st.sampled_from([None, "https://bot.example.com"]),
    allow_v2=st.booleans(),
)
def test_plivo_webhook_answers_any_request_with_its_params_or_403(
    scope: dict[str, Any], body: bytes, public_url: str | None, allow_v2: bool
) -> None:
    webhook = PlivoWebhook(auth_token=TOKEN, public_url=public_url, allow_v2=allow_v2)
    answer = _answer(webhook, scope, body)
    assert answer == 403 or hasattr(answer, "multi_items"), answer


@pytest.mark.parametrize(
    "public_url",
    ["https://[::1", "https://[::1/", "https://h.io/\udce9", "https://h\uff03x/", b"https://h.io"],
)
def test_a_public_url_that_does_not_parse_is_a_typed_error(public_url: Any) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        PlivoWebhook(auth_token=TOKEN, public_url=public_url)
    assert raised.value.field == "public_url"


@pytest.mark.parametrize("auth_token", ["tok\udce9", b"tok"])
def test_an_auth_token_utf8_cannot_encode_is_a_typed_error(auth_token: Any) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        PlivoWebhook(auth_token=auth_token)
    assert raised.value.field == "auth_token"


@pytest.mark.parametrize("host", [b"[", b"h.io:port\xff", b"[::1"])
def test_a_host_header_that_does_not_parse_is_403(host: bytes) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "path": "/answer",
        "raw_path": b"/answer",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host), (SIGNATURE_HEADER.lower().encode(), b"x"),
                    (NONCE_HEADER.lower().encode(), b"1")],
    }  # fmt: skip
    assert _answer(PlivoWebhook(auth_token=TOKEN), scope, b"") == 403
