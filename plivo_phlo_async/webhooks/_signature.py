"""Plivo's V3 webhook signature, byte for byte as the official ``plivo`` package.

The reference is ``plivo/utils/signature_v3.py`` of the official Python SDK
(checked against the V3 test vectors of Plivo's Go SDK). What is signed:

* **GET**: the URL without its query (scheme, host, path), then ``?`` and
  every parameter as ``k=v`` joined by ``&``, sorted by key, the URL's own
  query merged in (it wins over ``params`` on a shared key). Nothing is
  appended when there are no parameters at all.
* **POST**: the URL without its query, then ``?``, the URL's query sorted
  as above and a ``.`` (only when it has a query), then the POST parameters
  sorted by key and concatenated as ``kv`` with no separator. Without POST
  parameters, a POST signs exactly what a GET without parameters signs.
* A list value yields one entry per item, items sorted. Then ``.`` and the
  nonce; HMAC-SHA256 keyed with the auth token, base64.

Non-ASCII text is signed as UTF-8, as ``validate_v3_signature`` of the
official package (4.63) does; the nonce alone is read back one byte per
character and encoded again (a double encoding the official code applies to
it, harmless since Plivo's nonces are digits). The URL's query is
percent-decoded one byte per character, as the official code does.

Where this deliberately departs from the official code (none of these
changes what a correct Plivo request verifies to): the method is matched in
any case (the official code treats ``"get"`` as a POST); spaces around the
comma-separated signatures are ignored; a tuple value counts as a list;
``None``, mappings and other objects are refused with a typed error instead
of being signed as their ``repr``; the caller's ``params`` is never changed
(the official GET path merges the query into it); a URL with non-ASCII
characters, or with percent-encoded non-ASCII bytes in its query (which the
official code raises on under Python 3.11), is signed instead of raising.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_to_bytes, urlparse, urlunparse

from .._exceptions import InvalidParameterError

__all__ = [
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "ParamValue",
    "sign_v3",
    "signed_text_v3",
    "verify_signature_v3",
]

#: The header holding one or more comma-separated signatures.
SIGNATURE_HEADER = "X-Plivo-Signature-V3"
#: The header holding the nonce the signatures cover.
NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"

ParamValue = str | bytes | int | float | Sequence[str | bytes | int | float]
_Scalar = str | bytes | int | float
_METHODS = ("GET", "POST")


def _scalar(value: object, field: str) -> str:
    """One value as the official ``string_format`` renders it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, int | float):  # bool included: str(True) == "True", as upstream
        return str(value)
    raise InvalidParameterError(
        field, f"must be a string, bytes, a number or a list of them, not {type(value).__name__}"
    )


def _values(params: Mapping[str, ParamValue] | None) -> dict[str, str | list[str]]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidParameterError("params", f"must be a mapping, not {type(params).__name__}")
    formatted: dict[str, str | list[str]] = {}
    for key, value in params.items():
        if not isinstance(key, str | bytes):
            raise InvalidParameterError("params", f"keys must be strings, not {key!r}")
        name = _scalar(key, "params")
        field = f"params[{name!r}]"
        if isinstance(value, list | tuple):
            formatted[name] = [_scalar(item, field) for item in value]
        else:
            formatted[name] = _scalar(value, field)
    return formatted


def _query_text(params: Mapping[str, str | list[str]]) -> str:
    """``k=v&k=v`` sorted by key; a list gives one ``k=v`` per sorted item."""
    parts = []
    for key in sorted(params):
        value = params[key]
        if isinstance(value, list):
            parts.append("&".join(f"{key}={item}" for item in sorted(value)))
        else:
            parts.append(f"{key}={value}")
    return "&".join(parts)


def _body_text(params: Mapping[str, str | list[str]]) -> str:
    """``kvkv`` sorted by key; a list gives one ``kv`` per sorted item."""
    parts = []
    for key in sorted(params):
        value = params[key]
        if isinstance(value, list):
            parts.append("".join(f"{key}{item}" for item in sorted(value)))
        else:
            parts.append(f"{key}{value}")
    return "".join(parts)


def _split_url(url: object) -> tuple[str, dict[str, str | list[str]]]:
    """The URL without query and fragment, and its query as the official code reads it."""
    if not isinstance(url, str):
        raise InvalidParameterError("url", f"must be a string, not {type(url).__name__}")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidParameterError("url", f"must be an absolute http(s) URL, not {url!r}")
    base = urlunparse((parsed.scheme, parsed.netloc, parsed.path, "", "", ""))
    return base, _parse_query(parsed.query)


def _parse_query(query: str) -> dict[str, str | list[str]]:
    """``parse_qs(query_bytes, keep_blank_values=True)`` as the official code means it.

    Each percent-decoded byte becomes one character (what its ``string_format``
    does with bytes). Written out because ``parse_qs`` on bytes raises on
    Python 3.11 for a percent-encoded non-ASCII byte, and must not here.
    """
    parsed: dict[str, list[str]] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        key = unquote_to_bytes(name.replace("+", " ")).decode("latin-1")
        item = unquote_to_bytes(value.replace("+", " ")).decode("latin-1")
        parsed.setdefault(key, []).append(item)
    return {key: items for key, items in parsed.items()}


def _method(method: object) -> str:
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise InvalidParameterError("method", f"must be 'GET' or 'POST', not {method!r}")
    return method.upper()


def signed_text_v3(*, method: str, url: str, params: Mapping[str, ParamValue] | None = None) -> str:
    """The text Plivo signs for this request, before the nonce (for debugging a mismatch)."""
    verb = _method(method)
    base, query = _split_url(url)
    values = _values(params)
    if verb == "GET":
        merged = {**values, **query}
        text = _query_text(merged)
        return f"{base}?{text}" if text else base
    text = _query_text(query)
    if text or values:
        base += "?" + text
    if text and values:
        base += "."
    return base + _body_text(values)


def _digest(auth_token: str, signed: str, nonce: str) -> bytes:
    # The official code re-reads the UTF-8 of the nonce one byte per
    # character before encoding it again: do the same (see module doc).
    message = f"{signed}.{nonce.encode().decode('latin-1')}".encode()
    mac = hmac.new(auth_token.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(mac)


def _check_token(auth_token: object) -> str:
    if not isinstance(auth_token, str) or not auth_token:
        # The message never shows the value: it is a secret.
        raise InvalidParameterError("auth_token", "must be a non-empty string")
    return auth_token


def sign_v3(
    *,
    method: str,
    url: str,
    params: Mapping[str, ParamValue] | None,
    nonce: str,
    auth_token: str,
) -> str:
    """The ``X-Plivo-Signature-V3`` value Plivo sends for this request.

    For tests and the emulator: sign a request the way Plivo does, then check
    that your webhook accepts it. Bad arguments raise
    :class:`~plivo_phlo_async.InvalidParameterError`.
    """
    token = _check_token(auth_token)
    if not isinstance(nonce, str) or not nonce:
        raise InvalidParameterError("nonce", "must be a non-empty string")
    return _digest(token, signed_text_v3(method=method, url=url, params=params), nonce).decode()


def verify_signature_v3(
    *,
    method: str,
    url: str,
    params: Mapping[str, ParamValue] | None,
    nonce: str | None,
    signature: str | None,
    auth_token: str,
) -> bool:
    """Whether ``signature`` (the ``X-Plivo-Signature-V3`` header) is Plivo's.

    ``url`` is the URL exactly as Plivo requested it (behind a proxy: the
    public one), query included; ``params`` are the POST form fields, or for
    a GET nothing (the query is read from ``url``). The header may hold
    several comma-separated signatures (one per active auth token): any
    match passes. Compared in constant time.

    What came with the request (``signature``, ``nonce``) never raises: a
    missing, empty or malformed value is False. What the caller chose
    (``method``, ``url``, ``auth_token``, the types in ``params``) raises
    :class:`~plivo_phlo_async.InvalidParameterError` when wrong, since that
    is a bug to fix, not a forged request.
    """
    token = _check_token(auth_token)
    signed = signed_text_v3(method=method, url=url, params=params)
    if not isinstance(signature, str) or not isinstance(nonce, str) or not nonce:
        return False
    expected = _digest(token, signed, nonce)
    matched = False
    for candidate in signature.split(","):
        # No early exit: every candidate costs the same comparison.
        matched |= hmac.compare_digest(expected, candidate.strip().encode())
    return matched
