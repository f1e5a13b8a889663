"""The pytest plugin, used the way a user's own test suite would use it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

PLUGIN = "plivo_phlo_async.emulator._pytest_plugin"

USER_TESTS = """
import httpx
import pytest

from plivo_phlo_async import NotFoundError
from plivo_phlo_async.emulator import DEFAULT_NODE_ID, DEFAULT_PHLO_ID, ServerRateLimit


async def test_client_fixture_runs_a_phlo(phlo_client, phlo_emulator):
    run = await phlo_client.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")

    assert phlo_emulator.executions("run")[0].run_id == run.run_id


async def test_each_test_gets_a_fresh_emulator(phlo_emulator):
    assert phlo_emulator.executed == []


async def test_member_rules(phlo_client):
    mpc = phlo_client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID)
    await mpc.call("+14155550100", "+14155550111", role="customer")
    await mpc.member("+14155550111").hold()
    with pytest.raises(NotFoundError):
        await mpc.member("+14155550199").hold()


async def test_server_fixture(phlo_emulator_server):
    async with phlo_emulator_server.client() as client:
        details = await client.phlo.get(DEFAULT_PHLO_ID)
    assert details.phlo_id == DEFAULT_PHLO_ID
    assert phlo_emulator_server.base_url.startswith("http://127.0.0.1:")


@pytest.mark.phlo_emulator(rate_limit={"requests": 1, "window": 60})
def test_marker_fields(phlo_emulator):
    assert phlo_emulator.config.rate_limit == ServerRateLimit(1, 60)


@pytest.mark.phlo_emulator({"phlos": [{"phlo_id": "mine", "name": "Mine"}]})
async def test_marker_config(phlo_client):
    assert (await phlo_client.phlo.get("mine")).name == "Mine"
"""

CONFTEST = """
import pytest


@pytest.fixture
def phlo_emulator_config():
    return {"auth_id": "MACONFTESTOVERRIDE01", "auth_token": "t",
            "phlos": [{"phlo_id": "00000000-0000-4000-8000-00000000a001", "nodes": [
                {"node_id": "00000000-0000-4000-8000-00000000b001"}]}, {"phlo_id": "mine"}]}
"""


def _run_pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    (directory / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\naddopts = --strict-markers -p no:cacheprovider\n"
    )
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    command = [sys.executable, "-m", "pytest", "-q", str(directory)]
    if not installed:
        command += ["-p", PLUGIN]
    return subprocess.run(  # noqa: S603 - the running interpreter, fixed arguments
        command, cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_users_suite_gets_the_fixtures_and_the_marker(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)

    done = _run_pytest(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


def test_a_conftest_can_override_the_seed(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_user.py").write_text(
        "def test_seed(phlo_emulator):\n"
        "    assert phlo_emulator.auth_id == 'MACONFTESTOVERRIDE01'\n"
        "    assert [p.phlo_id for p in phlo_emulator.config.phlos][1] == 'mine'\n"
    )

    done = _run_pytest(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
