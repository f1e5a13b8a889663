"""One vocabulary: the actions and roles are the Literals of types/_params.py,
and everything else that lists them (bulk jobs, the command line, the
emulator) derives its list from them.

The strings themselves are pinned here, written out, so a change to the one
list is a decision (Plivo's wire format), not a side effect.
"""

from __future__ import annotations

import dataclasses
import typing

from plivo_phlo_async import ConferenceBridgeMemberAction, MemberAction, NodeAction, Role
from plivo_phlo_async.bulk import MemberActionJob, NodeActionJob, _jobs
from plivo_phlo_async.cli import _single
from plivo_phlo_async.emulator import _config, _phlo_api
from plivo_phlo_async.types import _params

PLIVO_NODE_ACTIONS = ("call", "warm_transfer", "cold_transfer")
PLIVO_MEMBER_ACTIONS = (
    "hold",
    "unhold",
    "hangup",
    "resume_call",
    "abort_transfer",
    "voicemail_drop",
    "mute",
    "unmute",
)
PLIVO_BRIDGE_MEMBER_ACTIONS = ("mute", "unmute", "hold", "unhold", "hangup")
PLIVO_ROLES = ("agent", "customer")


def test_the_literals_hold_plivos_strings() -> None:
    assert typing.get_args(NodeAction) == PLIVO_NODE_ACTIONS
    assert typing.get_args(MemberAction) == PLIVO_MEMBER_ACTIONS
    assert typing.get_args(ConferenceBridgeMemberAction) == PLIVO_BRIDGE_MEMBER_ACTIONS
    assert typing.get_args(Role) == PLIVO_ROLES


def test_the_tuples_beside_the_literals_are_the_literals() -> None:
    assert _params.NODE_ACTIONS == PLIVO_NODE_ACTIONS
    assert _params.MEMBER_ACTIONS == PLIVO_MEMBER_ACTIONS
    assert _params.CONFERENCE_BRIDGE_MEMBER_ACTIONS == PLIVO_BRIDGE_MEMBER_ACTIONS
    assert _params.ROLES == PLIVO_ROLES


def annotations(job_type: type) -> dict[str, object]:
    """The fields' annotations as written (``typing.get_type_hints`` cannot read a
    dataclass with a ``KW_ONLY`` marker on Python 3.10)."""
    return {field.name: field.type for field in dataclasses.fields(job_type)}


def test_bulk_jobs_use_the_literals() -> None:
    node_job = annotations(NodeActionJob)
    assert node_job["action"] == "NodeAction"
    assert node_job["role"] == "Role"
    assert annotations(MemberActionJob)["action"] == "MemberAction"
    # and those names, in the module that declares the jobs, are the Literals
    assert vars(_jobs)["NodeAction"] is NodeAction
    assert vars(_jobs)["Role"] is Role
    assert vars(_jobs)["MemberAction"] is MemberAction


def test_the_emulator_accepts_exactly_the_sdks_vocabulary() -> None:
    assert _phlo_api.NODE_ACTIONS == PLIVO_NODE_ACTIONS
    assert _phlo_api.MEMBER_ACTIONS == {
        "multi_party_call": PLIVO_MEMBER_ACTIONS,
        "conference_bridge": PLIVO_BRIDGE_MEMBER_ACTIONS,
    }
    assert _phlo_api.ROLES == PLIVO_ROLES
    assert _config.ROLES == PLIVO_ROLES


def test_the_command_line_offers_the_sdks_vocabulary_with_hyphens() -> None:
    def hyphenated(names: tuple[str, ...]) -> list[str]:
        return [name.replace("_", "-") for name in names]

    assert [m.value for m in _single.NodeActionName] == hyphenated(PLIVO_NODE_ACTIONS)
    assert [m.value for m in _single.MemberActionName] == hyphenated(PLIVO_MEMBER_ACTIONS)
    assert [m.value for m in _single.RoleName] == list(PLIVO_ROLES)
    assert _single.DEFAULT_ROLE.value == "agent"
