"""What every member handle shares: the checked address and the one POST."""

from __future__ import annotations

from .._base_client import BaseClient, TimeoutTypes
from .._request_options import (
    ExtraBody,
    ExtraHeaders,
    ExtraQuery,
    RequestOptions,
    request_options,
)
from .._validation import validate_address, validate_model, validate_path_id
from ..types import ActionResult
from ..types._params import MemberAction, MemberActionParams
from ._resource import PreparedRequest, Resource


class MemberHandle(Resource):
    """A member of a node's call, by phone number or SIP URI. Creating it sends nothing.

    The actions every node type takes (mute, unmute, hold, unhold, hangup) are
    here; a node type's own handle adds the rest.

    Every action is one ``POST .../members/{member_address}`` of
    ``{"action": name}``, sent through the client's one send path: like a
    run, it is never re-sent once it may have reached Plivo.
    """

    __slots__ = ("_url", "member_address")

    def __init__(self, client: BaseClient, node_url: str, member_address: str) -> None:
        validate_address("member_address", member_address)
        super().__init__(client)
        self.member_address = member_address
        """The member's phone number or SIP URI, as given."""
        self._url = f"{node_url}/members/{validate_path_id('member_address', member_address)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(member_address={self.member_address!r})"

    async def mute(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Mute the member: the others stop hearing them (they still hear the call).

        ``POST {base}/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}``
        of ``{"action": "mute"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...``
        argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo
        refuses (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("mute", timeout, options)

    async def unmute(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Let the others hear the member again.

        ``POST {base}/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}``
        of ``{"action": "unmute"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...``
        argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo
        refuses (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("unmute", timeout, options)

    async def hold(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Put the member on hold: muted, hearing the node's hold music.

        ``POST {base}/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}``
        of ``{"action": "hold"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...``
        argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo
        refuses (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("hold", timeout, options)

    async def unhold(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Take the member off hold.

        ``POST {base}/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}``
        of ``{"action": "unhold"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...``
        argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo
        refuses (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("unhold", timeout, options)

    async def hangup(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ActionResult:
        """Disconnect the member from the call.

        ``POST {base}/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}``
        of ``{"action": "hangup"}``; returns the :class:`~plivo_phlo_async.ActionResult`.
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad ``extra_...``
        argument (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo
        refuses (:class:`~plivo_phlo_async.NotFoundError`: no such member),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        return await self._act("hangup", timeout, options)

    async def _act(
        self,
        action: MemberAction,
        timeout: TimeoutTypes | None,
        options: RequestOptions | None = None,
    ) -> ActionResult:
        params = validate_model(MemberActionParams, {"action": action})
        return await self._send(
            prepare_member_action(self, params), timeout=timeout, options=options
        )


def prepare_member_action(
    member: MemberHandle, params: MemberActionParams
) -> PreparedRequest[ActionResult]:
    """The POST of a member action already validated, for :func:`send_prepared`
    (the bulk runner checks every job before sending any)."""
    return PreparedRequest("POST", member._url, ActionResult, params.to_json())
