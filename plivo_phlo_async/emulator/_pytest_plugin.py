"""pytest fixtures for testing PHLO code against the emulator (docs/emulator.md).

Registered through the ``pytest11`` entry point, so it loads for everyone who installs the
package: it imports nothing heavy at import time (the emulator only inside the fixtures).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from plivo_phlo_async import PhloClient
    from plivo_phlo_async.emulator import EmulatorServer, PhloEmulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "phlo_emulator(config=None, **fields): seed this test's PHLO emulator "
        "(an EmulatorConfig, a mapping, a .json/.toml path, or EmulatorConfig fields)",
    )


@pytest.fixture
def phlo_emulator_config() -> Any:
    """The emulator's seed: None for the default one. Override it in a conftest."""
    return None


@pytest.fixture
def phlo_emulator(request: pytest.FixtureRequest, phlo_emulator_config: Any) -> PhloEmulator:
    """A fresh emulator for this test (default seed unless configured)."""
    from plivo_phlo_async.emulator import EmulatorConfig, PhloEmulator

    config = phlo_emulator_config
    marker = request.node.get_closest_marker("phlo_emulator")
    if marker is not None:
        if marker.args:
            config = marker.args[0]
        if marker.kwargs:
            # Keyword fields (file-style values or dataclasses) override the base config.
            base = EmulatorConfig.load(config)
            given = EmulatorConfig.from_mapping(marker.kwargs)
            config = dataclasses.replace(
                base, **{name: getattr(given, name) for name in marker.kwargs}
            )
    return PhloEmulator(config)


@pytest.fixture
def phlo_client(phlo_emulator: PhloEmulator) -> PhloClient:
    """A ``PhloClient`` that talks to ``phlo_emulator`` in-process.

    There is no socket behind it, so it needs no closing.
    """
    return phlo_emulator.client()


@pytest.fixture
def phlo_emulator_server(phlo_emulator: PhloEmulator) -> Iterator[EmulatorServer]:
    """``phlo_emulator`` served on 127.0.0.1 (``.base_url``, ``.client()``)."""
    from plivo_phlo_async.emulator import run_emulator

    with run_emulator(emulator=phlo_emulator) as server:
        yield server
