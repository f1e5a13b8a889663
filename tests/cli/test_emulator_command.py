"""plivo-phlo emulator: serves over a socket until Ctrl-C; bad settings exit 2."""

from __future__ import annotations

import json
import re
import signal
import socket
from pathlib import Path

import httpx

from plivo_phlo_async.emulator import DEFAULT_AUTH_ID, DEFAULT_AUTH_TOKEN, DEFAULT_PHLO_ID

from .conftest import cli_process, invoke, write


def test_it_serves_until_interrupted(tmp_path: Path) -> None:
    process = cli_process(["emulator", "--port", "0", "--log-level", "warning"])
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match is not None, first
        answer = httpx.get(
            f"{match.group(0)}/v1/phlo/{DEFAULT_PHLO_ID}",
            auth=(DEFAULT_AUTH_ID, DEFAULT_AUTH_TOKEN),
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.json()["phlo_id"] == DEFAULT_PHLO_ID
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_a_config_file_seeds_it(tmp_path: Path) -> None:
    config = write(
        tmp_path / "seed.json",
        json.dumps({"auth_token": "other-token", "phlos": [{"phlo_id": "mine", "name": "Mine"}]}),
    )
    process = cli_process(
        ["emulator", "--config", str(config), "--no-rate-limit", "--log-level", "warning"]
    )
    try:
        assert process.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert match is not None
        answer = httpx.get(
            f"{match.group(0)}/v1/phlo/mine", auth=(DEFAULT_AUTH_ID, "other-token"), timeout=10
        )
        assert answer.json()["name"] == "Mine"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_an_invalid_config_file_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path / "seed.json", json.dumps({"no_such_key": 1}))

    result = invoke("emulator", "--config", str(config))

    assert result.exit_code == 2
    assert "invalid emulator configuration" in result.stderr
    assert "no_such_key" in result.stderr


def test_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    assert invoke("emulator", "--config", str(tmp_path / "nope.toml")).exit_code == 2


def test_a_bad_rate_limit_exits_2() -> None:
    result = invoke("emulator", "--rate-limit", "lots/5")

    assert result.exit_code == 2
    assert "300/5" in result.stderr


def test_a_port_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = invoke("emulator", "--port", str(port))

    assert result.exit_code == 1
    assert "cannot start the emulator" in result.stderr


def test_it_takes_the_keep_alive() -> None:
    process = cli_process(
        ["emulator", "--port", "0", "--log-level", "warning", "--keep-alive", "7"]
    )
    try:
        assert process.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert match is not None
        answer = httpx.get(f"{match.group(0)}/v1/phlo/{DEFAULT_PHLO_ID}", timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    assert answer.headers["keep-alive"] == "timeout=7"


def test_a_keep_alive_under_a_second_exits_2() -> None:
    result = invoke("emulator", "--keep-alive", "0")

    assert result.exit_code == 2
    assert "Invalid value for '--keep-alive'" in result.stderr
