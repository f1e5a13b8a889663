"""A local, stateful emulator of Plivo's PHLO and Voice APIs, for tests.

Like stripe-mock or moto, but for PHLOs: seeded PHLOs, multi-party-call and
conference-bridge nodes, runs you can look up, members with real hold/transfer rules, Basic
auth, the account's rate limit, and reproducible fault injection. Needs the
``emulator`` extra (``pip install 'plivo-phlo-async[emulator]'``)::

    from plivo_phlo_async.emulator import DEFAULT_PHLO_ID, PhloEmulator, run_emulator

    emulator = PhloEmulator()                      # default seed
    client = emulator.client()                     # in-process, no socket
    run = await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550100")
    assert emulator.executions("run")[0].run_id == run.run_id

    async with run_emulator() as server:           # real socket on 127.0.0.1
        async with server.client() as client:
            ...

Default credentials: auth id ``MAEMULATORAUTHID0001``, token
``emulator-auth-token``. pytest users get the ``phlo_emulator``,
``phlo_client`` and ``phlo_emulator_server`` fixtures automatically.
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
