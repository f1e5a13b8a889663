"""plivo-phlo-async: an asyncio-native client for Plivo's PHLO API.

```python
from plivo_phlo_async import PhloClient

async with PhloClient() as client:      # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
    await client.phlo(phlo_id).multi_party_call(node_id).call(source, to)
```
"""

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
from ._fastpath import FastTransport
from ._ratelimit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiterUnavailableError
from ._version import __version__
from .bulk import (
    BulkReport,
    BulkRunner,
    JournalError,
    MemberActionJob,
    NodeActionJob,
    Outcome,
    OutcomeStatus,
    RunJob,
    run_chunk,
)
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
    "BulkReport",
    "BulkRunner",
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
    "MemberActionJob",
    "MethodNotAllowedError",
    "MultiPartyCall",
    "MultiPartyCallDetails",
    "NameResolutionError",
    "Node",
    "NodeAction",
    "NodeActionJob",
    "NodeDetails",
    "NotFoundError",
    "Outcome",
    "OutcomeStatus",
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
    "RunJob",
    "ServerOutcomeUnknownError",
    "StatusOutcomeUnknownError",
    "TimeoutOutcomeUnknownError",
    "__version__",
    "run_chunk",
]

# Public errors report themselves as ``plivo_phlo_async.X`` (httpx does the same),
# so tracebacks, reprs and ``except`` clauses name what users import.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and issubclass(_value, BaseException):
        _value.__module__ = __name__
del _name, _value
