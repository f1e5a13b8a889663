"""PHLOs: retrieve, run, and look up runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._base_client import BaseClient, TimeoutTypes
from .._exceptions import InvalidParameterError
from .._request_options import ExtraBody, ExtraHeaders, ExtraQuery, request_options
from .._validation import describe, encode_json_payload, validate_path_id
from ..types import PhloDetails, PhloRun, PhloRunResult
from ._resource import PreparedRequest, Resource
from .conference_bridge import ConferenceBridge
from .multi_party_call import MultiPartyCall
from .node import Node


class PhloResource(Resource):
    """``client.phlo``: fetch a PHLO, or call it to get a handle on one."""

    def __call__(self, phlo_id: str) -> Phlo:
        """A :class:`Phlo` handle on one PHLO: ``client.phlo(phlo_id)``.

        Sends nothing, so it is never retried; raises
        :class:`~plivo_phlo_async.InvalidParameterError` for an id that cannot be in a URL path.
        """
        return Phlo(self._client, phlo_id)

    async def get(
        self,
        phlo_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> PhloDetails:
        """The PHLO's name and creation time: ``client.phlo(phlo_id).get()``.

        ``GET {base}/phlo/{phlo_id}``; returns the :class:`~plivo_phlo_async.PhloDetails`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad id or
        ``extra_...`` argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError`
        when Plivo refuses (:class:`~plivo_phlo_async.NotFoundError`: no such PHLO),
        :class:`~plivo_phlo_async.APIConnectionError` or
        :class:`~plivo_phlo_async.APITimeoutError` once the retries are spent. Retried
        (up to the client's ``max_retries``) on a failed connection, a timeout, a 408,
        429 or 5xx: reading changes nothing.
        """
        return await Phlo(self._client, phlo_id).get(
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )


class Phlo(Resource):
    """A handle on one PHLO. Creating it checks the id and sends nothing."""

    __slots__ = ("_run_url", "_url", "phlo_id")

    def __init__(self, client: BaseClient, phlo_id: str) -> None:
        encoded = validate_path_id("phlo_id", phlo_id)
        super().__init__(client)
        self.phlo_id = phlo_id
        """The PHLO's id, as given."""
        self._url = f"{self._base_url}/phlo/{encoded}"
        self._run_url = f"{self._account_url}/phlo/{encoded}"

    def __repr__(self) -> str:
        return f"Phlo(phlo_id={self.phlo_id!r})"

    async def get(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> PhloDetails:
        """The PHLO's name and creation time.

        ``GET {base}/phlo/{phlo_id}``; returns the :class:`~plivo_phlo_async.PhloDetails`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...`` argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such PHLO),
        :class:`~plivo_phlo_async.APIConnectionError` or
        :class:`~plivo_phlo_async.APITimeoutError` once the retries are spent. Retried
        (up to the client's ``max_retries``) on a failed connection, a timeout, a 408,
        429 or 5xx: reading changes nothing.
        """
        options = request_options(extra_headers, extra_query, extra_body, has_body=False)
        return await self._get(self._url, PhloDetails, timeout=timeout, options=options)

    async def run(
        self, payload: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> PhloRunResult:
        """``POST {base}/account/{auth_id}/phlo/{phlo_id}``: trigger the PHLO.

        Pass the Start node's keys as keyword arguments or as one mapping (or
        both); they are sent exactly as given, never renamed. Every keyword is
        payload, so a per-call timeout, extra headers, query parameters or
        body keys are set with ``client.with_options``.
        Returns the :class:`~plivo_phlo_async.PhloRunResult`, whose ``run_id``
        identifies the run for ``get_run``.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad payload
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such PHLO),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        return await self._send(prepare_run(self, encode_run_payload(payload, fields)))

    async def get_run(
        self,
        run_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> PhloRun:
        """What a run started.

        ``GET {base}/phlo/{phlo_id}/runs/{run_id}``; returns the
        :class:`~plivo_phlo_async.PhloRun`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``run_id`` or
        ``extra_...`` argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError`
        when Plivo refuses (:class:`~plivo_phlo_async.NotFoundError`: no such run),
        :class:`~plivo_phlo_async.APIConnectionError` or
        :class:`~plivo_phlo_async.APITimeoutError` once the retries are spent. Retried
        (up to the client's ``max_retries``) on a failed connection, a timeout, a 408,
        429 or 5xx: reading changes nothing.
        """
        url = f"{self._url}/runs/{validate_path_id('run_id', run_id)}"
        options = request_options(extra_headers, extra_query, extra_body, has_body=False)
        return await self._get(url, PhloRun, timeout=timeout, options=options)

    def multi_party_call(self, node_id: str) -> MultiPartyCall:
        """A :class:`MultiPartyCall` handle on a multi-party-call node of this PHLO.

        Sends nothing, so it is never retried; raises
        :class:`~plivo_phlo_async.InvalidParameterError` for an id that cannot be in a URL path.
        """
        return MultiPartyCall(self._client, self._url, node_id)

    def conference_bridge(self, node_id: str) -> ConferenceBridge:
        """A :class:`ConferenceBridge` handle on a conference-bridge node of this PHLO.

        Sends nothing, so it is never retried; raises
        :class:`~plivo_phlo_async.InvalidParameterError` for an id that cannot be in a URL path.
        """
        return ConferenceBridge(self._client, self._url, node_id)

    def node(self, node_type: str, node_id: str) -> Node:
        """A :class:`Node` handle on a node of any type (``"multi_party_call"``,
        ``"conference_bridge"``...).

        Sends nothing, so it is never retried; raises
        :class:`~plivo_phlo_async.InvalidParameterError` for a node type or id that
        cannot be in a URL path.
        """
        return Node(self._client, self._url, node_type, node_id)


def prepare_run(phlo: Phlo, content: bytes) -> PreparedRequest[PhloRunResult]:
    """The run POST of a payload already encoded by :func:`encode_run_payload`,
    for :func:`send_prepared` (the bulk runner checks every job before sending any)."""
    return PreparedRequest("POST", phlo._run_url, PhloRunResult, content)


def encode_run_payload(payload: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> bytes:
    """Merge the two ways of passing a payload, check it, and encode it once.

    Keys are non-empty strings; values are JSON (str, finite numbers, 64-bit
    ints, bool, None, and dicts, lists and tuples of them) nested at most
    ``MAX_PAYLOAD_DEPTH`` (64) levels, and the whole encodes to at most
    ``MAX_BODY_BYTES`` (1 MiB). See :func:`encode_json_payload`.
    """
    if payload is None:
        body = dict(fields)
    elif not isinstance(payload, Mapping):
        raise InvalidParameterError(
            "payload", f"must be a mapping of the Start node's keys, not {type(payload).__name__}"
        )
    else:
        body = dict(payload)
        clashes = body.keys() & fields.keys()
        if clashes:
            raise InvalidParameterError(
                "payload", f"keys given both in the mapping and as keywords: {sorted(clashes)}"
            )
        body.update(fields)
    for key in body:
        if not isinstance(key, str) or not key:
            raise InvalidParameterError(
                "payload", f"keys must be non-empty strings, got {describe(key)}"
            )
    return encode_json_payload(body)
