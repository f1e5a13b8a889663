"""Escape hatches: headers, query parameters and body keys the SDK does not list.

openai-python's convention: every method but ``Phlo.run`` takes
``extra_headers=``, ``extra_query=`` and ``extra_body=``; ``PhloClient`` takes
``default_headers=``; ``with_options(...)`` takes all of them for every request
of the copy (the only way to reach ``run()``, whose keywords are all payload).

Everything is checked when it is given, before any request leaves: a bad
header, query value or body key raises a typed error naming the argument and
nothing is sent. The SDK keeps the headers that frame the request or carry
the credentials (:data:`RESERVED_HEADERS`): an escape hatch must not be able
to split one request into two on the wire, nor change whose account pays for
a call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import quote

from ._exceptions import ConfigurationError, InvalidParameterError
from ._validation import (
    MAX_BODY_BYTES,
    MAX_PAYLOAD_INT,
    body_too_large,
    check_text,
    describe,
    encode_json_payload,
)

__all__ = [
    "RESERVED_HEADERS",
    "ExtraBody",
    "ExtraHeaders",
    "ExtraQuery",
    "RequestOptions",
    "client_options",
    "request_options",
]

ExtraHeaders: TypeAlias = Mapping[str, str]
ExtraQuery: TypeAlias = Mapping[str, str | int | float | bool | Sequence[str | int | float | bool]]
ExtraBody: TypeAlias = Mapping[str, Any]

#: Headers only the SDK sets (lowercase): they frame the request on a kept-alive
#: connection (a second ``Content-Length`` would let one call become two), say
#: what the SDK can decode, or carry the credentials (``auth_id``/``auth_token``).
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "accept-encoding",
        "authorization",
    }
)
#: RFC 9110's ``token``: the characters a header name may use.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: The most bytes of extra header lines (name, value) or of the query string: many
#: servers refuse a request head over 8 KiB, so larger ones would fail anyway.
MAX_EXTRA_HEADER_BYTES = 4096
MAX_QUERY_BYTES = 4096


class _RefusedError(Exception):
    """Why a value cannot be used (``field``: the argument), raised to the caller
    as its typed error."""

    field = ""


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Checked extras for one request, or for every request of a client copy.

    ``headers`` are ``(name, value)`` pairs, one per name (case-insensitively);
    ``query`` maps each name to its encoded values; ``body`` holds top-level
    JSON keys already checked. Empty options are never built: None stands for
    "nothing extra", so the common path costs one ``is None`` test.
    """

    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, tuple[str, ...]], ...] = ()
    body: Mapping[str, Any] | None = None

    def merged(self, later: RequestOptions | None) -> RequestOptions:
        """These options with ``later`` on top (a per-call value over a copy's)."""
        if later is None:
            return self
        headers = {name.lower(): (name, value) for name, value in self.headers}
        headers.update((name.lower(), (name, value)) for name, value in later.headers)
        query = dict(self.query)
        query.update(later.query)
        body = {**(self.body or {}), **(later.body or {})}
        return RequestOptions(tuple(headers.values()), tuple(query.items()), body or None)

    def url(self, url: str) -> str:
        """``url`` with the extra query parameters appended."""
        if not self.query:
            return url
        encoded = "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}"
            for name, values in self.query
            for value in values
        )
        return f"{url}{'&' if '?' in url else '?'}{encoded}"

    def content(self, content: bytes) -> bytes:
        """The JSON body ``content`` with the extra keys merged in (theirs win)."""
        if not self.body:
            return content
        merged = json.loads(content) if content else {}
        merged.update(self.body)
        encoded = json.dumps(
            merged, allow_nan=False, separators=(",", ":"), ensure_ascii=False
        ).encode()
        if len(encoded) > MAX_BODY_BYTES:
            raise InvalidParameterError("extra_body", body_too_large(len(encoded)))
        return encoded


def request_options(
    extra_headers: ExtraHeaders | None,
    extra_query: ExtraQuery | None,
    extra_body: ExtraBody | None,
    *,
    has_body: bool = True,
) -> RequestOptions | None:
    """A method's extras, checked; :class:`InvalidParameterError` names the argument.

    ``has_body`` False (a GET) refuses a non-empty ``extra_body``: there is no
    JSON body to merge it into.
    """
    if extra_headers is None and extra_query is None and extra_body is None:
        return None
    try:
        options = _options(extra_headers, extra_query, extra_body)
    except _RefusedError as exc:
        raise InvalidParameterError(exc.field, str(exc)) from None
    if options.body and not has_body:
        raise InvalidParameterError(
            "extra_body", "this method sends a GET, which has no body; use extra_query"
        )
    return options if options.headers or options.query or options.body else None


def client_options(
    headers: ExtraHeaders | None,
    query: ExtraQuery | None = None,
    body: ExtraBody | None = None,
    *,
    names: tuple[str, str, str] = ("extra_headers", "extra_query", "extra_body"),
) -> RequestOptions | None:
    """A client's extras (``default_headers``, ``with_options(extra_...)``), checked;
    :class:`ConfigurationError` names the argument (``names`` gives their names)."""
    try:
        options = _options(headers, query, body, names)
    except _RefusedError as exc:
        raise ConfigurationError(f"{exc.field}: {exc}", field=exc.field) from None
    return options if options.headers or options.query or options.body else None


def _options(
    headers: object,
    query: object,
    body: object,
    names: tuple[str, str, str] = ("extra_headers", "extra_query", "extra_body"),
) -> RequestOptions:
    checked: list[Any] = []
    for name, value, check in zip(names, (headers, query, body), _CHECKS, strict=True):
        try:
            checked.append(check(value, name))
        except _RefusedError as exc:
            exc.field = name
            raise
    return RequestOptions(*checked)


def _mapping(value: object, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _RefusedError(f"must be a mapping of {what}, not {type(value).__name__}")
    return value


def _check_headers(value: object, field: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    seen: dict[str, tuple[str, str]] = {}
    size = 0
    for name, text in _mapping(value, "header names to str values").items():
        if not isinstance(name, str) or not name or not set(name) <= _TOKEN:
            raise _RefusedError(
                f"{describe(name)} is not a header name (letters, digits and -_.!#$%&'*+^`|~)"
            )
        if name.lower() in RESERVED_HEADERS:
            raise _RefusedError(
                f"{name!r} is set by the SDK (it frames the request, says what the SDK "
                "decodes, or carries the credentials) and cannot be replaced"
            )
        if name.lower() in seen:
            raise _RefusedError(f"{name!r} is given twice (header names ignore case)")
        if not isinstance(text, str):
            raise _RefusedError(f"header {name!r} must be a str, not {type(text).__name__}")
        if any(char in text for char in "\r\n\0") or any(
            (ord(char) < 0x20 and char != "\t") or char == "\x7f" for char in text
        ):
            raise _RefusedError(f"header {name!r} contains a line break or control character")
        if any(ord(char) > 0xFF for char in text):
            raise _RefusedError(
                f"header {name!r} has characters outside Latin-1, which HTTP/1.1 cannot carry"
            )
        size += len(name) + len(text) + 4
        if size > MAX_EXTRA_HEADER_BYTES:
            raise _RefusedError(f"adds more than {MAX_EXTRA_HEADER_BYTES:,} bytes of headers")
        seen[name.lower()] = (name, text)
    return tuple(seen.values())


def _check_query(value: object, field: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    checked: list[tuple[str, tuple[str, ...]]] = []
    size = 0
    for name, given in _mapping(value, "parameter names to values").items():
        if not isinstance(name, str) or not name:
            raise _RefusedError(f"names must be non-empty strings, got {describe(name)}")
        _check_unicode(name, f"name {describe(name)}")
        values = given if isinstance(given, (list, tuple)) else (given,)
        encoded = tuple(_query_value(name, item) for item in values)
        size += sum(len(name) + len(item) + 2 for item in encoded)
        if size > MAX_QUERY_BYTES:
            raise _RefusedError(
                f"makes the query string longer than {MAX_QUERY_BYTES:,} characters"
            )
        checked.append((name, encoded))
    return tuple(checked)


def _query_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as httpx and Plivo write them
    if isinstance(value, str):
        return _check_unicode(value, f"{name!r}")
    if isinstance(value, int):
        if not -MAX_PAYLOAD_INT - 1 <= value <= MAX_PAYLOAD_INT:
            raise _RefusedError(f"{name!r}: {describe(value)} does not fit in 64 bits")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _RefusedError(f"{name!r}: {describe(value)} is not a finite number")
        return repr(value)
    raise _RefusedError(
        f"{name!r} must be a str, int, float or bool (or a list of them), "
        f"not {type(value).__name__}"
    )


def _check_unicode(text: str, what: str) -> str:
    try:
        return check_text(text)
    except ValueError as exc:
        raise _RefusedError(f"{what}: {exc}") from None


def _check_body(value: object, field: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    body = dict(_mapping(value, "JSON keys to values"))
    for key in body:
        if not isinstance(key, str) or not key:
            raise _RefusedError(f"keys must be non-empty strings, got {describe(key)}")
    try:  # the run payload's rules: depth, size, values
        encoded = encode_json_payload(body, field)
    except InvalidParameterError as exc:
        raise _RefusedError(exc.reason) from None
    # A copy as encoded now: changing the caller's mapping later changes nothing sent.
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


_CHECKS = (_check_headers, _check_query, _check_body)
