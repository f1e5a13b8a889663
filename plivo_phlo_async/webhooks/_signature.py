"""Plivo's V3 webhook signature, as the official ``plivo`` package computes it.

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
it, harmless since Plivo's nonces are digits).

The URL's query is percent-decoded once, as UTF-8 (an invalid sequence
becomes U+FFFD), as plivo-go, plivo-java and plivo-node do: ``?k=%C3%A9``
signs ``k=é``. The official Python package reads each decoded byte as one
character instead (``k=Ã©``, or raises under Python 3.11), so a genuine
Plivo callback to such a URL would not verify with it.

Where this also departs from the official code (none of these changes what
a correct Plivo request verifies to): the method is matched in any case (the
official code treats ``"get"`` as a POST); spaces around the comma-separated
signatures are ignored; a tuple value counts as a list; ``None``, mappings
and other objects are refused with a typed error instead of being signed as
their ``repr``; the caller's ``params`` is never changed (the official GET
path merges the query into it); a URL with non-ASCII characters is signed
instead of raising; and :func:`verify_signature_v3` never raises on what
came with the request (see there).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlparse, urlunparse

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
_METHODS = ("GET", "POST")


def _utf8(text: str, field: str) -> bytes:
    """``text`` as UTF-8, or a typed error for a lone surrogate (the message never shows it)."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise InvalidParameterError(
            field, "holds a lone surrogate, which UTF-8 cannot encode"
        ) from None


def _scalar(value: object, field: str) -> str:
    """One value as the official ``string_format`` renders it."""
    if isinstance(value, str):
        if not value.isascii():
            _utf8(value, field)
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


def _split_url(url: object) -> tuple[str, str]:
    """The URL without query and fragment (scheme, host, path), and its raw query."""
    if not isinstance(url, str):
        raise InvalidParameterError("url", f"must be a string, not {type(url).__name__}")
    if not url.isascii():
        _utf8(url, "url")
    try:
        parsed = urlparse(url)
    except ValueError:  # "https://[::1/", a netloc NFKC turns into a delimiter...
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidParameterError("url", f"must be an absolute http(s) URL, not {url!r}")
    return urlunparse((parsed.scheme, parsed.netloc, parsed.path, "", "", "")), parsed.query


def _method(method: object) -> str:
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise InvalidParameterError("method", f"must be 'GET' or 'POST', not {method!r}")
    return method.upper()


def signed_text_v3(*, method: str, url: str, params: Mapping[str, ParamValue] | None = None) -> str:
    """The text Plivo signs for this request, before the nonce (for debugging a mismatch).

    Raises :class:`~plivo_phlo_async.InvalidParameterError` for what cannot
    be signed: the way to learn why :func:`verify_signature_v3` said False.
    """
    verb = _method(method)
    base, raw_query = _split_url(url)
    # Decoded once, as UTF-8 (U+FFFD for an invalid sequence): see the module doc.
    query: dict[str, str | list[str]] = dict(parse_qs(raw_query, keep_blank_values=True))
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


def _check_token(auth_token: object) -> bytes:
    """The caller's token as the HMAC key; a typed error that never shows it."""
    if not isinstance(auth_token, str) or not auth_token:
        raise InvalidParameterError("auth_token", "must be a non-empty string")
    return _utf8(auth_token, "auth_token")


def _check_nonce(nonce: object) -> str:
    if not isinstance(nonce, str) or not nonce:
        raise InvalidParameterError("nonce", "must be a non-empty string")
    if not nonce.isascii():
        _utf8(nonce, "nonce")
    return nonce


def _digest(token: bytes, message: str) -> bytes:
    """base64(HMAC-SHA256(token, message)), every part of ``message`` checked to encode."""
    return base64.b64encode(hmac.new(token, message.encode(), hashlib.sha256).digest())


def _digest_v3(token: bytes, signed: str, nonce: str) -> bytes:
    # The official code re-reads the UTF-8 of the nonce one byte per
    # character before encoding it again: do the same (see module doc).
    return _digest(token, f"{signed}.{nonce.encode().decode('latin-1')}")


def _matches(expected: bytes, header: object) -> bool:
    """Whether any comma-separated signature in ``header`` is ``expected``, in constant time."""
    if not isinstance(header, str):
        return False
    matched = False
    for candidate in header.split(","):
        # No early exit: every candidate costs the same comparison. A character
        # UTF-8 cannot encode becomes "?", which no base64 signature holds.
        matched |= hmac.compare_digest(expected, candidate.strip().encode("utf-8", "replace"))
    return matched


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
    signed = signed_text_v3(method=method, url=url, params=params)
    return _digest_v3(token, signed, _check_nonce(nonce)).decode()


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

    Everything but ``auth_token`` comes with the request, so none of it ever
    raises: a method other than GET and POST, a URL that does not parse, a
    missing or malformed header, text UTF-8 cannot encode are all False (a
    web server answers 403, not 500). ``auth_token`` is yours: a wrong one
    raises :class:`~plivo_phlo_async.InvalidParameterError`, which never
    shows it. To learn why a request is False, :func:`signed_text_v3` raises
    on what it cannot sign.
    """
    token = _check_token(auth_token)
    try:
        signed = signed_text_v3(method=method, url=url, params=params)
        expected = _digest_v3(token, signed, _check_nonce(nonce))
    except InvalidParameterError:
        return False
    return _matches(expected, signature)
