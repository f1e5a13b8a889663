"""Our V3 and V2 signatures against the official ``plivo`` package's, on random requests.

A test-only comparison: ``plivo`` is not a dependency. Without it installed
(``pip install plivo``) these tests are skipped, and say so.

The official code refuses a URL with non-ASCII characters (it raises), so the
generated URLs are ASCII; their query may still carry percent-encoded bytes,
and the parameters and nonces are any text. Where those bytes are not ASCII,
we decode them as UTF-8, as plivo-go, -java and -node do (test_peer_parity),
and the official Python code does not: there the two are not compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plivo_phlo_async.webhooks import sign_v2, sign_v3, verify_signature_v2, verify_signature_v3

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    official = pytest.importorskip(
        "plivo.utils.signature_v3",
        reason="the official plivo package is not installed: pip install plivo to compare",
    )
    from plivo.utils import validate_signature as official_validate_v2

_ascii_word = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~",
    min_size=1,
    max_size=8,
)
_host = st.text(alphabet="abcxyz0189", min_size=1, max_size=8)
_query_piece = st.text(alphabet="abcXYZ019-_.~+%20%C3%A9=", max_size=8)
_text = st.text(max_size=12)
_value = st.one_of(_text, st.lists(_text, max_size=3))


@st.composite
def _urls(draw: Callable[[Any], Any]) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(_host) + draw(st.sampled_from(["", ".example.com", ":8443"]))
    path = "".join("/" + draw(_ascii_word) for _ in range(draw(st.integers(0, 3))))
    path += draw(st.sampled_from(["", "/"]))
    pairs = draw(st.lists(st.tuples(_ascii_word, _query_piece), max_size=4))
    url = f"{scheme}://{host}{path}"
    if pairs:
        url += "?" + "&".join(f"{k}={v}" for k, v in pairs)
    return url


def _decoded_query_is_ascii(url: str) -> bool:
    return unquote_to_bytes(urlsplit(url).query).isascii()


def _official_signature(
    method: str, url: str, params: dict[str, Any], nonce: str, token: str
) -> str | None:
    """The official signature, or None where we deliberately differ (see the module doc)."""
    if not _decoded_query_is_ascii(url):
        return None
    # What validate_v3_signature of plivo 4.63 computes (it decodes the
    # signed text before signing it).
    if method == "GET":
        signed = official.construct_get_url(url, dict(params)).decode("utf-8")
    else:
        signed = official.construct_post_url(url, dict(params)).decode("utf-8")
    result: bytes = official.get_signature_v3(token.encode(), signed, nonce.encode())
    return result.decode()


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST"]),
    url=_urls(),
    params=st.dictionaries(_text, _value, max_size=5),
    nonce=st.text(min_size=1, max_size=20),
    token=st.text(min_size=1, max_size=40),
)
def test_sign_v3_equals_the_official_signature(
    method: str, url: str, params: dict[str, Any], nonce: str, token: str
) -> None:
    expected = _official_signature(method, url, params, nonce, token)
    ours = sign_v3(method=method, url=url, params=params, nonce=nonce, auth_token=token)
    if expected is None:
        assert verify_signature_v3(
            method=method, url=url, params=params, nonce=nonce, signature=ours, auth_token=token
        )
        return
    assert ours == expected
    assert verify_signature_v3(
        method=method, url=url, params=params, nonce=nonce, signature=expected, auth_token=token
    )


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST"]),
    url=_urls(),
    params=st.dictionaries(_ascii_word, _ascii_word, max_size=5),
    nonce=_ascii_word,
    token=_ascii_word,
    tamper=st.sampled_from(["value", "nonce", "token", "none"]),
)
def test_verdicts_agree_with_the_official_validate(
    method: str, url: str, params: dict[str, str], nonce: str, token: str, tamper: str
) -> None:
    signature = sign_v3(method=method, url=url, params=params, nonce=nonce, auth_token=token)
    check_params, check_nonce, check_token = dict(params), nonce, token
    if tamper == "value":
        check_params["Tampered"] = "1"
    elif tamper == "nonce":
        check_nonce += "1"
    elif tamper == "token":
        check_token += "1"
    ours = verify_signature_v3(
        method=method,
        url=url,
        params=check_params,
        nonce=check_nonce,
        signature=signature,
        auth_token=check_token,
    )
    assert ours == (tamper == "none")
    if not _decoded_query_is_ascii(url):
        return  # we decode it as UTF-8; the official code does not (see the module doc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = official.validate_v3_signature(
            method, url, check_nonce, check_token, signature, dict(check_params)
        )
    assert theirs == ours


@settings(max_examples=300, deadline=None)
@given(
    url=_urls(),
    nonce=st.text(min_size=1, max_size=20),
    token=st.text(min_size=1, max_size=40),
    tamper=st.sampled_from(["url", "nonce", "token", "none"]),
)
def test_v2_verdicts_and_signatures_agree_with_the_official_validate_signature(
    url: str, nonce: str, token: str, tamper: str
) -> None:
    signature = sign_v2(url=url, nonce=nonce, auth_token=token)
    check_url, check_nonce, check_token = url, nonce, token
    if tamper == "url":
        check_url = url.replace("://", "://x", 1)
    elif tamper == "nonce":
        check_nonce += "1"
    elif tamper == "token":
        check_token += "1"
    ours = verify_signature_v2(
        url=check_url, nonce=check_nonce, signature=signature, auth_token=check_token
    )
    theirs = official_validate_v2(check_url, check_nonce, signature, check_token)
    assert ours == theirs == (tamper == "none")
