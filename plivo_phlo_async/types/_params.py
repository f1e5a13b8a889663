"""Request bodies, validated by pydantic before anything is sent."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from .._exceptions import InvalidParameterError
from .._validation import (
    MAX_BODY_BYTES,
    MAX_CALL_SECONDS,
    address_key,
    body_too_large,
    bytes_reason,
    check_address,
    check_call_uuid,
    check_caller_name,
    check_http_url,
    check_identifier,
    check_plain_value,
)
from ._base import LazyPrivate, LazyPrivateModel

if TYPE_CHECKING:
    from typing_extensions import Self

Address = Annotated[str, AfterValidator(check_address)]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
CallerName = Annotated[str, AfterValidator(check_caller_name)]
CallUuid = Annotated[str, AfterValidator(check_call_uuid)]
Identifier = Annotated[str, AfterValidator(check_identifier)]

NodeAction = Literal["call", "warm_transfer", "cold_transfer"]
MemberAction = Literal[
    "hold",
    "unhold",
    "hangup",
    "resume_call",
    "abort_transfer",
    "voicemail_drop",
    "mute",
    "unmute",
]
#: The member actions of a conference-bridge node.
ConferenceBridgeMemberAction = Literal["mute", "unmute", "hold", "unhold", "hangup"]
Role = Literal["agent", "customer"]
#: The same vocabularies as tuples, in the order above. These Literals are the
#: one list of actions and roles: bulk jobs, the command line and the emulator
#: derive theirs from them, so a new action is added here and nowhere else.
NODE_ACTIONS: tuple[NodeAction, ...] = get_args(NodeAction)
MEMBER_ACTIONS: tuple[MemberAction, ...] = get_args(MemberAction)
CONFERENCE_BRIDGE_MEMBER_ACTIONS: tuple[ConferenceBridgeMemberAction, ...] = get_args(
    ConferenceBridgeMemberAction
)
ROLES: tuple[Role, ...] = get_args(Role)

# Keys and values of Plivo's SIP headers: letters and digits only.
_SIP_HEADERS = re.compile(r"[A-Za-z0-9]+=[A-Za-z0-9]+(?:,[A-Za-z0-9]+=[A-Za-z0-9]+)*")
#: Most destinations one call may name (Plivo's Make-a-call page: 1,000 unique ones).
MAX_CALL_DESTINATIONS = 1000
# DTMF digits, 'w' (0.5 s) and 'W' (1 s) pauses, then an optional '@<ms>' tone length.
# The tone length is in milliseconds; Plivo gives no maximum, five digits
# (up to 99,999 ms per tone) is far beyond any use.
_SEND_DIGITS = re.compile(r"^[0-9A-Da-d*#wW]+(?:@[0-9]{1,5})?$")


class _Params(LazyPrivateModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # The encoded body, made once when the model is validated.
    _body = LazyPrivate[bytes](b"")

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: Any) -> Any:
        """No bytes anywhere, and text must be valid Unicode (see check_plain_value)."""
        return check_plain_value(value)

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate, then encode the body once and refuse one over MAX_BODY_BYTES.

        The size error is raised as is (pydantic would wrap it without a
        field); it names the argument that takes the most room.
        """
        params = super().model_validate(obj, **options)
        body = params.__pydantic_serializer__.to_json(params, by_alias=True, exclude_none=True)
        if len(body) > MAX_BODY_BYTES:
            sizes = {
                name: len(json.dumps(value))
                for name, value in params.model_dump(mode="json", exclude_none=True).items()
            }
            largest = max(sizes, key=sizes.__getitem__)
            raise InvalidParameterError(largest, body_too_large(len(body)))
        params._body = body
        return params

    def to_json(self) -> bytes:
        """The JSON body in field order: Plivo's names, unset arguments left out."""
        body = self._body
        if not body:
            body = self._body = self.__pydantic_serializer__.to_json(
                self, by_alias=True, exclude_none=True
            )
        return body


class NodeUpdateParams(_Params):
    """Body of ``POST .../{node_type}/{node_id}`` for any node type (``Node.update``);
    field order is wire order."""

    action: Identifier
    to: Address
    role: Role = "agent"
    trigger_source: Address


class NodeActionParams(NodeUpdateParams):
    """Body of ``POST .../multi_party_call/{node_id}``: one of the node's three actions."""

    action: NodeAction


class MemberActionParams(_Params):
    """Body of ``POST .../{node_type}/{node_id}/members/{member_address}``."""

    action: MemberAction


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _bool_to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


HttpMethod = Annotated[Literal["GET", "POST"], BeforeValidator(_upper)]


def _reject_bool(value: Any) -> Any:
    # A bool is an int to Python, and True must not become a 1-second limit.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a bool")
    return value


# 1 s to one day: Plivo documents no maximum (see MAX_CALL_SECONDS).
PositiveSeconds = Annotated[int, BeforeValidator(_reject_bool), Field(gt=0, le=MAX_CALL_SECONDS)]


class CallCreateParams(_Params):
    """Body of the Voice API's ``POST /Account/{auth_id}/Call/``."""

    from_: Address = Field(alias="from")
    to: str
    answer_url: HttpUrl
    answer_method: HttpMethod | None = None
    ring_url: HttpUrl | None = None
    ring_method: HttpMethod | None = None
    hangup_url: HttpUrl | None = None
    hangup_method: HttpMethod | None = None
    fallback_url: HttpUrl | None = None
    fallback_method: HttpMethod | None = None
    caller_name: Annotated[CallerName, StringConstraints(min_length=1, max_length=50)] | None = None
    send_digits: Annotated[str, StringConstraints(pattern=_SEND_DIGITS.pattern)] | None = None
    send_on_preanswer: bool | None = None
    time_limit: PositiveSeconds | None = None
    hangup_on_ring: PositiveSeconds | None = None
    machine_detection: (
        Annotated[Literal["true", "false", "hangup"], BeforeValidator(_bool_to_text)] | None
    ) = None
    machine_detection_time: (
        Annotated[int, BeforeValidator(_reject_bool), Field(ge=2000, le=10000)] | None
    ) = None
    machine_detection_url: HttpUrl | None = None
    machine_detection_method: HttpMethod | None = None
    sip_headers: str | None = None
    ring_timeout: PositiveSeconds | None = None
    parent_call_uuid: Annotated[CallUuid, StringConstraints(min_length=1)] | None = None
    error_if_parent_not_found: bool | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _join_destinations(cls, value: Any) -> Any:
        """Accept one destination, a list of them, or a '<'-joined string."""
        check_plain_value(value)
        if isinstance(value, str):
            parts = value.split("<")
        elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
            parts = list(value)
            if not parts:
                raise ValueError("must name at least one destination")
        else:
            raise ValueError("must be a phone number, a SIP URI, or a list of them")
        for part in parts:
            if isinstance(part, (bytes, bytearray, memoryview)):
                raise ValueError(f"every destination {bytes_reason(part)}")
            if not isinstance(part, str):
                raise ValueError("every destination must be a string")
            check_address(part)
        return "<".join(parts)

    @field_validator("to")
    @classmethod
    def _check_destinations(cls, value: str, info: ValidationInfo) -> str:
        """At most 1,000 unique destinations, none of them the source (as
        plivo-python: "src and destination cannot overlap"). Addresses are
        compared by :func:`address_key`: ``+1415...`` is ``1415...``."""
        destinations = {address_key(part) for part in value.split("<")}
        if len(destinations) > MAX_CALL_DESTINATIONS:
            raise ValueError(
                f"names {len(destinations):,} unique destinations; Plivo calls at most "
                f"{MAX_CALL_DESTINATIONS:,} at once"
            )
        source = info.data.get("from_")
        if source is not None and address_key(source) in destinations:
            raise ValueError(f"must not include the source (from_ {source!r}): a call to itself")
        return value

    @field_validator("sip_headers", mode="before")
    @classmethod
    def _format_sip_headers(cls, value: Any) -> Any:
        """Accept 'k=v,k2=v2' or a mapping; letters and digits only."""
        check_plain_value(value)
        if isinstance(value, Mapping):
            for item in (*value.keys(), *value.values()):
                if isinstance(item, (bytes, bytearray, memoryview)):
                    raise ValueError(f"a mapping's keys and values {bytes_reason(item)}")
                if not isinstance(item, str):
                    raise ValueError(
                        f"a mapping's keys and values must be strings, not {type(item).__name__}"
                    )
            value = ",".join(f"{key}={val}" for key, val in value.items())
        if isinstance(value, str) and not _SIP_HEADERS.fullmatch(value):
            raise ValueError(
                "must be 'key=value' pairs separated by commas, letters and digits only"
            )
        return value
