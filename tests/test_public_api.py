"""The public names are pinned: adding one is a decision (update the list and
the CHANGELOG), removing or renaming one breaks users' code."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "plivo_phlo_async": {
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
        "DEFAULT_BASE_URL",
        "DEFAULT_MAX_CONNECTIONS",
        "DEFAULT_MAX_RETRIES",
        "DEFAULT_RATE_LIMIT",
        "DEFAULT_TIMEOUT",
        "DEFAULT_VOICE_BASE_URL",
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
    },
    "plivo_phlo_async.bulk": {
        "BulkReport",
        "BulkRunner",
        "CircuitBreaker",
        "DEFAULT_CIRCUIT_BREAKER",
        "DEFAULT_CONCURRENCY",
        "DEFAULT_RATE_LIMIT",
        "Job",
        "JournalEntry",
        "JournalError",
        "MemberActionJob",
        "NodeActionJob",
        "Outcome",
        "OutcomeCallback",
        "OutcomeStatus",
        "RateLimit",
        "RunJob",
        "allow_resend",
        "derive_job_id",
        "journal_counts",
        "mark_jobs",
        "run_chunk",
        "unknown_jobs",
    },
    "plivo_phlo_async.emulator": {
        "BRIDGE_MEMBERS",
        "CallbackRecord",
        "ConfigError",
        "ConnectionDropped",
        "DEFAULT_AUTH_ID",
        "DEFAULT_AUTH_TOKEN",
        "DEFAULT_BRIDGE_ID",
        "DEFAULT_NODE_ID",
        "DEFAULT_PHLO_ID",
        "EmulatorConfig",
        "EmulatorServer",
        "ExecutedAction",
        "FaultConfig",
        "MEMBER_STATES",
        "MemberSeed",
        "NodeSeed",
        "ON_CALL",
        "ON_HOLD",
        "PhloEmulator",
        "PhloSeed",
        "ReceivedRequest",
        "SECOND_NODE_ID",
        "SECOND_PHLO_ID",
        "ServerRateLimit",
        "TRANSFER_INITIATOR",
        "TRANSFER_RECIPIENT",
        "WAITING_ON_TRANSFER",
        "create_app",
        "run_emulator",
        "serve",
    },
    "plivo_phlo_async.webhooks": {
        "NONCE_HEADER",
        "NONCE_V2_HEADER",
        "ParamValue",
        "PlivoWebhook",
        "SIGNATURE_HEADER",
        "SIGNATURE_V2_HEADER",
        "sign_v2",
        "sign_v3",
        "signed_text_v3",
        "verified_params",
        "verify_signature_v2",
        "verify_signature_v3",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_the_exported_names_are_exactly_the_pinned_ones(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PUBLIC[module_name]
    assert len(module.__all__) == len(set(module.__all__))  # no name listed twice


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_exported_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


# Deprecated names: still importable for one release, with a DeprecationWarning,
# and not listed in __all__.
DEPRECATED = {
    ("plivo_phlo_async.emulator", "RateLimit"): ("plivo_phlo_async.emulator", "ServerRateLimit"),
    ("plivo_phlo_async.types.phlo", "AwareDatetime"): (
        "plivo_phlo_async.types.phlo",
        "UtcAssumedDatetime",
    ),
}


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED.items()))
def test_a_deprecated_name_warns_and_is_the_new_one(
    old: tuple[str, str], new: tuple[str, str]
) -> None:
    module = importlib.import_module(old[0])
    with pytest.warns(DeprecationWarning, match=rf"{old[1]} is deprecated.*{new[1]}"):
        value = getattr(module, old[1])
    assert value is getattr(importlib.import_module(new[0]), new[1])
    assert old[1] not in getattr(module, "__all__", ())


def test_the_deprecated_emulator_rate_limit_works_in_a_from_import() -> None:
    with pytest.warns(DeprecationWarning, match="ServerRateLimit"):
        from plivo_phlo_async.emulator import RateLimit
    from plivo_phlo_async.emulator import ServerRateLimit

    assert RateLimit is ServerRateLimit
    assert RateLimit(3, 5) == ServerRateLimit(3, 5)


def test_an_unknown_emulator_name_is_still_an_attribute_error() -> None:
    import plivo_phlo_async.emulator as emulator

    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        emulator.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
