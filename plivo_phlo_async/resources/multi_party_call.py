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
        """The node's id, as given."""
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
        """The node's details.

        ``GET {base}/phlo/{phlo_id}/multi_party_call/{node_id}``; returns the
        :class:`~plivo_phlo_async.MultiPartyCallDetails`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...``
        argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo
        refuses (:class:`~plivo_phlo_async.NotFoundError`: no such node),
        :class:`~plivo_phlo_async.APIConnectionError` or
        :class:`~plivo_phlo_async.APITimeoutError` once the retries are spent. Retried
        (up to the client's ``max_retries``) on a failed connection, a timeout, a 408,
        429 or 5xx: reading changes nothing.
        """
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
        """Dial ``to`` and add them to the call as ``role``.

        ``POST {base}/phlo/{phlo_id}/multi_party_call/{node_id}`` of
        ``{"action": "call", "to", "role", "trigger_source"}``;
        returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such node),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
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
        """Transfer to ``to`` after ``trigger_source`` has spoken with them privately.

        ``POST {base}/phlo/{phlo_id}/multi_party_call/{node_id}`` of
        ``{"action": "warm_transfer", "to", "role", "trigger_source"}``;
        returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such node),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
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
        """Transfer to ``to`` directly; ``trigger_source`` leaves the call.

        ``POST {base}/phlo/{phlo_id}/multi_party_call/{node_id}`` of
        ``{"action": "cold_transfer", "to", "role", "trigger_source"}``;
        returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such node),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("cold_transfer", trigger_source, to, role, timeout, options)

    def member(self, member_address: str) -> Member:
        """A :class:`Member` handle on one member (phone number or SIP URI).

        Sends nothing, so it is never retried; raises
        :class:`~plivo_phlo_async.InvalidParameterError` for an address that is not one.
        """
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
        """Return to the call after a warm transfer (initiator or recipient).

        ``POST {base}/phlo/{phlo_id}/multi_party_call/{node_id}/members/{member_address}``
        of ``{"action": "resume_call"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
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
        """Abort a transfer this member initiated.

        ``POST {base}/phlo/{phlo_id}/multi_party_call/{node_id}/members/{member_address}``
        of ``{"action": "abort_transfer"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
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
        """Play the node's voicemail message to an answering machine.

        ``POST {base}/phlo/{phlo_id}/multi_party_call/{node_id}/members/{member_address}``
        of ``{"action": "voicemail_drop"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("voicemail_drop", timeout, options)


def prepare_action(node: MultiPartyCall, params: NodeActionParams) -> PreparedRequest[ActionResult]:
    """The POST of a node action already validated, for :func:`send_prepared`
    (the bulk runner checks every job before sending any)."""
    return PreparedRequest("POST", node._url, ActionResult, params.to_json())
