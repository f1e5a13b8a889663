"""The Voice API's ``POST /Account/{auth_id}/Call/``: check the body, dial
every destination, and send the signed callbacks (:mod:`._callbacks`).

Choices where the reference is silent: ``from`` and each ``to`` (joined
with ``<``) must be a phone number or a SIP URI; unknown parameters are 400.
As the reference and the official SDK say: at most 1,000 unique
destinations, and ``from`` is none of them (compared as the SDK compares
addresses, a number with or without its ``+``).
Numbers and booleans are accepted as strings and methods in any case (the
reference's own example sends ``"300"``, ``"true"`` and ``"POSt"``).
``error_if_parent_not_found`` with an unknown ``parent_call_uuid`` is 404.
Beyond the configured calls per second, calls are answered 200 "call
queued" instead of 201 "call fired".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .._validation import address_key, is_int
from ..types._params import MAX_CALL_DESTINATIONS
from ._http import both_slashes, check_account, check_keys, context, fail_if, json_object, ok
from ._state import is_address

__all__ = ["voice_routes"]

_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_DTMF = re.compile(r"[0-9A-Da-d#*wW]+(?:@\d+)?")
_SIP_HEADER_LIST = re.compile(r"[A-Za-z0-9]+=[A-Za-z0-9]+(?:,[A-Za-z0-9]+=[A-Za-z0-9]+)*")


def _url(value: Any) -> str | None:
    return None if isinstance(value, str) and _URL.fullmatch(value) else "an http(s) URL"


def _method(value: Any) -> str | None:
    return None if isinstance(value, str) and value.upper() in ("GET", "POST") else "GET or POST"


def _boolean(value: Any) -> str | None:
    ok = isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    return None if ok else "true or false"


def _integer(low: int, high: float = math.inf) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        number: int | None = None
        if is_int(value):
            number = value
        elif isinstance(value, str) and value.isdigit():
            number = int(value)
        if number is not None and low <= number <= high:
            return None
        return (
            f"an integer >= {low}" if high == math.inf else f"an integer between {low} and {high}"
        )

    return check


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda value: None if isinstance(value, str) and regex.fullmatch(value) else what


def _caller_name(value: Any) -> str | None:
    return None if isinstance(value, str) and 1 <= len(value) <= 50 else "1 to 50 characters"


def _machine_detection(value: Any) -> str | None:
    ok = isinstance(value, bool) or value in ("true", "false", "hangup")
    return None if ok else "true, false or hangup"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


_CALL_OPTIONS: dict[str, Callable[[Any], str | None]] = {
    "answer_method": _method,
    "ring_url": _url,
    "ring_method": _method,
    "hangup_url": _url,
    "hangup_method": _method,
    "fallback_url": _url,
    "fallback_method": _method,
    "caller_name": _caller_name,
    "send_digits": _pattern(_DTMF, "DTMF digits, w/W pauses and an optional @duration"),
    "send_on_preanswer": _boolean,
    "time_limit": _integer(1),
    "hangup_on_ring": _integer(1),
    "machine_detection": _machine_detection,
    "machine_detection_time": _integer(2000, 10000),
    "machine_detection_url": _url,
    "machine_detection_method": _method,
    "sip_headers": _pattern(_SIP_HEADER_LIST, "key=value pairs of letters and digits"),
    "ring_timeout": _integer(1),
    "parent_call_uuid": _text,
    "error_if_parent_not_found": _boolean,
}


async def create_call(request: Request) -> Response:
    emulator, record = context(request)
    check_account(record, request.path_params["auth_id"])
    data = await json_object(request)
    problems = check_keys(data, ("from", "to", "answer_url", *_CALL_OPTIONS))
    for key in ("from", "to", "answer_url"):
        if key not in data:
            problems.append(f"{key} is required")
    if "from" in data and not is_address(data["from"]):
        problems.append(f"from must be a phone number or a SIP URI, not {data['from']!r}")
    destinations: list[str] = []
    if "to" in data:
        to = data["to"]
        destinations = to.split("<") if isinstance(to, str) else []
        if not destinations or not all(is_address(part) for part in destinations):
            problems.append(
                "to must be phone numbers or SIP URIs separated by '<', not " + repr(to)
            )
        else:
            parties = {address_key(part) for part in destinations}
            if len(parties) > MAX_CALL_DESTINATIONS:
                problems.append(
                    f"to must have at most {MAX_CALL_DESTINATIONS} unique destinations,"
                    f" not {len(parties)}"
                )
            source = data.get("from")
            if isinstance(source, str) and is_address(source) and address_key(source) in parties:
                problems.append("from must not be one of the destinations in to")
    if "answer_url" in data and _url(data["answer_url"]) is not None:
        problems.append(f"answer_url must be an http(s) URL, not {data['answer_url']!r}")
    for key, check in _CALL_OPTIONS.items():
        if key in data:
            expected = check(data[key])
            if expected is not None:
                problems.append(f"{key} must be {expected}, not {data[key]!r}")
    fail_if(problems)
    uuids, queued = emulator.place_calls(record, destinations, data)
    request_uuid: str | list[str] = uuids[0] if len(uuids) == 1 else uuids
    if queued:
        return ok(request, 200, {"message": "call queued", "request_uuid": request_uuid})
    return ok(request, 201, {"message": "call fired", "request_uuid": request_uuid})


def voice_routes() -> list[BaseRoute]:
    return both_slashes("/v1/Account/{auth_id}/Call/", create_call, ["POST"])
