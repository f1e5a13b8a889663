"""Jobs: what one bulk request does, how it is checked, and its job id.

A job is a frozen description (no client, no I/O). :func:`prepare` checks it
completely before anything is sent, so an invalid job becomes a ``failed``
outcome without a request, and returns the coroutine function that sends it.
The job id is either the caller's or a SHA-256 of the job's content, so the
same input in another order resumes the same journal safely.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, TypeAlias

from .._client import PhloClient
from .._exceptions import InvalidParameterError
from .._validation import validate_model
from ..resources.multi_party_call import MultiPartyCall
from ..resources.phlo import Phlo, _run_payload
from ..types import ActionResult, PhloRunResult
from ..types._params import MemberAction, MemberActionParams, NodeActionParams, Role

__all__ = [
    "Handles",
    "Job",
    "MemberActionJob",
    "NodeActionJob",
    "PreparedJob",
    "RunJob",
    "derive_job_id",
    "prepare",
]

NodeActionName = Literal["call", "warm_transfer", "cold_transfer"]
#: Prefix of the hashed text: a future change of the derivation gets a new one,
#: so it can never silently match ids derived the old way.
_ID_VERSION = "plivo-phlo-async/bulk-job/v1\n"


@dataclass(frozen=True, slots=True)
class RunJob:
    """Trigger a PHLO with ``payload`` (the Start node's keys, sent unchanged)."""

    phlo_id: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    _: KW_ONLY
    #: The caller's reference, returned untouched in the job's outcome.
    ref: Any = None
    #: The journal key; derived from the content when None.
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class NodeActionJob:
    """A multi-party-call node action: dial ``to`` from ``trigger_source``."""

    phlo_id: str
    node_id: str
    action: NodeActionName
    trigger_source: str
    to: str
    role: Role = "agent"
    _: KW_ONLY
    ref: Any = None
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class MemberActionJob:
    """An action on one member of a multi-party call (hold, unhold, hangup...)."""

    phlo_id: str
    node_id: str
    member_address: str
    action: MemberAction
    _: KW_ONLY
    ref: Any = None
    job_id: str | None = None


Job: TypeAlias = RunJob | NodeActionJob | MemberActionJob
JOB_TYPES = (RunJob, NodeActionJob, MemberActionJob)

Send: TypeAlias = Callable[[], Awaitable[PhloRunResult | ActionResult]]


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A job that passed every check: its id and how to send it."""

    job_id: str
    send: Send


class Handles:
    """Checked PHLO and node handles, reused from job to job.

    A million jobs on one PHLO check its id and build its URLs once, not a
    million times. Bounded: a stream of ever-new ids only refills the cache.
    """

    MAX_SIZE = 256

    def __init__(self, client: PhloClient) -> None:
        self._client = client
        self._phlos: dict[str, Phlo] = {}
        self._nodes: dict[tuple[str, str], MultiPartyCall] = {}

    def phlo(self, phlo_id: str) -> Phlo:
        if not isinstance(phlo_id, str):
            return self._client.phlo(phlo_id)  # raises InvalidParameterError
        phlo = self._phlos.get(phlo_id)
        if phlo is None:
            phlo = self._client.phlo(phlo_id)
            if len(self._phlos) >= self.MAX_SIZE:
                self._phlos.clear()
            self._phlos[phlo_id] = phlo
        return phlo

    def node(self, phlo_id: str, node_id: str) -> MultiPartyCall:
        if not isinstance(node_id, str):
            return self.phlo(phlo_id).multi_party_call(node_id)  # raises
        key = (phlo_id, node_id)
        node = self._nodes.get(key)
        if node is None:
            node = self.phlo(phlo_id).multi_party_call(node_id)
            if len(self._nodes) >= self.MAX_SIZE:
                self._nodes.clear()
            self._nodes[key] = node
        return node


def _content(job: Job) -> dict[str, Any]:
    """The fields that decide what the request does (never ref or job_id)."""
    if isinstance(job, RunJob):
        payload = job.payload
        return {
            "kind": "run",
            "phlo_id": job.phlo_id,
            "payload": dict(payload) if isinstance(payload, Mapping) else payload,
        }
    if isinstance(job, NodeActionJob):
        return {
            "kind": "node_action",
            "phlo_id": job.phlo_id,
            "node_id": job.node_id,
            "action": job.action,
            "role": job.role,
            "trigger_source": job.trigger_source,
            "to": job.to,
        }
    return {
        "kind": "member_action",
        "phlo_id": job.phlo_id,
        "node_id": job.node_id,
        "member_address": job.member_address,
        "action": job.action,
    }


def derive_job_id(job: Job) -> str:
    """SHA-256 (hex) of the job's canonical JSON: kind, ids, action, role,
    addresses and payload with sorted keys. ``ref`` is not part of it."""
    try:
        text = json.dumps(
            _content(job),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError):
        # Only reachable for a job that fails validation anyway: it still
        # gets an id, stable for as long as its repr is.
        text = repr(_content(job))
    return hashlib.sha256((_ID_VERSION + text).encode()).hexdigest()


def job_id_of(job: Job) -> str:
    """The caller's job id when valid, else the derived one."""
    given = job.job_id
    if given is None:
        return derive_job_id(job)
    if not isinstance(given, str) or not given:
        raise InvalidParameterError("job_id", f"must be a non-empty string, not {given!r}")
    return given


def prepare(job: Job, handles: Handles) -> PreparedJob:
    """Check every field of ``job`` and return how to send it.

    Raises :class:`InvalidParameterError` exactly where sending the job
    through the resources would, but without touching the network.
    """
    job_id = job_id_of(job)
    if isinstance(job, RunJob):
        phlo = handles.phlo(job.phlo_id)
        content = _run_payload(job.payload, {})

        def send_run() -> Awaitable[PhloRunResult]:
            return phlo._send_run(content)

        return PreparedJob(job_id, send_run)

    node = handles.node(job.phlo_id, job.node_id)
    if isinstance(job, NodeActionJob):
        params = validate_model(
            NodeActionParams,
            {
                "action": job.action,
                "to": job.to,
                "role": job.role,
                "trigger_source": job.trigger_source,
            },
        )
        def send_node_action() -> Awaitable[ActionResult]:
            return node._send_action(params)

        return PreparedJob(job_id, send_node_action)

    if isinstance(job, MemberActionJob):
        member = node.member(job.member_address)  # checks the address
        action = validate_model(MemberActionParams, {"action": job.action}).action
        member_act: Callable[[], Awaitable[ActionResult]] = getattr(member, action)
        return PreparedJob(job_id, member_act)
    raise InvalidParameterError("job", f"unknown job type {type(job).__name__}")
