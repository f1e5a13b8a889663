"""Seeding: the default seed, dicts, JSON and TOML files, and their errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from plivo_phlo_async import ConfigurationError, PlivoError
from plivo_phlo_async.emulator import (
    BRIDGE_MEMBERS,
    DEFAULT_AUTH_ID,
    DEFAULT_BRIDGE_ID,
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    SECOND_NODE_ID,
    SECOND_PHLO_ID,
    ConfigError,
    EmulatorConfig,
    FaultConfig,
    MemberSeed,
    PhloEmulator,
    ServerRateLimit,
)

SEED = {
    "auth_id": "MAFILECONFIGURED0001",
    "auth_token": "file-token",
    "rate_limit": {"requests": 10, "window": 1.5},
    "faults": {"seed": 4, "error_rate": 0.5, "methods": ["POST"], "latency": [0.0, 0.01]},
    "phlos": [
        {
            "phlo_id": "a1b2c3d4-0000-4000-8000-000000000001",
            "name": "Escalation",
            "created_on": "2023-01-02 03:04:05.000006+00:00",
            "dial_keys": ["agent", "customer"],
            "nodes": [
                {
                    "node_id": "n-1",
                    "name": "Conference",
                    "members": [{"address": "+14155550100", "role": "agent"}],
                }
            ],
        }
    ],
}

TOML = """
auth_id = "MAFILECONFIGURED0001"
auth_token = "file-token"
rate_limit = { requests = 10, window = 1.5 }

[faults]
seed = 4
error_rate = 0.5
methods = ["POST"]
latency = [0.0, 0.01]

[[phlos]]
phlo_id = "a1b2c3d4-0000-4000-8000-000000000001"
name = "Escalation"
created_on = "2023-01-02 03:04:05.000006+00:00"
dial_keys = ["agent", "customer"]

[[phlos.nodes]]
node_id = "n-1"
name = "Conference"
members = [{ address = "+14155550100", role = "agent" }]
"""


def _check_loaded(config: EmulatorConfig) -> None:
    assert config.auth_id == "MAFILECONFIGURED0001"
    assert config.rate_limit == ServerRateLimit(10, 1.5)
    assert config.faults == FaultConfig(
        seed=4, error_rate=0.5, methods=frozenset({"POST"}), latency=(0.0, 0.01)
    )
    [phlo] = config.phlos
    assert phlo.dial_keys == ("agent", "customer")
    assert phlo.nodes[0].members == (MemberSeed("+14155550100", "agent"),)


def test_default_seed_has_the_demo_phlos_and_the_docs_placeholders() -> None:
    config = EmulatorConfig()

    assert [(p.phlo_id, [n.node_id for n in p.nodes]) for p in config.phlos] == [
        (DEFAULT_PHLO_ID, [DEFAULT_NODE_ID, DEFAULT_BRIDGE_ID]),
        (SECOND_PHLO_ID, [SECOND_NODE_ID]),
        ("PHLO_ID", ["NODE_ID", "BRIDGE_ID"]),
    ]
    assert [m.address for m in config.phlos[2].nodes[1].members] == ["+14155550111"]
    bridge = config.phlos[0].nodes[1]
    assert bridge.node_type == "conference_bridge"
    assert [m.address for m in bridge.members] == list(BRIDGE_MEMBERS)
    assert re.fullmatch(r"MA[A-Z0-9]{18}", DEFAULT_AUTH_ID)
    for phlo in config.phlos:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00", phlo.created_on)


def test_config_from_a_mapping() -> None:
    _check_loaded(EmulatorConfig.from_mapping(SEED))


def test_config_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))

    _check_loaded(EmulatorConfig.load(path))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib; 3.10 uses tomli from the extra")
def test_config_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(TOML)

    _check_loaded(EmulatorConfig.load(str(path)))


def test_a_loaded_config_seeds_the_emulator(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))

    emulator = PhloEmulator(path)

    assert emulator.auth_id == "MAFILECONFIGURED0001"
    assert emulator.members("a1b2c3d4-0000-4000-8000-000000000001", "n-1") == {
        "+14155550100": "on_call"
    }


def test_rate_limit_false_turns_it_off() -> None:
    assert EmulatorConfig.from_mapping({"rate_limit": False}).rate_limit is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"colour": "red"}, r"unknown key\(s\) \['colour'\]"),
        ({"phlos": [{"phlo_id": "p", "nodes": [{"node_id": "n", "size": 1}]}]}, "size"),
        ({"phlos": [{"phlo_id": "p/../x"}]}, "phlo_id must be"),
        ({"phlos": [{"phlo_id": "p", "created_on": "2024-01-01"}]}, "created_on must look like"),
        ({"phlos": [{"phlo_id": "p"}, {"phlo_id": "p"}]}, "listed twice"),
        ({"phlos": "p"}, "phlos must be a list"),
        ({"rate_limit": {"requests": 0}}, "positive integer"),
        ({"faults": {"error_rate": 0.7, "drop_after_rate": 0.7}}, "more than 1"),
        ({"faults": {"error_statuses": [404]}}, "5xx"),
        (
            {
                "phlos": [
                    {
                        "phlo_id": "p",
                        "nodes": [{"node_id": "n", "members": [{"address": "+1", "role": "boss"}]}],
                    }
                ]
            },
            "role",
        ),
        ({"auth_token": ""}, "auth_token"),
    ],
)
def test_invalid_configs_say_what_is_wrong(data: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        EmulatorConfig.from_mapping(data)


def test_a_file_must_be_json_or_toml(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("auth_id: x")

    with pytest.raises(ConfigError, match=r"\.json or \.toml"):
        EmulatorConfig.load(path)


def test_broken_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text("{")

    with pytest.raises(ConfigError, match="not valid JSON"):
        EmulatorConfig.load(path)


def test_reset_returns_to_the_seed() -> None:
    emulator = PhloEmulator(SEED)
    emulator.inject("error")
    emulator.set_rate_limit(None)

    emulator.reset()

    assert emulator.pending_faults == 0
    assert emulator.requests == []
    assert emulator.members("a1b2c3d4-0000-4000-8000-000000000001", "n-1") == {
        "+14155550100": "on_call"
    }


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "error", "times": 0}, "times"),
        ({"kind": "error", "status": 404}, "5xx"),
    ],
)
def test_inject_checks_its_arguments(kwargs: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        PhloEmulator().inject(**kwargs)  # type: ignore[arg-type]


def test_a_config_error_is_one_of_the_packages_errors_and_still_a_value_error() -> None:
    with pytest.raises(ConfigError, match="auth_token must be a non-empty string") as caught:
        EmulatorConfig(auth_token="")

    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, PlivoError)
    assert isinstance(caught.value, ValueError)
