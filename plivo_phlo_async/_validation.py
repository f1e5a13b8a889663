"""Field rules shared by the request models, and the bridge to our errors.

Every value that ends up in a URL path or a request body is checked here
before a request is built, so bad input never reaches the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ValidationError

from ._exceptions import InvalidParameterError

# Digits with an optional leading "+"; 15 digits is the E.164 maximum.
_PHONE_NUMBER = re.compile(r"\+?[0-9]{1,15}")
# sip:user@host[:port]. The user part takes RFC 3261's unreserved characters
# and the escapes and delimiters that cannot alter a URL path; "<" is
# excluded because Plivo uses it to separate bulk-call destinations.
_SIP_URI = re.compile(
    r"sips?:[A-Za-z0-9\-_.!~*'()&=+$,;%]+@[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?(?::[0-9]{1,5})?"
)
# Longer ids are not Plivo's and would make URLs that httpx refuses.
MAX_ID_LENGTH = 256
# Characters that could change which URL is requested, wherever they appear.
_PATH_BREAKERS = frozenset("/\\?#")
# Kept literally in a path segment: RFC 3986 allows them there and Plivo's
# own SDKs send phone numbers ("+1415...") and SIP URIs unencoded.
_PATH_SAFE = "+:@"


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
    if _PHONE_NUMBER.fullmatch(value) or _SIP_URI.fullmatch(value):
        return value
    raise ValueError(
        "must be a phone number (digits with an optional leading '+', at most 15) "
        "or a SIP URI such as 'sip:alice@example.com'"
    )


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host and no whitespace."""
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value, flags=re.IGNORECASE):
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def encode_path_segment(value: str) -> str:
    """Percent-encode a checked id for use as one URL path segment."""
    return quote(value, safe=_PATH_SAFE)


PathId = Annotated[str, AfterValidator(check_path_id)]
Address = Annotated[str, AfterValidator(check_address)]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]

ModelT = TypeVar("ModelT", bound=BaseModel)


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
    if not isinstance(value, str):
        raise InvalidParameterError(field, f"must be a string, not {type(value).__name__}")
    try:
        check_path_id(value)
    except ValueError as exc:
        raise InvalidParameterError(field, str(exc)) from None
    return encode_path_segment(value)


def validate_address(field: str, value: object) -> str:
    """Check one address argument (phone number or SIP URI)."""
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
