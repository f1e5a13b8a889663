"""Typing of the documented chain, checked the way users' code is: ``mypy --strict``
on ``tests/typing/`` (one run, a few seconds with the project's mypy cache warm)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import respx

from plivo_phlo_async import APIResponseValidationError, PhloClient, PhloRun
from plivo_phlo_async.emulator import (
    BRIDGE_MEMBERS,
    DEFAULT_BRIDGE_ID,
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    PhloEmulator,
)

ROOT = Path(__file__).parents[1]
TYPING = Path(__file__).parent / "typing"


@pytest.fixture(scope="module")
def mypy_output() -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and files
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-color-output",
            "--no-error-summary",
            str(TYPING / "user_code.py"),
            str(TYPING / "rejected.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def error_lines(output: str, name: str) -> set[int]:
    return {
        int(match.group(1))
        for match in re.finditer(rf"^.*{re.escape(name)}:(\d+): error:", output, re.MULTILINE)
    }


def test_the_documented_chain_passes_mypy_strict(mypy_output: str) -> None:
    assert error_lines(mypy_output, "user_code.py") == set(), mypy_output


def test_mypy_strict_refuses_each_misuse(mypy_output: str) -> None:
    source = (TYPING / "rejected.py").read_text().splitlines()
    expected = {number for number, line in enumerate(source, 1) if "# expect-error" in line}

    assert len(expected) == 4
    assert error_lines(mypy_output, "rejected.py") == expected, mypy_output


def load_user_code() -> ModuleType:
    spec = importlib.util.spec_from_file_location("user_code", TYPING / "user_code.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_type_checked_code_runs_against_the_emulator() -> None:
    user_code = load_user_code()
    emulator = PhloEmulator()
    async with emulator.client() as client:
        run = await user_code.run_and_look_up(client, DEFAULT_PHLO_ID, "+14155550199")
        assert isinstance(run, PhloRun)
        assert run.run_id == emulator.executions("run")[0].run_id
        results = await user_code.mute_then_unmute(
            client, DEFAULT_PHLO_ID, DEFAULT_BRIDGE_ID, BRIDGE_MEMBERS[0]
        )
        assert [r.http_status for r in results] == [201, 201]
        node = await user_code.any_node(
            client, DEFAULT_PHLO_ID, "multi_party_call", DEFAULT_NODE_ID
        )
        assert node.node_id == DEFAULT_NODE_ID
        status, _ = user_code.request_id(node)
        assert status == 200
        tagged = await user_code.tagged_run(client, DEFAULT_PHLO_ID, "+14155550198")
        assert tagged.http_status == 201
    assert [a.kind for a in emulator.executed] == ["run", "mute", "unmute", "run"]


async def test_a_run_answered_without_its_api_id_is_a_response_validation_error(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post().respond(201, json={"phlo_id": DEFAULT_PHLO_ID, "message": "ok"})

    with pytest.raises(APIResponseValidationError) as info:
        await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550199")

    assert route.call_count == 1  # it succeeded: never sent again
    assert "PhloRunResult" in str(info.value)
    assert "(api_id: Field required)" in str(info.value)
    assert "do not send it again" in str(info.value)
