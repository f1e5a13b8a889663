"""A local, stateful emulator of Plivo's PHLO and Voice APIs, for tests (like stripe-mock or
moto): :class:`PhloEmulator` answers in-process, :func:`run_emulator` on a loopback socket, and
pytest gets the ``phlo_emulator``, ``phlo_client`` and ``phlo_emulator_server`` fixtures.
Needs the ``emulator`` extra. The guide: docs/emulator.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import (
    BRIDGE_MEMBERS,
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_BRIDGE_ID,
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    SECOND_NODE_ID,
    SECOND_PHLO_ID,
    ConfigError,
    EmulatorConfig,
    MemberSeed,
    NodeSeed,
    PhloSeed,
)
from ._emulator import PhloEmulator
from ._faults import FaultConfig, ServerRateLimit
from ._records import CallbackRecord, ExecutedAction, ReceivedRequest
from ._server import EmulatorServer, run_emulator, serve

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._app import ASGIApp


def create_app(config: EmulatorConfig | Mapping[str, Any] | str | Path | None = None) -> ASGIApp:
    """The ASGI application of a new emulator (serve it with any ASGI server)."""
    return PhloEmulator(config).app


__all__ = [
    "BRIDGE_MEMBERS",
    "DEFAULT_AUTH_ID",
    "DEFAULT_AUTH_TOKEN",
    "DEFAULT_BRIDGE_ID",
    "DEFAULT_NODE_ID",
    "DEFAULT_PHLO_ID",
    "SECOND_NODE_ID",
    "SECOND_PHLO_ID",
    "CallbackRecord",
    "ConfigError",
    "EmulatorConfig",
    "EmulatorServer",
    "ExecutedAction",
    "FaultConfig",
    "MemberSeed",
    "NodeSeed",
    "PhloEmulator",
    "PhloSeed",
    "ReceivedRequest",
    "ServerRateLimit",
    "create_app",
    "run_emulator",
    "serve",
]
