"""Conference-bridge nodes and their members."""

from __future__ import annotations

from .._base_client import BaseClient, TimeoutTypes
from .._request_options import ExtraBody, ExtraHeaders, ExtraQuery, request_options
from .._validation import validate_path_id
from ..types import ConferenceBridgeDetails
from ._member import MemberHandle
from ._resource import Resource


class ConferenceBridge(Resource):
    """A handle on one conference-bridge node. Creating it sends nothing.

    People join a conference bridge by dialling in, so the node has no
    action of its own: only its members are acted on.
    """

    __slots__ = ("_url", "node_id")

    def __init__(self, client: BaseClient, phlo_url: str, node_id: str) -> None:
        super().__init__(client)
        self.node_id = node_id
        """The node's id, as given."""
        self._url = f"{phlo_url}/conference_bridge/{validate_path_id('node_id', node_id)}"

    def __repr__(self) -> str:
        return f"ConferenceBridge(node_id={self.node_id!r})"

    async def get(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ConferenceBridgeDetails:
        """The node's details.

        ``GET {base}/phlo/{phlo_id}/conference_bridge/{node_id}``; returns the
        :class:`~plivo_phlo_async.ConferenceBridgeDetails`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...`` argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such node),
        :class:`~plivo_phlo_async.APIConnectionError` or
        :class:`~plivo_phlo_async.APITimeoutError` once the retries are spent. Retried
        (up to the client's ``max_retries``) on a failed connection, a timeout, a 408,
        429 or 5xx: reading changes nothing.
        """
        options = request_options(extra_headers, extra_query, extra_body, has_body=False)
        return await self._get(self._url, ConferenceBridgeDetails, timeout=timeout, options=options)

    def member(self, member_address: str) -> ConferenceBridgeMember:
        """A :class:`ConferenceBridgeMember` handle on one member (phone number or SIP URI).

        Sends nothing, so it is never retried; raises
        :class:`~plivo_phlo_async.InvalidParameterError` for an address that is not one.
        """
        return ConferenceBridgeMember(self._client, self._url, member_address)


class ConferenceBridgeMember(MemberHandle):
    """A handle on one member of a conference bridge: ``mute()``, ``unmute()``,
    ``hold()``, ``unhold()``, ``hangup()``. Creating it sends nothing."""

    __slots__ = ()
