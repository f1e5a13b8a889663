"""What the emulator keeps a record of: requests received, actions executed,
runs and call legs started, callbacks sent.

Plain dataclasses with no behaviour beyond describing themselves, so tests,
the state and the HTTP layer all share one vocabulary and none of them has
to import another to read a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = [
    "Call",
    "CallbackRecord",
    "CallbackState",
    "ExecutedAction",
    "ReceivedRequest",
    "Run",
    "plivo_time",
]

CallbackState = Literal["pending", "delivered", "failed", "skipped"]


def plivo_time(moment: datetime | None = None) -> str:
    """Plivo's timestamp format: '2024-05-01 09:04:40.632232+00:00'."""
    moment = moment or datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


@dataclass
class ReceivedRequest:
    """One request as the emulator received it.

    ``status`` is the status answered, or None when the connection was
    dropped; ``fault`` names the injected fault, if any. The token of the
    Basic credentials is never kept, only the auth id.
    """

    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any
    auth_id: str | None
    api_id: str
    received_at: float
    status: int | None = None
    fault: str | None = None
    latency: float = 0.0


@dataclass(frozen=True)
class ExecutedAction:
    """A side effect the emulator carried out (a run, a call, a member action...).

    ``kind`` is ``"run"``, ``"create_call"``, a node action (one of
    :data:`~plivo_phlo_async.NodeAction`: ``"call"``, ``"warm_transfer"``...) or
    a member action (one of :data:`~plivo_phlo_async.MemberAction`: ``"hold"``,
    ``"mute"``...). ``request_seq`` links it to its request; whether the client
    saw the answer is on that request (``status``/``fault``).
    """

    kind: str
    api_id: str
    request_seq: int
    phlo_id: str | None = None
    node_id: str | None = None
    member: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    call_uuids: tuple[str, ...] = ()


@dataclass
class Run:
    run_id: str
    phlo_id: str
    payload: dict[str, Any]
    message: str
    call_uuids: list[str]
    message_uuids: list[str] = field(default_factory=list)
    recording_ids: list[str] = field(default_factory=list)
    created_on: str = field(default_factory=plivo_time)

    def describe(self) -> dict[str, Any]:
        return {
            "phlo_id": self.phlo_id,
            "run_id": self.run_id,
            "call_uuids": list(self.call_uuids),
            "message_uuids": list(self.message_uuids),
            "recording_ids": list(self.recording_ids),
        }


@dataclass(frozen=True)
class Call:
    """One outbound leg the emulator "dialled"."""

    call_uuid: str
    to: str
    from_: str | None
    source: str  # "voice", "run" or "multi_party_call"
    run_id: str | None = None
    phlo_id: str | None = None
    node_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallbackRecord:
    """One callback: what was (or would have been) sent, and what came back.

    ``state`` is ``"pending"`` until sent, then ``"delivered"`` (any HTTP
    answer: ``status`` and ``answer_text`` say which), ``"failed"``
    (``error`` says why: refused, timed out...) or ``"skipped"`` (not a
    loopback URL). ``url`` is the URL requested (for a GET, with the
    parameters appended, as Plivo sends it and signs it).
    """

    seq: int
    call_uuid: str
    event: str  # "ring", "answer" or "hangup"
    method: str
    url: str
    params: dict[str, str]
    nonce: str
    signature: str
    state: CallbackState = "pending"
    status: int | None = None
    answer_text: str | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
