"""plivo-phlo-async: an asyncio-native client for Plivo's PHLO API.

```python
from plivo_phlo_async import PhloClient

async with PhloClient() as client:      # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
    await client.phlo(phlo_id).multi_party_call(node_id).call(source, to)
```
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._base_client import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._client import DEFAULT_BASE_URL, DEFAULT_VOICE_BASE_URL, PhloClient
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CannotConnectError,
    ClientClosedError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    ConnectTimeoutError,
    InternalServerError,
    InvalidParameterError,
    MethodNotAllowedError,
    NameResolutionError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PlivoError,
    RateLimitError,
    RequestTimeoutError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
)
from ._ratelimit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiterUnavailableError
from ._version import __version__

if TYPE_CHECKING:
    from ._fastpath import FastTransport
    from .bulk import JournalError
    from .resources import (
        Calls,
        ConferenceBridge,
        ConferenceBridgeMember,
        Member,
        MultiPartyCall,
        Node,
        Phlo,
        PhloResource,
    )
    from .types import (
        ActionResult,
        CallCreateResult,
        ConferenceBridgeDetails,
        MultiPartyCallDetails,
        NodeDetails,
        PhloDetails,
        PhloRun,
        PhloRunResult,
        PlivoObject,
        ResponseHeaders,
    )
    from .types._params import ConferenceBridgeMemberAction, MemberAction, NodeAction, Role

# Loaded on first use (PEP 562), so ``import plivo_phlo_async`` does not pay for
# what a first client loads anyway (the resources, the models and pydantic's
# machinery, the fast path and asyncio), nor for the bulk runner, its journals
# and their sqlite3 unless they are used. The bulk runner's own names are
# public in ``plivo_phlo_async.bulk`` only; its error is here with the others.
_LAZY = {
    name: module
    for module, names in {
        "._fastpath": ("FastTransport",),
        ".bulk": ("JournalError",),
        ".resources": (
            "Calls",
            "ConferenceBridge",
            "ConferenceBridgeMember",
            "Member",
            "MultiPartyCall",
            "Node",
            "Phlo",
            "PhloResource",
        ),
        ".types": (
            "ActionResult",
            "CallCreateResult",
            "ConferenceBridgeDetails",
            "MultiPartyCallDetails",
            "NodeDetails",
            "PhloDetails",
            "PhloRun",
            "PhloRunResult",
            "PlivoObject",
            "ResponseHeaders",
        ),
        ".types._params": ("ConferenceBridgeMemberAction", "MemberAction", "NodeAction", "Role"),
    }.items()
    for name in names
}
_SUBPACKAGES = ("resources", "types")

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_VOICE_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ActionResult",
    "AuthenticationError",
    "BadRequestError",
    "CallCreateResult",
    "Calls",
    "CannotConnectError",
    "ClientClosedError",
    "ConferenceBridge",
    "ConferenceBridgeDetails",
    "ConferenceBridgeMember",
    "ConferenceBridgeMemberAction",
    "ConfigurationError",
    "ConnectTimeoutError",
    "ConnectionOutcomeUnknownError",
    "FastTransport",
    "InternalServerError",
    "InvalidParameterError",
    "JournalError",
    "Member",
    "MemberAction",
    "MethodNotAllowedError",
    "MultiPartyCall",
    "MultiPartyCallDetails",
    "NameResolutionError",
    "Node",
    "NodeAction",
    "NodeDetails",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "Phlo",
    "PhloClient",
    "PhloDetails",
    "PhloResource",
    "PhloRun",
    "PhloRunResult",
    "PlivoError",
    "PlivoObject",
    "RateLimit",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "RequestTimeoutError",
    "ResponseHeaders",
    "Role",
    "ServerOutcomeUnknownError",
    "StatusOutcomeUnknownError",
    "TimeoutOutcomeUnknownError",
    "__version__",
]


def _name_the_package(value: object) -> None:
    """Public errors report themselves as ``plivo_phlo_async.X`` (httpx does the
    same), so tracebacks, reprs and ``except`` clauses name what users import."""
    if isinstance(value, type) and issubclass(value, BaseException):
        value.__module__ = __name__


def __getattr__(name: str) -> Any:
    """Import a lazily loaded public name on first use, then keep it here."""
    if name in _SUBPACKAGES:  # loaded by ``import plivo_phlo_async`` until 0.1.0
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    _name_the_package(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


for _name in __all__:
    _name_the_package(globals().get(_name))
del _name
