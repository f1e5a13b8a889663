"""plivo-phlo-async: an asyncio-native client for Plivo's PHLO API.

    from plivo_phlo_async import PhloClient

    async with PhloClient() as client:      # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
        await client.phlo(phlo_id).multi_party_call(node_id).call(source, to)
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
    ClientClosedError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    InternalServerError,
    InvalidParameterError,
    MethodNotAllowedError,
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
from ._version import __version__
from .bulk import (
    BulkReport,
    BulkRunner,
    MemberActionJob,
    NodeActionJob,
    Outcome,
    OutcomeStatus,
    RateLimit,
    RunJob,
    run_chunk,
)
from .resources import Calls, Member, MultiPartyCall, Phlo, PhloResource
from .types import (
    ActionResult,
    CallCreateResult,
    MultiPartyCallDetails,
    PhloDetails,
    PhloRun,
    PhloRunResult,
    PlivoObject,
)
from .types._params import MemberAction, NodeAction, Role

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RETRIES",
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
    "ClientClosedError",
    "ConfigurationError",
    "ConnectionOutcomeUnknownError",
    "InternalServerError",
    "InvalidParameterError",
    "Member",
    "MemberAction",
    "MemberActionJob",
    "MethodNotAllowedError",
    "MultiPartyCall",
    "MultiPartyCallDetails",
    "NodeAction",
    "NodeActionJob",
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
    "RequestTimeoutError",
    "Role",
    "RunJob",
    "ServerOutcomeUnknownError",
    "StatusOutcomeUnknownError",
    "TimeoutOutcomeUnknownError",
    "__version__",
    "run_chunk",
]
