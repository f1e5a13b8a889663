"""The Voice API's outbound call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from .._base_client import TimeoutTypes
from .._request_options import ExtraBody, ExtraHeaders, ExtraQuery, request_options
from .._validation import validate_model
from ..types import CallCreateResult
from ..types._params import CallCreateParams
from ._resource import Resource

HttpMethodName = Literal["GET", "POST"]


class Calls(Resource):
    """``client.calls``: start outbound calls through the Voice API."""

    async def create(
        self,
        from_: str,
        to: str | Sequence[str],
        answer_url: str,
        *,
        answer_method: HttpMethodName | None = None,
        ring_url: str | None = None,
        ring_method: HttpMethodName | None = None,
        hangup_url: str | None = None,
        hangup_method: HttpMethodName | None = None,
        fallback_url: str | None = None,
        fallback_method: HttpMethodName | None = None,
        caller_name: str | None = None,
        send_digits: str | None = None,
        send_on_preanswer: bool | None = None,
        time_limit: int | None = None,
        hangup_on_ring: int | None = None,
        machine_detection: bool | Literal["true", "false", "hangup"] | None = None,
        machine_detection_time: int | None = None,
        machine_detection_url: str | None = None,
        machine_detection_method: HttpMethodName | None = None,
        sip_headers: str | Mapping[str, str] | None = None,
        ring_timeout: int | None = None,
        parent_call_uuid: str | None = None,
        error_if_parent_not_found: bool | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> CallCreateResult:
        """``POST {voice_base}/Account/{auth_id}/Call/``: start a call.

        ``to`` may be a list of destinations: Plivo calls them all at once
        (sent joined with ``<``). Arguments left as ``None`` are not sent, so
        Plivo's defaults apply. Plivo queues calls beyond the account's
        calls-per-second limit (answer ``message`` "call queued").
        ``extra_body`` sends Voice API parameters this method does not list
        (its keys win over the listed ones).

        Returns the :class:`~plivo_phlo_async.CallCreateResult` (``request_uuid``).
        Raises :class:`~plivo_phlo_async.InvalidParameterError` for a bad argument
        (nothing sent), an :class:`~plivo_phlo_async.APIStatusError` when Plivo refuses
        (:class:`~plivo_phlo_async.BadRequestError`: a parameter it rejects),
        :class:`~plivo_phlo_async.OutcomeUnknownError` when it may have been executed,
        :class:`~plivo_phlo_async.APIConnectionError` when it could not be sent. Never
        re-sent once it may have reached Plivo; retried only when it certainly did not
        (a failed connection, a 429).
        """
        options = request_options(extra_headers, extra_query, extra_body)
        params = validate_model(
            CallCreateParams,
            {
                "from": from_,
                "to": to,
                "answer_url": answer_url,
                "answer_method": answer_method,
                "ring_url": ring_url,
                "ring_method": ring_method,
                "hangup_url": hangup_url,
                "hangup_method": hangup_method,
                "fallback_url": fallback_url,
                "fallback_method": fallback_method,
                "caller_name": caller_name,
                "send_digits": send_digits,
                "send_on_preanswer": send_on_preanswer,
                "time_limit": time_limit,
                "hangup_on_ring": hangup_on_ring,
                "machine_detection": machine_detection,
                "machine_detection_time": machine_detection_time,
                "machine_detection_url": machine_detection_url,
                "machine_detection_method": machine_detection_method,
                "sip_headers": sip_headers,
                "ring_timeout": ring_timeout,
                "parent_call_uuid": parent_call_uuid,
                "error_if_parent_not_found": error_if_parent_not_found,
            },
            arguments={"from": "from_"},
        )
        return await self._post(
            self._voice_call_url,
            CallCreateResult,
            content=params.to_json(),
            timeout=timeout,
            options=options,
        )
