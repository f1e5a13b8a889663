"""What the emulator starts with: credentials, PHLOs, nodes, limits, faults.

A config is an :class:`EmulatorConfig` built in Python, or loaded from a
mapping, a JSON file or a TOML file with :meth:`EmulatorConfig.load`. The
file format mirrors the dataclasses::

    auth_id = "MAEMULATORAUTHID0001"
    auth_token = "emulator-auth-token"
    rate_limit = { requests = 300, window = 5.0 }   # or: rate_limit = false

    [[phlos]]
    phlo_id = "00000000-0000-4000-8000-00000000a001"
    name = "Multi-party_Outbound"
    dial_keys = ["to"]

    [[phlos.nodes]]
    node_id = "00000000-0000-4000-8000-00000000b001"
    name = "Multi-Party Call_1"
    members = [{ address = "+14155550100", role = "agent" }]

Unknown keys are errors, so a typo in a seed file fails loudly instead of
silently seeding something else.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .._exceptions import ConfigurationError
from .._validation import is_int
from ..types._params import ROLES
from ._faults import FaultConfig, ServerRateLimit

#: The default account. Plivo auth ids are "MA" or "SA" and 18 more characters.
DEFAULT_AUTH_ID = "MAEMULATORAUTHID0001"
DEFAULT_AUTH_TOKEN = "emulator-auth-token"  # noqa: S105 - a public test credential
#: The default seed's PHLOs and their multi-party-call nodes.
DEFAULT_PHLO_ID = "00000000-0000-4000-8000-00000000a001"
DEFAULT_NODE_ID = "00000000-0000-4000-8000-00000000b001"
SECOND_PHLO_ID = "00000000-0000-4000-8000-00000000a002"
SECOND_NODE_ID = "00000000-0000-4000-8000-00000000b002"
#: The default PHLO's conference-bridge node, and the two members on it.
DEFAULT_BRIDGE_ID = "00000000-0000-4000-8000-00000000c001"
BRIDGE_MEMBERS = ("+14155550131", "+14155550132")
#: The placeholder ids the README and the docs use, seeded too so that their examples run as
#: shown against an emulator started with its defaults; ``+14155550111`` is on the bridge.
PLACEHOLDER_PHLO_ID = "PHLO_ID"
PLACEHOLDER_NODE_ID = "NODE_ID"
PLACEHOLDER_BRIDGE_ID = "BRIDGE_ID"
#: Node types whose members the emulator keeps (and acts on).
MEMBER_NODE_TYPES = ("multi_party_call", "conference_bridge")

#: Plivo's timestamp format: "2020-08-01 09:04:40.632232+00:00".
_PLIVO_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}:\d{2}")


class ConfigError(ConfigurationError):
    """The emulator's configuration is not valid."""


@dataclass(frozen=True)
class MemberSeed:
    """A member already on a multi-party call when the emulator starts."""

    address: str
    role: str = "agent"

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address:
            raise ConfigError(f"member address must be a non-empty string, not {self.address!r}")
        if self.role not in ROLES:
            choices = " or ".join(map(repr, ROLES))
            raise ConfigError(f"member role must be {choices}, not {self.role!r}")


@dataclass(frozen=True)
class NodeSeed:
    """A node of a PHLO: a multi-party call unless ``node_type`` says otherwise.

    Members are kept for ``multi_party_call`` and ``conference_bridge`` nodes;
    a node of another type is only served to ``GET``.
    """

    node_id: str
    name: str = "Multi-Party Call_1"
    created_on: str = "2024-05-01 09:05:11.846982+00:00"
    members: tuple[MemberSeed, ...] = ()
    node_type: str = "multi_party_call"

    def __post_init__(self) -> None:
        _check_id("node_id", self.node_id)
        _check_time(self.created_on)
        if not isinstance(self.node_type, str) or not re.fullmatch(
            r"[a-z][a-z0-9_]{0,63}", self.node_type
        ):
            raise ConfigError(
                f"node_type must be lowercase letters, digits and '_', not {self.node_type!r}"
            )
        if self.members and self.node_type not in MEMBER_NODE_TYPES:
            raise ConfigError(
                f"node {self.node_id}: a {self.node_type} node has no members "
                f"(only {' and '.join(MEMBER_NODE_TYPES)} nodes do)"
            )
        object.__setattr__(self, "members", tuple(self.members))
        _unique([m.address for m in self.members], f"node {self.node_id}: a member address")


@dataclass(frozen=True)
class PhloSeed:
    """A PHLO of the account.

    ``dial_keys`` name the payload keys whose values a run dials (one call per
    destination; several may be joined with ``<``). ``required_keys`` are the
    Start node's keys: a run without one of them "stops" like a real PHLO
    (201, a ``stopped`` message, no call).
    """

    phlo_id: str
    name: str = "PHLO"
    created_on: str = "2024-05-01 09:04:40.632232+00:00"
    nodes: tuple[NodeSeed, ...] = ()
    dial_keys: tuple[str, ...] = ("to",)
    required_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id("phlo_id", self.phlo_id)
        _check_time(self.created_on)
        for name in ("nodes", "dial_keys", "required_keys"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _unique([node.node_id for node in self.nodes], f"PHLO {self.phlo_id}: a node id")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator is seeded with.

    ``rate_limit=None`` turns the limit off. ``calls_per_second`` (off by
    default, so tests stay deterministic) makes Voice calls beyond that rate
    answer ``200 "call queued"`` like a real account.
    """

    auth_id: str = DEFAULT_AUTH_ID
    auth_token: str = DEFAULT_AUTH_TOKEN
    phlos: tuple[PhloSeed, ...] = field(default_factory=lambda: default_phlos())
    rate_limit: ServerRateLimit | None = field(default_factory=ServerRateLimit)
    faults: FaultConfig | None = None
    calls_per_second: int | None = None

    def __post_init__(self) -> None:
        _check_id("auth_id", self.auth_id)
        if not isinstance(self.auth_token, str) or not self.auth_token:
            raise ConfigError("auth_token must be a non-empty string")
        object.__setattr__(self, "phlos", tuple(self.phlos))
        _unique([phlo.phlo_id for phlo in self.phlos], "a PHLO id")
        if self.calls_per_second is not None and (
            not is_int(self.calls_per_second) or self.calls_per_second < 1
        ):
            raise ConfigError("calls_per_second must be a positive integer or None")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EmulatorConfig:
        """Build a config from plain data (what a JSON or TOML file holds)."""
        config: EmulatorConfig = _build(cls, data, "config")
        return config

    @classmethod
    def load(cls, source: EmulatorConfig | Mapping[str, Any] | str | Path | None) -> EmulatorConfig:
        """Accept a config, a mapping, a ``.json``/``.toml`` path, or None (defaults)."""
        if source is None:
            return cls()
        if isinstance(source, EmulatorConfig):
            return source
        if isinstance(source, Mapping):
            return cls.from_mapping(source)
        if isinstance(source, (str, Path)):
            return cls.from_mapping(_read_file(Path(source)))
        raise ConfigError(f"cannot build a config from {type(source).__name__}")


def default_phlos() -> tuple[PhloSeed, ...]:
    """Two PHLOs with one multi-party-call node each (the first also has a
    conference bridge with two members on it): enough for the demo. A third,
    ``PHLO_ID``, holds the docs' placeholder ids, so a reader's copy runs."""
    return (
        PhloSeed(
            phlo_id=DEFAULT_PHLO_ID,
            name="Multi-party_Outbound",
            created_on="2024-05-01 09:04:40.632232+00:00",
            nodes=(
                NodeSeed(
                    node_id=DEFAULT_NODE_ID,
                    name="Multi-Party Call_1",
                    created_on="2024-05-01 09:05:11.846982+00:00",
                ),
                NodeSeed(
                    node_id=DEFAULT_BRIDGE_ID,
                    name="Conference Bridge_1",
                    node_type="conference_bridge",
                    created_on="2024-05-01 09:06:02.210377+00:00",
                    members=(
                        MemberSeed(BRIDGE_MEMBERS[0], "agent"),
                        MemberSeed(BRIDGE_MEMBERS[1], "customer"),
                    ),
                ),
            ),
        ),
        PhloSeed(
            phlo_id=SECOND_PHLO_ID,
            name="Support Escalation",
            created_on="2024-06-12 14:30:02.118204+00:00",
            nodes=(
                NodeSeed(
                    node_id=SECOND_NODE_ID,
                    name="Multi-Party Call_1",
                    created_on="2024-06-12 14:31:47.503917+00:00",
                ),
            ),
        ),
        PhloSeed(
            phlo_id=PLACEHOLDER_PHLO_ID,
            name="The docs' placeholder",
            nodes=(
                NodeSeed(node_id=PLACEHOLDER_NODE_ID),
                NodeSeed(
                    node_id=PLACEHOLDER_BRIDGE_ID,
                    name="Conference Bridge_1",
                    node_type="conference_bridge",
                    members=(MemberSeed("+14155550111", "customer"),),
                ),
            ),
        ),
    )


def _read_file(path: Path) -> Mapping[str, Any]:
    suffix = path.suffix.lower()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if suffix == ".json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    elif suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10 takes tomli from the emulator extra
            try:
                tomllib = importlib.import_module("tomli")
            except ImportError as exc:
                raise ConfigError(
                    "reading TOML on Python 3.10 needs tomli: "
                    "pip install 'plivo-phlo-async[emulator]'"
                ) from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    else:
        raise ConfigError(f"{path}: a config file must end in .json or .toml")
    return _mapping(data, str(path))


#: The keys a file gives as a list: of seeds (each built in turn) or of plain values.
_SEED_LISTS: dict[str, type] = {"phlos": PhloSeed, "nodes": NodeSeed, "members": MemberSeed}
_PLAIN_LISTS = ("dial_keys", "required_keys", "error_statuses", "methods")
_TABLES: dict[str, type] = {"rate_limit": ServerRateLimit, "faults": FaultConfig}


def _build(cls: Any, data: Any, where: str) -> Any:
    """``cls`` from a mapping whose keys are its fields, nested seeds included."""
    if isinstance(data, cls):
        return data
    data = _mapping(data, where)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
    values = dict(data)
    for key, value in data.items():
        # The top level's keys are named bare ("phlos[0]", "faults.methods").
        inner = key if cls is EmulatorConfig else f"{where}.{key}"
        if key in _SEED_LISTS:
            items = enumerate(_list(value, inner))
            values[key] = tuple(
                _build(_SEED_LISTS[key], item, f"{inner}[{i}]") for i, item in items
            )
        elif key in _PLAIN_LISTS:
            values[key] = tuple(_list(value, inner))
        elif key == "rate_limit" and value is False:
            values[key] = None
        elif key in _TABLES and value is not None:
            values[key] = _build(_TABLES[key], value, inner)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _mapping(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table/object, not {type(data).__name__}")
    return data


def _list(data: Any, where: str) -> Sequence[Any]:
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise ConfigError(f"{where} must be a list, not {type(data).__name__}")
    return data


def _unique(ids: list[str], what: str) -> None:
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{what} is listed twice")


def _check_id(name: str, value: object) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._~-]+", value):
        raise ConfigError(f"{name} must be letters, digits, '-', '_', '.' or '~', not {value!r}")


def _check_time(value: object) -> None:
    if not isinstance(value, str) or not _PLIVO_TIME.fullmatch(value):
        raise ConfigError(
            f"created_on must look like '2024-05-01 09:04:40.632232+00:00', not {value!r}"
        )
