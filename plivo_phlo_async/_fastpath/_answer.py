"""What either path hands back: an :class:`Answer`, its body decoded the same way.

The success path needs only ``status_code`` and ``content``; the
``httpx.Response`` (with its ``httpx.Request``) that errors carry is built on
demand by :meth:`Answer.to_httpx`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["MAX_BODY_BYTES", "Answer", "decode_body", "httpx_request"]

#: The largest body either path reads (before and after undoing a content coding).
MAX_BODY_BYTES = 16 * 1024 * 1024

#: Content codings undone here (the SDK asks for none; some servers send them anyway).
_DECODERS = {b"gzip": zlib.MAX_WBITS | 16, b"x-gzip": zlib.MAX_WBITS | 16, b"deflate": 0}


class Answer:
    """A response read by either path, its body already decoded (or left as sent)."""

    __slots__ = (
        "_method",
        "_request",
        "_request_content",
        "_request_headers",
        "_url",
        "content",
        "headers",
        "reason",
        "status_code",
    )

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_content: bytes | None,
        request: httpx.Request | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self._method = method
        self._url = url
        self._request_headers = request_headers
        self._request_content = request_content
        self._request = request

    def to_httpx(self) -> httpx.Response:
        request = self._request or httpx_request(
            self._method, self._url, self._request_headers, self._request_content
        )
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if self.reason:
            extensions["reason_phrase"] = self.reason
        # The body is decoded already (or was left as sent because it could not
        # be): without its Content-Encoding, httpx never decodes it again.
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-encoding"]
        return httpx.Response(
            self.status_code,
            headers=headers,
            content=self.content,
            request=request,
            extensions=extensions,
        )

    def __repr__(self) -> str:
        return f"<Answer [{self.status_code}]>"


def httpx_request(
    method: str, url: str, headers: Mapping[str, str], content: bytes | None
) -> httpx.Request:
    return httpx.Request(method, url, headers=headers, content=content)


def decode_body(headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """Undo the content codings of ``headers`` (gzip, deflate, stacked in any order).

    A coding this cannot undo (unknown, corrupt, or inflating past
    :data:`MAX_BODY_BYTES`) leaves the body exactly as sent: the status is
    what the SDK acts on, and it is never lost to a body it cannot read.
    """
    codings: list[bytes] = []
    for name, value in headers:
        if name.lower() == b"content-encoding":
            codings.extend(c.strip(b" \t").lower() for c in value.split(b","))
    codings = [c for c in codings if c and c != b"identity"]
    if not codings:
        return body
    if any(c not in _DECODERS for c in codings):
        return body
    decoded = body
    for coding in reversed(codings):
        result = _inflate(coding, decoded)
        if result is None:
            return body
        decoded = result
    return decoded


def _inflate(coding: bytes, data: bytes) -> bytes | None:
    # deflate is zlib-wrapped by the RFC but raw in the wild: try both.
    for wbits in (
        (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS) if coding == b"deflate" else (_DECODERS[coding],)
    ):
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(data, MAX_BODY_BYTES)
        except zlib.error:
            continue
        if decoder.unconsumed_tail or not decoder.eof:
            return None  # past the cap, or truncated
        return out
    return None
