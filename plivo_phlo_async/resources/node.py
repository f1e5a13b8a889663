"""Any node of a PHLO, by type and id."""

from __future__ import annotations

from .._base_client import BaseClient, TimeoutTypes
from .._request_options import ExtraBody, ExtraHeaders, ExtraQuery, request_options
from .._validation import validate_node_type, validate_path_id
from ..types import NodeDetails
from ..types.node import NODE_MODELS
from ._resource import Resource


class Node(Resource):
    """A handle on one node of any type. Creating it checks both ids and sends nothing.

    ``get()`` reads a ``multi_party_call`` node as :class:`MultiPartyCallDetails`
    and a ``conference_bridge`` node as :class:`ConferenceBridgeDetails` (both
    are :class:`NodeDetails`); any other type as :class:`NodeDetails`, its
    other fields kept in ``model_extra``.
    """

    __slots__ = ("_url", "node_id", "node_type")

    def __init__(self, client: BaseClient, phlo_url: str, node_type: str, node_id: str) -> None:
        self.node_type = validate_node_type(node_type)
        encoded = validate_path_id("node_id", node_id)
        super().__init__(client)
        self.node_id = node_id
        self._url = f"{phlo_url}/{node_type}/{encoded}"

    def __repr__(self) -> str:
        return f"Node(node_type={self.node_type!r}, node_id={self.node_id!r})"

    async def get(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> NodeDetails:
        """``GET .../{node_type}/{node_id}``."""
        model = NODE_MODELS.get(self.node_type, NodeDetails)
        options = request_options(extra_headers, extra_query, extra_body, has_body=False)
        return await self._get(self._url, model, timeout=timeout, options=options)
