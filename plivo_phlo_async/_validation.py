"""Field rules shared by the request models, and the bridge to our errors.

Every value that ends up in a URL path or a request body is checked here
before a request is built, so bad input never reaches the network.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import ValidationError  # pydantic_core's: loads no model machinery

from ._exceptions import InvalidParameterError

if TYPE_CHECKING:  # pydantic's models load with the first model (types, resources)
    from pydantic import BaseModel

# Digits with an optional leading "+"; 15 digits is the E.164 maximum.
_PHONE_NUMBER = re.compile(r"\+?[0-9]{1,15}")
# sip:user@host[:port]. The user part takes RFC 3261's unreserved characters
# and the escapes and delimiters that cannot alter a URL path; "<" is
# excluded because Plivo uses it to separate bulk-call destinations. The
# port's range (1-65535) is checked apart, for a clearer reason.
_SIP_URI = re.compile(
    r"(?P<scheme>sips?):(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,;%]+)"
    r"@(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?"
)
# Longer ids are not Plivo's and would make URLs that httpx refuses.
MAX_ID_LENGTH = 256
# Characters that could change which URL is requested, wherever they appear.
_PATH_BREAKERS = frozenset("/\\?#")
# Kept literally in a path segment: RFC 3986 allows them there and Plivo's
# own SDKs send phone numbers ("+1415...") and SIP URIs unencoded.
_PATH_SAFE = "+:@"

#: Deepest nesting accepted in a PHLO run payload (the payload itself is level
#: 1). A Start node reads flat key/value pairs, so real payloads are one or two
#: levels deep; 64 leaves ample room for structured values while staying far
#: below the depth at which Python's own ``json`` (about 1,000) or a server's
#: parser gives up. The check iterates with an explicit stack, so a payload of
#: any depth is refused without recursion.
MAX_PAYLOAD_DEPTH = 64
#: Largest request body sent, encoded (1 MiB). A PHLO payload or a call's
#: arguments are a few hundred bytes; 1 MiB is also the default body limit of
#: nginx (``client_max_body_size``), the usual front of an HTTP API, so a larger
#: body would most likely be refused after it had been sent in full.
MAX_BODY_BYTES = 1024 * 1024
#: Integers in a run payload must fit in 64 bits: the parsers behind an HTTP
#: API (Go's int64, Java's long, JavaScript's double even less) cannot read a
#: larger JSON number exactly, and Python's own refuses more than 4,300 digits.
MAX_PAYLOAD_INT = 2**63 - 1
#: Upper bound of the Voice API's durations in seconds (``time_limit``,
#: ``hangup_on_ring``, ``ring_timeout``). Plivo documents their defaults (4 h
#: and 120 s) but no maximum; one day is far beyond any call Plivo would keep
#: up and small enough for any parser.
MAX_CALL_SECONDS = 86_400

#: Surrogate code points: a lone one cannot be encoded as UTF-8 (or sent).
SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 control characters, DEL included.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BYTES_TYPES = (bytes, bytearray, memoryview)
#: What ``json.dumps(allow_nan=False, separators=(",", ":"), ensure_ascii=False)``
#: builds on every call (0.5 us a payload): made once, it holds no state between calls.
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def is_int(value: object) -> TypeGuard[int]:
    """An ``int`` that is not a ``bool`` (``True`` must never pass for 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """An ``int`` or ``float`` that is not a ``bool``; NaN and infinities pass
    (check the range where they matter)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def describe(value: object, limit: int = 40) -> str:
    """A short description of ``value`` for an error message; never raises.

    ``repr`` itself can fail (an int of more than 4,300 digits, a list nested
    deeper than the recursion limit), so only plain scalars are shown.
    """
    if is_int(value) and value.bit_length() > 64:
        return f"an int of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    if value is None or isinstance(value, (str, int, float)):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return f"a {type(value).__name__}"


def check_text(value: str) -> str:
    """Text must be valid Unicode: no surrogate code points (they cannot be sent)."""
    if not value.isascii():
        found = SURROGATE.search(value)
        if found:
            raise ValueError(
                f"contains the lone surrogate U+{ord(found.group()):04X} at index "
                f"{found.start()}, which is not valid Unicode text"
            )
    return value


def bytes_reason(value: object) -> str:
    return (
        f"must be a string (str), not {type(value).__name__}: "
        "bytes are never accepted, decode them first"
    )


def check_plain_value(value: Any) -> Any:
    """Rules for every argument of a request body, before its type is checked.

    Bytes are refused everywhere (pydantic would decode them for a text
    argument and read ``b"true"`` as ``True``), and text must be valid Unicode.
    """
    if isinstance(value, _BYTES_TYPES):
        raise ValueError(bytes_reason(value))
    if isinstance(value, str):
        check_text(value)
    return value


def check_path_id(value: str) -> str:
    """Reject ids that could change the URL's path or query."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"must be at most {MAX_ID_LENGTH} characters long")
    if any(char in _PATH_BREAKERS for char in value):
        raise ValueError("must not contain '/', '\\', '?' or '#'")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError("must not contain whitespace or control characters")
    if ".." in value or value == ".":
        raise ValueError("must not contain '..' or be '.'")
    return value


def check_address(value: str) -> str:
    """A phone number (digits, optional leading '+') or a SIP URI."""
    if _PHONE_NUMBER.fullmatch(value):
        return value
    sip = _SIP_URI.fullmatch(value)
    if sip is None:
        raise ValueError(
            "must be a phone number (digits with an optional leading '+', at most 15) "
            "or a SIP URI such as 'sip:alice@example.com'"
        )
    port = sip["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"names SIP port {port}: a port is 1 to 65535")
    return value


def address_key(value: str) -> str:
    """What identifies a checked address's party, to compare two addresses.

    A phone number with or without its '+' is the same number (Plivo reads
    both as E.164); a SIP URI's host is case-insensitive (RFC 3261 19.1.4),
    its user part is not.
    """
    sip = _SIP_URI.fullmatch(value)
    if sip is None:
        return value.removeprefix("+")
    start, end = sip.span("host")
    return value[:start] + value[start:end].lower() + value[end:]


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host, no whitespace or control characters,
    that parses (``http://[`` does not)."""
    check_text(value)
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, CR, LF...)")
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value, flags=re.IGNORECASE):
        raise ValueError("must be an absolute http:// or https:// URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- reading it checks the port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL: {exc}") from None
    if not parts.hostname:
        raise ValueError("must name a host")
    return value


def check_caller_name(value: str) -> str:
    """A caller name is shown on a phone: no control characters (CR, LF, NUL...)."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, CR, LF...)")
    return value


def check_call_uuid(value: str) -> str:
    """A call UUID: no whitespace or control characters, not absurdly long."""
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"must be at most {MAX_ID_LENGTH} characters long")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


#: A node type or an action as Plivo names them: ``multi_party_call``, ``warm_transfer``...
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,63}")
_IDENTIFIER_RULE = "a lowercase letter, then up to 63 lowercase letters, digits or underscores"


def check_identifier(value: str) -> str:
    """A node action as Plivo spells them (``warm_transfer``): nothing else is one."""
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"must be {_IDENTIFIER_RULE}, not {describe(value)}")
    return value


def encode_path_segment(value: str) -> str:
    """Percent-encode a checked id for use as one URL path segment."""
    return quote(value, safe=_PATH_SAFE)


ModelT = TypeVar("ModelT", bound="BaseModel")


def validate_model(
    model: type[ModelT], data: dict[str, Any], arguments: Mapping[str, str] | None = None
) -> ModelT:
    """Build ``model`` from ``data``, turning pydantic's error into ours.

    ``arguments`` maps wire names to the Python argument names the caller
    used (``from`` -> ``from_``), so the error names what the caller wrote.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise to_parameter_error(exc, arguments) from None


def validate_path_id(field: str, value: object) -> str:
    """Check one id argument and return it percent-encoded for the URL."""
    if isinstance(value, _BYTES_TYPES):
        raise InvalidParameterError(field, bytes_reason(value))
    if not isinstance(value, str):
        raise InvalidParameterError(field, f"must be a string, not {type(value).__name__}")
    try:
        check_path_id(value)
        check_text(value)
    except ValueError as exc:
        raise InvalidParameterError(field, str(exc)) from None
    return encode_path_segment(value)


def validate_node_type(value: object) -> str:
    """Check a node type: lowercase letters, digits and underscores, so it can
    only ever name one path segment (no '/', '..', '%' or case tricks)."""
    if isinstance(value, _BYTES_TYPES):
        raise InvalidParameterError("node_type", bytes_reason(value))
    if not isinstance(value, str):
        raise InvalidParameterError("node_type", f"must be a string, not {type(value).__name__}")
    if not _IDENTIFIER.fullmatch(value):
        raise InvalidParameterError(
            "node_type",
            f"must be a node type such as 'multi_party_call': {_IDENTIFIER_RULE}, "
            f"not {describe(value)}",
        )
    return value


def validate_address(field: str, value: object) -> str:
    """Check one address argument (phone number or SIP URI)."""
    if isinstance(value, _BYTES_TYPES):
        raise InvalidParameterError(field, bytes_reason(value))
    if not isinstance(value, str):
        raise InvalidParameterError(field, f"must be a string, not {type(value).__name__}")
    try:
        return check_address(value)
    except ValueError as exc:
        raise InvalidParameterError(field, str(exc)) from None


def to_parameter_error(
    exc: ValidationError, arguments: Mapping[str, str] | None = None
) -> InvalidParameterError:
    """Name each failing field and give its reason without pydantic's noise."""
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "payload"
        if arguments:
            location = arguments.get(location, location)
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append((location, message))
    field, reason = problems[0]
    return InvalidParameterError(field, reason, problems)


def _json_path(keys: list[object], field: str = "payload") -> str:
    """``payload['a'][0]``; a deep path shows its first and last steps only."""
    steps = [f"[{describe(key)}]" for key in (keys if len(keys) <= 6 else keys[:3] + keys[-2:])]
    if len(keys) > 6:
        steps.insert(3, f"...({len(keys) - 5} more)...")
    return field + "".join(steps)


def _check_json_scalar(value: object) -> str | None:
    """Why ``value`` cannot be a JSON scalar of a payload, or None if it can."""
    if isinstance(value, str):
        try:
            check_text(value)
        except ValueError as exc:
            return str(exc)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -MAX_PAYLOAD_INT - 1 <= value <= MAX_PAYLOAD_INT:
            return (
                f"{describe(value)} does not fit in 64 bits, which a JSON parser can "
                "read exactly; send it as a string"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"{describe(value)} is not JSON-serialisable (only finite numbers are)"
    elif isinstance(value, _BYTES_TYPES):
        return bytes_reason(value) + " (not JSON-serialisable)"
    else:
        return (
            f"is not JSON-serialisable: {type(value).__name__} is not a str, number, "
            "bool, None, dict, list or tuple"
        )
    return None


def encode_json_payload(body: dict[str, Any], field: str = "payload") -> bytes:
    """Check a PHLO run payload and encode it, or raise ``InvalidParameterError``.

    Walks the payload with an explicit stack of iterators (one per level, so at
    most :data:`MAX_PAYLOAD_DEPTH` of them): no recursion, memory bounded by the
    depth, and a payload too large is refused before it is walked whole. The
    error's ``field`` is ``field`` (the argument's name); its reason names the
    key path.
    """
    # Every element costs at least one byte and a separator.
    budget = MAX_BODY_BYTES - 2 * len(body)
    frames: list[Iterator[tuple[object, Any]]] = [iter(body.items())]
    is_mapping = [True]
    keys: list[object] = [None]
    while frames:
        if budget < 0:
            raise InvalidParameterError(field, body_too_large(None))
        for key, value in frames[-1]:
            keys[-1] = key
            if is_mapping[-1]:
                # Only strings: json.dumps would turn 1, 1.0, True or None into
                # text silently, and {1: "x", "1": "y"} would send "1" twice.
                if isinstance(key, str):
                    problem = _check_json_scalar(key)
                    budget -= len(key) + 3
                else:
                    problem = (
                        f"keys must be strings, not {type(key).__name__} (JSON would "
                        "turn it into text, which may repeat another key)"
                    )
                if problem:
                    raise InvalidParameterError(
                        field, f"key {describe(key)} at {_json_path(keys[:-1], field)}: {problem}"
                    )
            if isinstance(value, (dict, list, tuple)):
                if len(frames) >= MAX_PAYLOAD_DEPTH:
                    raise InvalidParameterError(
                        field,
                        f"{_json_path(keys, field)} is nested deeper than "
                        f"{MAX_PAYLOAD_DEPTH} levels (or contains itself); a PHLO payload "
                        "is flat key/value pairs",
                    )
                budget -= 2 * len(value) + 2
                if isinstance(value, dict):
                    frames.append(iter(value.items()))
                    is_mapping.append(True)
                else:
                    frames.append(enumerate(value))
                    is_mapping.append(False)
                keys.append(None)
                break
            problem = _check_json_scalar(value)
            if problem:
                raise InvalidParameterError(field, f"{_json_path(keys, field)} {problem}")
            budget -= len(value) + 2 if isinstance(value, str) else 1
            if budget < 0:
                break
        else:
            frames.pop()
            is_mapping.pop()
            keys.pop()
    try:
        encoded = _JSON_ENCODER.encode(body).encode()
    except (TypeError, ValueError, RecursionError) as exc:  # a type json rejects that we missed
        raise InvalidParameterError(field, f"must be JSON-serialisable: {exc}") from None
    if len(encoded) > MAX_BODY_BYTES:
        raise InvalidParameterError(field, body_too_large(len(encoded)))
    return encoded


def body_too_large(size: int | None) -> str:
    """The reason given when a request body would exceed MAX_BODY_BYTES."""
    what = "" if size is None else f" ({size:,} bytes)"
    return (
        f"makes the request body larger{what} than the {MAX_BODY_BYTES:,} bytes "
        f"({MAX_BODY_BYTES // 1024 // 1024} MiB) the SDK sends"
    )
