"""Jobs: what one bulk request does, how it is checked (:func:`prepare`, before
anything is sent) and its job id (the caller's, or a SHA-256 of the content,
so the same input in another order resumes the same journal).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, fields
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._exceptions import InvalidParameterError
from .._validation import SURROGATE, check_text, validate_model
from ..resources._member import prepare_member_action
from ..resources._resource import PreparedRequest, send_prepared
from ..resources.multi_party_call import MultiPartyCall, prepare_action
from ..resources.phlo import Phlo, encode_run_payload, prepare_run
from ..types import ActionResult, PhloRunResult
from ..types._params import (
    MemberAction,
    MemberActionParams,
    NodeAction,
    NodeActionParams,
    Role,
)
from ._text import escape_surrogates, safe_repr, unusable

if TYPE_CHECKING:  # the client imports bulk lazily; bulk needs it only for types
    from .._client import PhloClient

#: Prefix of the hashed text: a future change of the derivation gets a new one,
#: so it can never silently match ids derived the old way.
_ID_VERSION = "plivo-phlo-async/bulk-job/v1\n"
#: Most values hashed by the last-resort derivation (a cyclic or huge value
#: still gets an id, in bounded time).
_WALK_BUDGET = 100_000

T = TypeVar("T")
K = TypeVar("K")


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
    action: NodeAction
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
    """A job that passed every check: how to send it, and the request it sends
    (for the journal: what to check when its outcome is unknown)."""

    send: Send
    url: str
    body: bytes


class Handles:
    """Checked PHLO and node handles, reused from job to job.

    A million jobs on one PHLO check its id and build its URLs once, not a
    million times. Bounded: a stream of ever-new ids only refills the cache.
    """

    MAX_SIZE = 256

    def __init__(self, client: PhloClient) -> None:
        self.client = client
        self._phlos: dict[str, Phlo] = {}
        self._nodes: dict[tuple[str, str], MultiPartyCall] = {}

    def phlo(self, phlo_id: str) -> Phlo:
        if not isinstance(phlo_id, str):
            return self.client.phlo(phlo_id)  # raises InvalidParameterError
        return self._cached(self._phlos, phlo_id, lambda: self.client.phlo(phlo_id))

    def node(self, phlo_id: str, node_id: str) -> MultiPartyCall:
        if not isinstance(phlo_id, str) or not isinstance(node_id, str):
            # Never a cache key (a list is unhashable); this raises.
            return self.phlo(phlo_id).multi_party_call(node_id)
        return self._cached(
            self._nodes, (phlo_id, node_id), lambda: self.phlo(phlo_id).multi_party_call(node_id)
        )

    def _cached(self, cache: dict[K, T], key: K, make: Callable[[], T]) -> T:
        value = cache.get(key)
        if value is None:
            value = make()
            if len(cache) >= self.MAX_SIZE:
                cache.clear()
            cache[key] = value
        return value


def _content(job: Job) -> dict[str, Any]:
    """The fields that decide what the request does (never ref or job_id)."""
    if isinstance(job, RunJob):
        payload = job.payload
        if isinstance(payload, Mapping):
            # A broken mapping is hashed as it is (the job is invalid anyway).
            with contextlib.suppress(Exception):
                payload = dict(payload)
        return {"kind": "run", "phlo_id": job.phlo_id, "payload": payload}
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
    addresses and payload with sorted keys. ``ref`` is not part of it.

    Never raises: a job that is not JSON (it fails validation anyway) is
    hashed from its repr, and one whose repr fails too (a 5,000-digit
    integer, nesting deeper than the recursion limit) from a bounded walk of
    its values. Lone surrogates are hashed as they are (``surrogatepass``),
    which leaves the ids of valid jobs unchanged.
    """
    digest = hashlib.sha256(_ID_VERSION.encode())
    digest.update(_canonical(job))
    return digest.hexdigest()


def _canonical(job: Job) -> bytes:
    try:
        content: Any = _content(job)
    except Exception:
        content = None
    if content is not None:
        for render in (_json_text, repr):
            # RecursionError and the int->str limit included: try the next way.
            with contextlib.suppress(Exception):
                return str.__str__(render(content)).encode("utf-8", "surrogatepass")
    return b"walk\n" + _walk(job if content is None else content)


def _json_text(content: Any) -> str:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


_CLOSE = object()


def _walk(value: Any) -> bytes:
    """A deterministic byte string for any value, without recursion."""
    out: list[bytes] = []
    stack: list[Any] = [value]
    budget = _WALK_BUDGET
    while stack:
        budget -= 1
        if budget < 0:
            out.append(b"...")
            break
        item = stack.pop()
        if item is _CLOSE:
            out.append(b")")
            continue
        children: list[Any] = []
        try:
            out.append(type(item).__qualname__.encode("utf-8", "surrogatepass") + b"(")
            if item is None or isinstance(item, (bool, float)):
                out.append(repr(item).encode())
            elif isinstance(item, int):
                out.append(format(item, "x").encode())
            elif isinstance(item, str):
                data = str.__str__(item).encode("utf-8", "surrogatepass")
                out.append(b"%d:%s" % (len(data), data))
            elif isinstance(item, (bytes, bytearray, memoryview)):
                out.append(bytes(item).hex().encode())
            elif isinstance(item, Mapping):
                children = [part for pair in list(item.items()) for part in pair]
            elif isinstance(item, (list, tuple)):
                children = list(item)
            elif isinstance(item, JOB_TYPES):
                children = [getattr(item, spec.name) for spec in fields(item)]
            else:
                out.append(safe_repr(item).encode())
        except Exception:
            out.append(b"?")
        stack.append(_CLOSE)
        stack.extend(reversed(children))
    return b"".join(out)


def job_id_of(job: Job) -> str:
    """The caller's job id when valid, else the derived one."""
    given = job.job_id
    if given is None:
        return derive_job_id(job)
    if not isinstance(given, str):
        raise InvalidParameterError("job_id", f"must be a non-empty string, not {safe_repr(given)}")
    given = str.__str__(given)  # a str subclass becomes a plain str
    if not given:
        raise InvalidParameterError("job_id", "must be a non-empty string, not ''")
    try:
        return check_text(given)
    except ValueError as exc:  # a lone surrogate: the same rule as every other argument
        raise InvalidParameterError("job_id", str(exc)) from None


def _checked(name: str, check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``, any failure an :class:`InvalidParameterError` on ``name``."""
    try:
        return check(*args)
    except InvalidParameterError:
        raise
    except Exception as exc:
        raise unusable(name, exc) from None


def _suspect(job: Job, names: tuple[str, ...]) -> str:
    """The first of ``names`` that is not plain text: the field to blame."""
    for name in names:
        value = getattr(job, name)
        if not isinstance(value, str) or SURROGATE.search(value) is not None:
            return name
    return names[0]


def prepare(job: Job, handles: Handles) -> PreparedJob:
    """Check every field of ``job`` and return how to send it.

    Raises :class:`InvalidParameterError` exactly where sending the job
    through the resources would, but without touching the network.
    """
    job_id_of(job)  # refused here as the runner refuses it
    if isinstance(job, RunJob):
        phlo = _checked("phlo_id", handles.phlo, job.phlo_id)
        content = _checked("payload", encode_run_payload, job.payload, {})
        return _prepared(handles, prepare_run(phlo, content))

    if not isinstance(job, JOB_TYPES):
        raise InvalidParameterError(
            "job", f"unknown job type {escape_surrogates(type(job).__name__)}"
        )
    _checked("phlo_id", handles.phlo, job.phlo_id)
    node = _checked("node_id", handles.node, job.phlo_id, job.node_id)
    if isinstance(job, NodeActionJob):
        data = {
            "action": job.action,
            "to": job.to,
            "role": job.role,
            "trigger_source": job.trigger_source,
        }
        try:
            params = validate_model(NodeActionParams, data)
        except InvalidParameterError:
            raise
        except Exception as exc:
            raise unusable(_suspect(job, tuple(data)), exc) from None

        return _prepared(handles, prepare_action(node, params))

    member = _checked("member_address", node.member, job.member_address)  # checks it
    member_params = _checked("action", validate_model, MemberActionParams, {"action": job.action})
    return _prepared(handles, prepare_member_action(member, member_params))


def _prepared(handles: Handles, request: PreparedRequest[Any]) -> PreparedJob:
    """A checked request, sent through the client's one send path when the runner says so."""
    assert request.content is not None  # every bulk request is a POST with a body
    return PreparedJob(
        partial(send_prepared, handles.client, request), request.url, request.content
    )
