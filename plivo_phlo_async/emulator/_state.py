"""The emulated account: PHLOs, their nodes (multi-party calls, conference
bridges), runs and calls.

Nothing here knows about HTTP. Every operation either changes the state and
returns what the answer needs, or raises :class:`EmulatorError` with the
status and error text the real service would answer, leaving the state as
it was.

Member states of a multi-party call, and what moves them:

==========================  ==================================================
``on_call``                 joined by ``call`` / ``cold_transfer`` / seed;
                            back here by ``unhold``, ``resume_call``,
                            ``abort_transfer``
``on_hold``                 ``hold`` (only from ``on_call``)
``warm_transfer_initiator`` the agent who started ``warm_transfer``; speaks
                            privately with the recipient
``warm_transfer_recipient`` the party dialled by ``warm_transfer``
``waiting_on_transfer``     members who were ``on_call`` when a warm transfer
                            started: they hear hold music until it ends
==========================  ==================================================

Every member also has a ``muted`` flag, apart from its state: ``mute`` only
when not muted, ``unmute`` only when muted (400 otherwise). A conference
bridge's members (seeded: people dial in) take ``mute``, ``unmute``, ``hold``,
``unhold`` and ``hangup`` with the same rules.

A warm transfer ends with ``resume_call`` (initiator or recipient: everyone
is back on the call), ``abort_transfer`` (initiator only: the recipient is
dropped), or either party hanging up. ``hangup`` and ``voicemail_drop``
remove a member; a removed member is not on the call any more (404).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ._callbacks import CallbackLog
from ._config import EmulatorConfig, PhloSeed
from ._records import Call, Run, plivo_time

ON_CALL = "on_call"
ON_HOLD = "on_hold"
TRANSFER_INITIATOR = "warm_transfer_initiator"
TRANSFER_RECIPIENT = "warm_transfer_recipient"
WAITING_ON_TRANSFER = "waiting_on_transfer"

# Written independently of the SDK's rules on purpose: the emulator must
# catch the SDK sending what Plivo would refuse, not mirror its mistakes.
PHONE = re.compile(r"\+?\d{1,15}")
SIP = re.compile(
    r"sips?:[^\s@<>/?#\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::(?P<port>\d{1,5}))?"
)


def is_address(value: object) -> bool:
    """A phone number (optional '+', up to 15 digits) or a SIP URI (port 1-65535)."""
    if not isinstance(value, str):
        return False
    if PHONE.fullmatch(value):
        return True
    sip = SIP.fullmatch(value)
    return sip is not None and (sip["port"] is None or 0 < int(sip["port"]) < 65536)


def new_id() -> str:
    return str(uuid.uuid4())


class EmulatorError(Exception):
    """A request the real service would refuse: ``status`` and ``error`` text."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


@dataclass
class Member:
    address: str
    role: str
    state: str
    call_uuid: str
    joined_on: str
    muted: bool = False

    def snapshot(self) -> dict[str, Any]:
        return {
            "member_address": self.address,
            "role": self.role,
            "state": self.state,
            "muted": self.muted,
            "call_uuid": self.call_uuid,
            "joined_on": self.joined_on,
        }


@dataclass
class WarmTransfer:
    initiator: str
    recipient: str
    waiting: list[str]


@dataclass
class Node:
    node_id: str
    phlo_id: str
    name: str
    created_on: str
    node_type: str = "multi_party_call"
    members: dict[str, Member] = field(default_factory=dict)
    transfer: WarmTransfer | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "phlo_id": self.phlo_id,
            "name": self.name,
            "node_type": self.node_type,
            "created_on": self.created_on,
        }


@dataclass
class Phlo:
    phlo_id: str
    name: str
    created_on: str
    dial_keys: tuple[str, ...]
    required_keys: tuple[str, ...]
    nodes: dict[str, Node]

    def describe(self) -> dict[str, Any]:
        return {"phlo_id": self.phlo_id, "name": self.name, "created_on": self.created_on}


class AccountState:
    """The mutable world. Not thread-safe: the emulator holds a lock around it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.phlos: dict[str, Phlo] = {seed.phlo_id: _phlo_from_seed(seed) for seed in config.phlos}
        self.runs: dict[str, Run] = {}
        self.calls: list[Call] = []
        #: Signed callbacks to the calls' ring/answer/hangup URLs (see _callbacks).
        self.callbacks = CallbackLog()

    # -- lookups -----------------------------------------------------------
    def phlo(self, phlo_id: str) -> Phlo:
        phlo = self.phlos.get(phlo_id)
        if phlo is None:
            raise EmulatorError(404, f"PHLO {phlo_id} not found")
        return phlo

    def node(self, phlo_id: str, node_id: str, node_type: str | None = None) -> Node:
        """The node, which must be of ``node_type`` when one is given (404 otherwise)."""
        node = self.phlo(phlo_id).nodes.get(node_id)
        if node is None or (node_type is not None and node.node_type != node_type):
            raise EmulatorError(
                404, f"{node_type or 'a'} node {node_id} not found in PHLO {phlo_id}"
            )
        return node

    def run(self, phlo_id: str, run_id: str) -> Run:
        self.phlo(phlo_id)
        run = self.runs.get(run_id)
        if run is None or run.phlo_id != phlo_id:
            raise EmulatorError(404, f"run {run_id} of PHLO {phlo_id} not found")
        return run

    # -- PHLO runs ---------------------------------------------------------
    def start_run(self, phlo_id: str, run_id: str, payload: dict[str, Any]) -> Run:
        phlo = self.phlo(phlo_id)
        missing = [key for key in phlo.required_keys if key not in payload]
        call_uuids: list[str] = []
        if missing:
            message = (
                f"{phlo.name} with phlo_run_uuid: {run_id} stopped. "
                f"start node payload key(s) missing: {', '.join(missing)}"
            )
        else:
            for key in phlo.dial_keys:
                value = payload.get(key)
                if not isinstance(value, str):
                    continue
                for destination in value.split("<"):
                    if is_address(destination):
                        call = Call(
                            call_uuid=new_id(),
                            to=destination,
                            from_=_text(payload.get("from")),
                            source="run",
                            run_id=run_id,
                            phlo_id=phlo_id,
                        )
                        self.calls.append(call)
                        call_uuids.append(call.call_uuid)
            message = (
                f"{phlo.name} with phlo_run_uuid: {run_id} executed with response: "
                f"{len(call_uuids)} call(s) started"
            )
        run = Run(
            run_id=run_id, phlo_id=phlo_id, payload=payload, message=message, call_uuids=call_uuids
        )
        self.runs[run_id] = run
        return run

    # -- multi-party-call node actions ------------------------------------
    def node_action(
        self, phlo_id: str, node_id: str, action: str, trigger_source: str, to: str, role: str
    ) -> None:
        node = self.node(phlo_id, node_id, "multi_party_call")
        if to == trigger_source:
            raise EmulatorError(400, "to and trigger_source must be different parties")
        if to in node.members:
            raise EmulatorError(400, f"{to} is already a member of the call")
        if action == "call" and not node.members:
            # A fresh call: the agent who triggers it is the first to join.
            self._join(node, trigger_source, "agent", ON_CALL)
        source = node.members.get(trigger_source)
        if source is None:
            raise EmulatorError(400, f"trigger_source {trigger_source} is not a member of the call")
        if source.role != "agent":
            raise EmulatorError(400, f"trigger_source {trigger_source} is not an agent")
        if source.state != ON_CALL:
            raise EmulatorError(
                400, f"trigger_source {trigger_source} is {source.state}, not on_call"
            )
        if action == "call":
            self._join(node, to, role, ON_CALL)
        elif action == "warm_transfer":
            if node.transfer is not None:
                raise EmulatorError(400, "a warm transfer is already in progress on this call")
            waiting = [
                m.address
                for m in node.members.values()
                if m.state == ON_CALL and m.address != trigger_source
            ]
            for address in waiting:
                node.members[address].state = WAITING_ON_TRANSFER
            source.state = TRANSFER_INITIATOR
            self._join(node, to, role, TRANSFER_RECIPIENT)
            node.transfer = WarmTransfer(initiator=trigger_source, recipient=to, waiting=waiting)
        elif action == "cold_transfer":
            self._join(node, to, role, ON_CALL)
            del node.members[trigger_source]
        else:  # pragma: no cover - the app validates the action first
            raise EmulatorError(400, f"unknown action {action!r}")

    def _join(self, node: Node, address: str, role: str, state: str) -> None:
        call = Call(
            call_uuid=new_id(),
            to=address,
            from_=None,
            source="multi_party_call",
            phlo_id=node.phlo_id,
            node_id=node.node_id,
        )
        self.calls.append(call)
        node.members[address] = Member(
            address=address,
            role=role,
            state=state,
            call_uuid=call.call_uuid,
            joined_on=plivo_time(),
        )

    # -- member actions ----------------------------------------------------
    def member_action(
        self,
        phlo_id: str,
        node_id: str,
        address: str,
        action: str,
        node_type: str = "multi_party_call",
    ) -> None:
        node = self.node(phlo_id, node_id, node_type)
        member = node.members.get(address)
        if member is None:
            raise EmulatorError(404, f"member {address} is not on the call")
        if action in ("mute", "unmute"):
            self._mute(member, address, action == "mute")
        elif action in ("hold", "unhold"):
            self._hold(member, address, action == "hold")
        elif action == "hangup":
            self._leave(node, address)
        elif action in ("resume_call", "abort_transfer"):
            self._transfer_step(node, member, address, action)
        elif action == "voicemail_drop":
            if member.state != ON_CALL:
                raise EmulatorError(
                    400, f"cannot voicemail_drop {address}: member is {member.state}"
                )
            del node.members[address]
        else:  # pragma: no cover - the app validates the action first
            raise EmulatorError(400, f"unknown action {action!r}")

    @staticmethod
    def _mute(member: Member, address: str, muted: bool) -> None:
        if member.muted == muted:
            state = "already muted" if muted else "not muted"
            raise EmulatorError(
                400, f"cannot {'mute' if muted else 'unmute'} {address}: member is {state}"
            )
        member.muted = muted

    @staticmethod
    def _hold(member: Member, address: str, hold: bool) -> None:
        action, needed, then = ("hold", ON_CALL, ON_HOLD) if hold else ("unhold", ON_HOLD, ON_CALL)
        if member.state != needed:
            raise EmulatorError(400, f"cannot {action} {address}: member is {member.state}")
        member.state = then

    def _transfer_step(self, node: Node, member: Member, address: str, action: str) -> None:
        """``resume_call`` (either side of a warm transfer) or ``abort_transfer``
        (its initiator): the transfer ends, the recipient kept or not."""
        if action == "resume_call":
            if member.state not in (TRANSFER_INITIATOR, TRANSFER_RECIPIENT):
                raise EmulatorError(
                    400, f"cannot resume_call for {address}: no warm transfer in progress for them"
                )
            self._end_transfer(node, keep_recipient=True)
        else:
            if member.state != TRANSFER_INITIATOR:
                raise EmulatorError(
                    400, f"cannot abort_transfer for {address}: they did not start a transfer"
                )
            self._end_transfer(node, keep_recipient=False)

    def _leave(self, node: Node, address: str) -> None:
        transfer = node.transfer
        if transfer is not None and address == transfer.initiator:
            # The initiator left: the recipient takes over the call.
            self._end_transfer(node, keep_recipient=True)
        elif transfer is not None and address == transfer.recipient:
            self._end_transfer(node, keep_recipient=False)
        node.members.pop(address, None)

    def _end_transfer(self, node: Node, *, keep_recipient: bool) -> None:
        transfer = node.transfer
        assert transfer is not None
        node.transfer = None
        for address in (*transfer.waiting, transfer.initiator):
            member = node.members.get(address)
            if member is not None and member.state in (WAITING_ON_TRANSFER, TRANSFER_INITIATOR):
                member.state = ON_CALL
        recipient = node.members.get(transfer.recipient)
        if recipient is not None:
            if keep_recipient:
                recipient.state = ON_CALL
            else:
                del node.members[transfer.recipient]

    # -- Voice API ---------------------------------------------------------
    def create_calls(
        self, from_: str, destinations: list[str], params: dict[str, Any]
    ) -> list[str]:
        parent = params.get("parent_call_uuid")
        if (
            params.get("error_if_parent_not_found") in (True, "true")
            and parent is not None
            and (all(call.call_uuid != parent for call in self.calls))
        ):
            raise EmulatorError(404, f"parent call {parent} not found")
        uuids: list[str] = []
        for destination in destinations:
            call = Call(
                call_uuid=new_id(), to=destination, from_=from_, source="voice", params=dict(params)
            )
            self.calls.append(call)
            uuids.append(call.call_uuid)
        return uuids

    # -- introspection -----------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "phlos": [
                {
                    **phlo.describe(),
                    "nodes": [
                        {
                            **node.describe(),
                            "members": [m.snapshot() for m in node.members.values()],
                            "warm_transfer": None
                            if node.transfer is None
                            else {
                                "initiator": node.transfer.initiator,
                                "recipient": node.transfer.recipient,
                            },
                        }
                        for node in phlo.nodes.values()
                    ],
                }
                for phlo in self.phlos.values()
            ],
            "runs": [{**run.describe(), "payload": run.payload} for run in self.runs.values()],
            "calls": [
                {
                    "call_uuid": call.call_uuid,
                    "to": call.to,
                    "from": call.from_,
                    "source": call.source,
                    "run_id": call.run_id,
                    "phlo_id": call.phlo_id,
                    "node_id": call.node_id,
                }
                for call in self.calls
            ],
        }


def _phlo_from_seed(seed: PhloSeed) -> Phlo:
    nodes: dict[str, Node] = {}
    for node_seed in seed.nodes:
        node = Node(
            node_id=node_seed.node_id,
            phlo_id=seed.phlo_id,
            name=node_seed.name,
            created_on=node_seed.created_on,
            node_type=node_seed.node_type,
        )
        for member in node_seed.members:
            node.members[member.address] = Member(
                address=member.address,
                role=member.role,
                state=ON_CALL,
                call_uuid=new_id(),
                joined_on=node_seed.created_on,
            )
        nodes[node.node_id] = node
    return Phlo(
        phlo_id=seed.phlo_id,
        name=seed.name,
        created_on=seed.created_on,
        dial_keys=seed.dial_keys,
        required_keys=seed.required_keys,
        nodes=nodes,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
