"""The base every resource shares, in openai-python's ``_resource.py`` manner.

A resource holds the client and sends through :meth:`Resource._get` and
:meth:`Resource._post`, which go to the client's one send path (timeouts,
retries, the rate limit, and the rule that a request which may have reached
Plivo is never sent again). Only this module reads the client's internals,
so a resource never does.

:class:`PreparedRequest` and :func:`send_prepared` are the package's one
entry point for a request checked and encoded ahead of time: the bulk
runner validates every job before sending anything, keeps the URL and body
for its journal, and sends them later through the same path as
``Phlo.run`` does.

The helpers return the client's coroutine instead of awaiting it, so
sending through the base adds no frame to the hot path.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Generic

from .._base_client import BaseClient, ModelT, TimeoutTypes
from .._request_options import RequestOptions

__all__ = ["PreparedRequest", "Resource", "send_prepared"]


@dataclass(frozen=True, slots=True)
class PreparedRequest(Generic[ModelT]):
    """A request already validated and encoded: what to send, where, and the answer's model."""

    method: str
    url: str
    cast_to: type[ModelT]
    content: bytes | None = None


def send_prepared(
    client: BaseClient,
    request: PreparedRequest[ModelT],
    *,
    timeout: TimeoutTypes | None = None,
    options: RequestOptions | None = None,
) -> Coroutine[Any, Any, ModelT]:
    """Send ``request`` through the client's one send path (no re-send once it may have landed)."""
    return client._request(
        request.method,
        request.url,
        request.cast_to,
        content=request.content,
        timeout=timeout,
        options=options,
    )


class Resource:
    """What a resource is: a client to send through, and where that client sends."""

    __slots__ = ("_client",)

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    @property
    def _base_url(self) -> str:
        """The PHLO API's base URL (``.../v1``)."""
        return self._client._base_url

    @property
    def _account_url(self) -> str:
        """``{base}/account/{auth_id}``, where runs are posted."""
        return self._client._account_url

    @property
    def _voice_call_url(self) -> str:
        """``{voice_base}/Account/{auth_id}/Call/``, where calls are created."""
        return self._client._voice_call_url

    def _get(
        self,
        url: str,
        cast_to: type[ModelT],
        *,
        timeout: TimeoutTypes | None = None,
        options: RequestOptions | None = None,
    ) -> Coroutine[Any, Any, ModelT]:
        return self._client._request("GET", url, cast_to, timeout=timeout, options=options)

    def _post(
        self,
        url: str,
        cast_to: type[ModelT],
        *,
        content: bytes | None,
        timeout: TimeoutTypes | None = None,
        options: RequestOptions | None = None,
    ) -> Coroutine[Any, Any, ModelT]:
        return self._client._request(
            "POST", url, cast_to, content=content, timeout=timeout, options=options
        )

    def _send(
        self,
        request: PreparedRequest[ModelT],
        *,
        timeout: TimeoutTypes | None = None,
        options: RequestOptions | None = None,
    ) -> Coroutine[Any, Any, ModelT]:
        return send_prepared(self._client, request, timeout=timeout, options=options)
