"""Multi-party-call nodes and their members."""

from __future__ import annotations

from .._base_client import BaseClient, TimeoutTypes
from .._request_options import (
    ExtraBody,
    ExtraHeaders,
    ExtraQuery,
    RequestOptions,
    request_options,
)
from .._validation import validate_model, validate_path_id
from ..types import ActionResult, MultiPartyCallDetails
from ..types._params import NodeAction, NodeActionParams, Role
from ._member import MemberHandle
from ._resource import PreparedRequest, Resource


class MultiPartyCall(Resource):
    """A handle on one multi-party-call node. Creating it sends nothing."""

    __slots__ = ("_url", "node_id")

    def __init__(self, client: BaseClient, phlo_url: str, node_id: str) -> None:
        super().__init__(client)
        self.node_id = node_id
        self._url = f"{phlo_url}/multi_party_call/{validate_path_id('node_id', node_id)}"

    def __repr__(self) -> str:
        return f"MultiPartyCall(node_id={self.node_id!r})"

    async def get(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> MultiPartyCallDetails:
        """``GET .../multi_party_call/{node_id}``."""
        options = request_options(extra_headers, extra_query, extra_body, has_body=False)
        return await self._get(self._url, MultiPartyCallDetails, timeout=timeout, options=options)

    async def call(
        self,
        trigger_source: str,
        to: str,
        role: Role = "agent",
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Dial ``to`` and add them to the call as ``role``."""
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("call", trigger_source, to, role, timeout, options)

    async def warm_transfer(
        self,
        trigger_source: str,
        to: str,
        role: Role = "agent",
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Transfer to ``to`` after ``trigger_source`` has spoken with them privately."""
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("warm_transfer", trigger_source, to, role, timeout, options)

    async def cold_transfer(
        self,
        trigger_source: str,
        to: str,
        role: Role = "agent",
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Transfer to ``to`` directly; ``trigger_source`` leaves the call."""
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("cold_transfer", trigger_source, to, role, timeout, options)

    def member(self, member_address: str) -> Member:
        """A handle on one member (phone number or SIP URI); no request is made."""
        return Member(self._client, self._url, member_address)

    async def _act(
        self,
        action: NodeAction,
        trigger_source: str,
        to: str,
        role: Role,
        timeout: TimeoutTypes | None,
        options: RequestOptions | None = None,
    ) -> ActionResult:
        params = validate_model(
            NodeActionParams,
            {"action": action, "to": to, "role": role, "trigger_source": trigger_source},
        )
        return await self._send(prepare_action(self, params), timeout=timeout, options=options)

    async def _send_action(
        self, params: NodeActionParams, timeout: TimeoutTypes | None = None
    ) -> ActionResult:
        """Kept for the bulk runner: ``send_prepared(client, prepare_action(node, params))``."""
        return await self._send(prepare_action(self, params), timeout=timeout)


class Member(MemberHandle):
    """A handle on one member of a multi-party call. Creating it sends nothing.

    Besides the actions every member has (``mute``, ``unmute``, ``hold``,
    ``unhold``, ``hangup``), the multi-party call's own.
    """

    __slots__ = ()

    async def resume_call(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Return to the call after a warm transfer (initiator or recipient)."""
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("resume_call", timeout, options)

    async def abort_transfer(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Abort a transfer this member initiated."""
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("abort_transfer", timeout, options)

    async def voicemail_drop(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Play the node's voicemail message to an answering machine."""
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("voicemail_drop", timeout, options)


def prepare_action(node: MultiPartyCall, params: NodeActionParams) -> PreparedRequest[ActionResult]:
    """The POST of a node action already validated, for :func:`send_prepared`
    (the bulk runner checks every job before sending any)."""
    return PreparedRequest("POST", node._url, ActionResult, params.to_json())
