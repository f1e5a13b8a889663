"""The public names are pinned, per public module: adding one is a decision
(update the list and the CHANGELOG), removing or renaming one breaks users' code.
The README's Reference says what each module is for."""

from __future__ import annotations

import importlib
from collections import Counter

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
    },
    "plivo_phlo_async.bulk": {
        "BulkReport",
        "BulkRunner",
        "CircuitBreaker",
        "DEFAULT_CIRCUIT_BREAKER",
        "DEFAULT_CONCURRENCY",
        "Job",
        "JournalEntry",
        "MemberActionJob",
        "NodeActionJob",
        "Outcome",
        "OutcomeCallback",
        "OutcomeStatus",
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
        "DEFAULT_AUTH_ID",
        "DEFAULT_AUTH_TOKEN",
        "DEFAULT_BRIDGE_ID",
        "DEFAULT_NODE_ID",
        "DEFAULT_PHLO_ID",
        "EmulatorConfig",
        "EmulatorServer",
        "ExecutedAction",
        "FaultConfig",
        "MemberSeed",
        "NodeSeed",
        "PhloEmulator",
        "PhloSeed",
        "ReceivedRequest",
        "SECOND_NODE_ID",
        "SECOND_PHLO_ID",
        "ServerRateLimit",
        "create_app",
        "run_emulator",
        "serve",
    },
    "plivo_phlo_async.integrations.campaign": {
        "CampaignStatus",
        "ChunkNotFinishedError",
        "DEFAULT_CHUNK_SIZE",
        "ManifestConflictError",
        "ManifestWritten",
        "campaign_status",
        "campaigns",
        "chunk_message",
        "chunks_to_run_in",
        "finish_campaign_chunk",
        "run_campaign_chunk",
        "write_manifest",
    },
    "plivo_phlo_async.integrations.taskiq": {
        "CHUNK_TASK_NAME",
        "CampaignBroker",
        "CampaignSubmission",
        "DEFAULT_QUEUE",
        "DEFAULT_REDELIVER_AFTER",
        "broker_persists",
        "campaign_broker",
        "register_chunk_task",
        "resume_campaign",
        "submit_campaign",
    },
    "plivo_phlo_async.integrations.taskiq_worker": {
        "broker",
        "chunk_task",
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
    "plivo_phlo_async.types": {
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
    },
    "plivo_phlo_async.resources": {
        "Calls",
        "ConferenceBridge",
        "ConferenceBridgeMember",
        "Member",
        "MultiPartyCall",
        "Node",
        "Phlo",
        "PhloResource",
    },
    "plivo_phlo_async.cli": {
        "main",
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


def test_every_name_has_one_public_home() -> None:
    # Except the answer models and the handles, which the top level gathers
    # from the modules that define them.
    homes = Counter(name for names in PUBLIC.values() for name in names)
    twice = {name for name, count in homes.items() if count > 1}
    assert twice == PUBLIC["plivo_phlo_async.types"] | PUBLIC["plivo_phlo_async.resources"]
    assert twice <= PUBLIC["plivo_phlo_async"]
