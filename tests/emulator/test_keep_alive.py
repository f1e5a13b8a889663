"""Idle connections: the emulator keeps them longer than the client does (issue 17).

With uvicorn's default (5 s, the client's own idle limit) a request written
into a connection idle for about 5 s met the server closing it and ended
"outcome unknown" although nothing was executed. No test waits real seconds:
they check what uvicorn is configured with and what the answers announce.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from plivo_phlo_async import ConfigurationError
from plivo_phlo_async._fastpath._pool import KEEPALIVE_EXPIRY
from plivo_phlo_async.emulator import DEFAULT_PHLO_ID, run_emulator


def _raw_get(port: int, extra_headers: bytes = b"", version: bytes = b"1.1") -> list[bytes]:
    """The header lines (lower case) of the answer to one GET written by hand."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"GET /v1/phlo/%s HTTP/%s\r\nHost: 127.0.0.1\r\n%s\r\n"
            % (DEFAULT_PHLO_ID.encode(), version, extra_headers)
        )
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, "closed before the headers"
            received += chunk
    return received.split(b"\r\n\r\n")[0].lower().split(b"\r\n")[1:]


def test_idle_connections_outlive_the_clients_idle_limit_like_a_load_balancers() -> None:
    with run_emulator() as server:
        configured = server._server.config.timeout_keep_alive

    assert configured == 75
    assert configured > KEEPALIVE_EXPIRY


def test_answers_announce_the_keep_alive() -> None:
    with run_emulator() as server:
        response = httpx.get(f"{server.base_url}/phlo/{DEFAULT_PHLO_ID}")

    assert response.status_code == 401  # any answer, whatever its status
    assert response.headers["keep-alive"] == "timeout=75"


def test_an_answer_that_closes_the_connection_announces_no_keep_alive() -> None:
    with run_emulator() as server:
        closing = _raw_get(server.port, b"Connection: close\r\n")
        old_http = _raw_get(server.port, version=b"1.0")

    assert b"connection: close" in closing
    assert not [line for line in closing + old_http if line.startswith(b"keep-alive:")]


def test_a_short_keep_alive_reproduces_a_server_closing_idle_connections_early() -> None:
    with run_emulator(keep_alive=5) as server:
        configured = server._server.config.timeout_keep_alive
        headers = _raw_get(server.port)

    assert configured == 5
    assert b"keep-alive: timeout=5" in headers


@pytest.mark.parametrize("seconds", [0, -1, 2.5, True])
def test_a_keep_alive_that_is_not_whole_positive_seconds_is_refused(seconds: object) -> None:
    with pytest.raises(ConfigurationError, match="keep_alive must be a whole number of seconds"):
        run_emulator(keep_alive=seconds)  # type: ignore[arg-type]


def test_the_module_command_takes_the_keep_alive() -> None:
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            *(sys.executable, "-m", "plivo_phlo_async.emulator"),
            *("--port", "0", "--log-level", "warning", "--keep-alive", "7"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        response = httpx.get(f"{url}/v1/phlo/{DEFAULT_PHLO_ID}")
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)

    assert process.returncode == 0, err
    assert response.headers["keep-alive"] == "timeout=7"


def test_the_module_command_refuses_a_keep_alive_under_a_second() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "plivo_phlo_async.emulator", "--keep-alive", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 2
    assert "--keep-alive: must be at least 1 second" in done.stderr
