"""Any node of a PHLO, by type and id."""

from __future__ import annotations

from .._base_client import BaseClient, TimeoutTypes
from .._request_options import ExtraBody, ExtraHeaders, ExtraQuery, request_options
from .._validation import validate_model, validate_node_type, validate_path_id
from ..types import ActionResult, NodeDetails
from ..types._params import NodeActionParams, NodeUpdateParams, Role
from ..types.node import NODE_MODELS
from ._resource import PreparedRequest, Resource


class Node(Resource):
    """A handle on one node of any type. Creating it checks both ids and sends nothing.

    ``get()`` reads a ``multi_party_call`` node as :class:`MultiPartyCallDetails`
    and a ``conference_bridge`` node as :class:`ConferenceBridgeDetails` (both
    are :class:`NodeDetails`); any other type as :class:`NodeDetails`, its
    other fields kept in ``model_extra``. ``update()`` posts an action to it.
    """

    __slots__ = ("_url", "node_id", "node_type")

    def __init__(self, client: BaseClient, phlo_url: str, node_type: str, node_id: str) -> None:
        self.node_type = validate_node_type(node_type)
        """The node's type (``"multi_party_call"``, ``"conference_bridge"``...)."""
        encoded = validate_path_id("node_id", node_id)
        super().__init__(client)
        self.node_id = node_id
        """The node's id, as given."""
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
        """The node's details, read as its type's model (see the class).

        ``GET {base}/phlo/{phlo_id}/{node_type}/{node_id}``; returns the
        :class:`~plivo_phlo_async.NodeDetails` (or its subclass for the type).
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...`` argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such node),
        :class:`~plivo_phlo_async.APIConnectionError` or
        :class:`~plivo_phlo_async.APITimeoutError` once the retries are spent. Retried
        (up to the client's ``max_retries``) on a failed connection, a timeout, a 408,
        429 or 5xx: reading changes nothing.
        """
        model = NODE_MODELS.get(self.node_type, NodeDetails)
        options = request_options(extra_headers, extra_query, extra_body, has_body=False)
        return await self._get(self._url, model, timeout=timeout, options=options)

    async def update(
        self,
        action: str,
        trigger_source: str,
        to: str,
        role: Role = "agent",
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """``POST .../{node_type}/{node_id}`` of ``{"action", "to", "role",
        "trigger_source"}``: an action on the node, as the official SDK's
        ``Node.update(action, trigger_source, to, role)``.

        On a ``multi_party_call`` node ``action`` is ``"call"``,
        ``"warm_transfer"`` or ``"cold_transfer"`` (what its own methods send);
        on another type any action spelled as Plivo spells them (lowercase
        letters, digits, underscores), which Plivo judges. ``to`` and
        ``trigger_source`` are phone numbers or SIP URIs. Returns the
        :class:`ActionResult`. Raises :class:`InvalidParameterError` before
        anything is sent, an ``APIStatusError`` for a refusal (a 405 where the
        node type takes no action). Like every action it is never re-sent once
        it may have reached Plivo (a lost answer is an ``OutcomeUnknownError``),
        only when it certainly did not (a refused connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        model = NodeActionParams if self.node_type == "multi_party_call" else NodeUpdateParams
        params = validate_model(
            model, {"action": action, "to": to, "role": role, "trigger_source": trigger_source}
        )
        request = PreparedRequest("POST", self._url, ActionResult, params.to_json())
        return await self._send(request, timeout=timeout, options=options)
