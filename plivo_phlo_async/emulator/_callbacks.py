"""Signed callbacks: the ``ring``/``answer``/``hangup`` requests Plivo would send for a call
(what they hold: docs/webhooks.md, "Testing a bot end to end").

Only loopback URLs are requested, so nothing leaves the machine. They go out from a
short-lived thread per API request, so the API answers at once and a slow or dead webhook
never blocks it; every outcome is recorded in :class:`CallbackLog`, none raised.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from .._base_client import _is_loopback
from ..webhooks._signature import NONCE_HEADER, SIGNATURE_HEADER, sign_v3
from ._records import CallbackRecord

__all__ = ["CallbackLog", "plan_callbacks", "send_callbacks"]

#: Seconds a webhook gets to answer before the callback is recorded as failed.
CALLBACK_TIMEOUT = 10.0
_ANSWER_TEXT_LIMIT = 4096
_USER_AGENT = "plivo-phlo-async-emulator"
_SKIPPED = "not a loopback address: the emulator only calls back to this machine"


class CallbackLog:
    """Every callback of an emulator; its own lock, so waiting never holds the state's."""

    def __init__(self) -> None:
        self._records: list[CallbackRecord] = []
        self._changed = threading.Condition()

    def add(self, record: CallbackRecord) -> CallbackRecord:
        with self._changed:
            record.seq = len(self._records) + 1
            self._records.append(record)
            self._changed.notify_all()
        return record

    def settle(self, record: CallbackRecord, **outcome: Any) -> None:
        with self._changed:
            for name, value in outcome.items():
                setattr(record, name, value)
            self._changed.notify_all()

    @property
    def records(self) -> list[CallbackRecord]:
        with self._changed:
            return list(self._records)

    def wait(self, *, count: int | None, timeout: float) -> list[CallbackRecord]:
        """Block until nothing is pending (and at least ``count`` exist), or time out."""

        def done() -> bool:
            enough = count is None or len(self._records) >= count
            return enough and all(r.state != "pending" for r in self._records)

        with self._changed:
            if not self._changed.wait_for(done, timeout=timeout):
                pending = sum(r.state == "pending" for r in self._records)
                raise TimeoutError(
                    f"callbacks not settled after {timeout} s: {len(self._records)} recorded"
                    f" ({pending} pending), {count} expected"
                )
            return list(self._records)


def is_loopback_url(url: str) -> bool:
    try:
        return _is_loopback((urlsplit(url).hostname or "").lower())
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


def _timestamp(now: _dt.datetime) -> str:
    return now.strftime("%Y-%m-%d %H:%M:%S")


def _sip_header_params(value: Any) -> dict[str, str]:
    """``sip_headers`` (``a=1,b=2``) as Plivo passes them on: ``X-PH-a=1``..."""
    if not isinstance(value, str) or not value:
        return {}
    pairs = (item.partition("=") for item in value.split(","))
    return {f"X-PH-{key}": val for key, _, val in pairs}


def _call_params(
    *,
    call_uuid: str,
    from_: str,
    to: str,
    auth_id: str,
    options: Mapping[str, Any],
    now: _dt.datetime,
) -> dict[str, str]:
    params = {
        "ALegRequestUUID": call_uuid,
        "ALegUUID": call_uuid,
        "BillRate": "0.00500",
        "CallUUID": call_uuid,
        "Direction": "outbound",
        "From": from_.lstrip("+"),
        "ParentAuthID": auth_id,
        "RequestUUID": call_uuid,
        "SessionStart": now.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "To": to.lstrip("+"),
    }
    if isinstance(options.get("caller_name"), str):
        params["CallerName"] = options["caller_name"]
    params.update(_sip_header_params(options.get("sip_headers")))
    return params


def plan_callbacks(
    log: CallbackLog,
    *,
    auth_id: str,
    auth_token: str,
    from_: str,
    destinations: Sequence[tuple[str, str]],
    options: Mapping[str, Any],
) -> list[CallbackRecord]:
    """Record the callbacks of new calls (``(call_uuid, to)`` each), signed; return those to send.

    Non-loopback ones are recorded as skipped and not returned.
    """
    now = _dt.datetime.now(_dt.timezone.utc)
    stages = [
        (
            "ring",
            options.get("ring_url"),
            options.get("ring_method"),
            {"CallStatus": "ringing", "Event": "Ring"},
        ),
        (
            "answer",
            options.get("answer_url"),
            options.get("answer_method"),
            {"CallStatus": "in-progress", "Event": "StartApp"},
        ),
        (
            "hangup",
            options.get("hangup_url"),
            options.get("hangup_method"),
            {
                "CallStatus": "completed",
                "Event": "Hangup",
                "AnswerTime": _timestamp(now),
                "StartTime": _timestamp(now),
                "EndTime": _timestamp(now),
                "Duration": "1",
                "BillDuration": "60",
                "TotalCost": "0.00500",
                "HangupCause": "NORMAL_CLEARING",
                "HangupCauseCode": "4000",
                "HangupCauseName": "Normal Hangup",
                "HangupSource": "Callee",
            },
        ),
    ]
    to_send: list[CallbackRecord] = []
    for call_uuid, to in destinations:
        common = _call_params(
            call_uuid=call_uuid, from_=from_, to=to, auth_id=auth_id, options=options, now=now
        )
        for event, url, method, extra in stages:
            if not isinstance(url, str):
                continue
            verb = method.upper() if isinstance(method, str) else "POST"
            record = _planned(call_uuid, event, verb, url, {**common, **extra}, auth_token)
            log.add(record)
            if record.error is not None:
                log.settle(record, state="failed")
            elif is_loopback_url(record.url):
                to_send.append(record)
            else:
                log.settle(record, state="skipped", error=_SKIPPED)
    return to_send


def _planned(
    call_uuid: str, event: str, verb: str, url: str, params: dict[str, str], auth_token: str
) -> CallbackRecord:
    """One signed callback; a URL that cannot be signed gives a record with ``error``."""
    nonce = f"{secrets.randbelow(10**20):020d}"
    record = CallbackRecord(
        seq=0,
        call_uuid=call_uuid,
        event=event,
        method=verb,
        url=url,
        params=params,
        nonce=nonce,
        signature="",
    )
    try:
        if verb == "GET":  # the parameters go in the query, as Plivo sends them
            separator = "&" if urlsplit(url).query else "" if url.endswith("?") else "?"
            record.url = url + separator + urlencode(params)
        signed = {} if verb == "GET" else params
        record.signature = sign_v3(
            method=verb, url=record.url, params=signed, nonce=nonce, auth_token=auth_token
        )
    except ValueError as exc:  # InvalidParameterError included
        record.error = f"cannot sign this URL: {exc}"
    return record


def send_callbacks(log: CallbackLog, records: Sequence[CallbackRecord]) -> None:
    """Send ``records`` in order from a background thread; returns at once."""
    if records:
        thread = threading.Thread(
            target=_deliver_all,
            args=(log, list(records)),
            name="plivo-emulator-callbacks",
            daemon=True,
        )
        thread.start()


def _deliver_all(log: CallbackLog, records: list[CallbackRecord]) -> None:
    try:
        with httpx.Client(
            timeout=CALLBACK_TIMEOUT, trust_env=False, follow_redirects=False
        ) as http:
            for record in records:
                _deliver(http, log, record)
    except BaseException as exc:  # never let a thread die with callbacks left pending
        for record in records:
            if record.state == "pending":
                log.settle(record, state="failed", error=f"{type(exc).__name__}: {exc}")


def _deliver(http: httpx.Client, log: CallbackLog, record: CallbackRecord) -> None:
    headers = {
        SIGNATURE_HEADER: record.signature,
        NONCE_HEADER: record.nonce,
        "User-Agent": _USER_AGENT,
    }
    form = None if record.method == "GET" else record.params  # GET: already in the URL
    try:
        response = http.request(record.method, record.url, headers=headers, data=form)
    except Exception as exc:
        log.settle(record, state="failed", headers=headers, error=f"{type(exc).__name__}: {exc}")
        return
    log.settle(
        record,
        state="delivered",
        headers=headers,
        status=response.status_code,
        answer_text=response.text[:_ANSWER_TEXT_LIMIT],
    )
