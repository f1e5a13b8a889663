"""The real server: start/stop, asyncio/trio/sync use, the admin API, the command."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from typing import Any

import anyio
import httpx
import pytest

from plivo_phlo_async import ConfigurationError, PhloClient
from plivo_phlo_async.emulator import (
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    EmulatorServer,
    PhloEmulator,
    create_app,
    run_emulator,
)


async def test_async_context_manager_serves_on_an_os_chosen_loopback_port() -> None:
    async with run_emulator() as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        async with PhloClient(
            server.emulator.auth_id,
            server.emulator.auth_token,
            base_url=server.base_url,
            voice_base_url=server.base_url,
        ) as client:
            details = await client.phlo.get(DEFAULT_PHLO_ID)
    assert details.phlo_id == DEFAULT_PHLO_ID


async def test_after_exit_nothing_listens_on_the_port() -> None:
    async with run_emulator() as server:
        url = f"{server.base_url}/phlo/{DEFAULT_PHLO_ID}"
    assert not server.running

    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


def test_sync_context_manager_works_without_an_event_loop() -> None:
    with run_emulator() as server:
        response = httpx.get(
            f"{server.base_url}/phlo/{DEFAULT_PHLO_ID}",
            auth=(server.emulator.auth_id, server.emulator.auth_token),
        )
    assert response.status_code == 200
    assert response.json()["phlo_id"] == DEFAULT_PHLO_ID


def test_the_sdk_under_trio_talks_to_the_server() -> None:
    async def main() -> str:
        async with run_emulator() as server, server.client() as client:
            result = await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")
            assert result.run_id is not None
            run = await client.phlo(DEFAULT_PHLO_ID).get_run(result.run_id)
            return run.run_id

    run_id = anyio.run(main, backend="trio")

    assert run_id


async def test_two_servers_run_side_by_side() -> None:
    async with run_emulator() as first, run_emulator() as second:
        assert first.port != second.port
        async with first.client() as one, second.client() as two:
            await one.phlo(DEFAULT_PHLO_ID).run()
            await two.phlo.get(DEFAULT_PHLO_ID)
    assert [a.kind for a in first.emulator.executed] == ["run"]
    assert second.emulator.executed == []


async def test_a_server_and_an_in_process_client_share_one_emulator() -> None:
    emulator = PhloEmulator()
    async with run_emulator(emulator=emulator) as server, server.client() as remote:
        await remote.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")
        local = emulator.client()
        runs = await local.phlo(DEFAULT_PHLO_ID).get_run(emulator.runs[0].run_id)
    assert len(runs.call_uuids) == 1


def test_config_and_emulator_are_exclusive() -> None:
    with pytest.raises(ConfigurationError, match="either config or emulator"):
        run_emulator({"rate_limit": False}, emulator=PhloEmulator())


def test_a_server_cannot_start_twice() -> None:
    server = EmulatorServer(PhloEmulator())
    with server, pytest.raises(RuntimeError, match="already started"):
        server.start()


async def test_create_app_serves_any_asgi_client() -> None:
    app = create_app({"auth_id": "MAAPPONLYACCOUNT0001", "auth_token": "t"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        auth=("MAAPPONLYACCOUNT0001", "t"),
    ) as http:
        response = await http.get(f"/v1/phlo/{DEFAULT_PHLO_ID}")
    assert response.status_code == 200


async def test_admin_api_reports_and_resets() -> None:
    async with (
        run_emulator() as server,
        server.client() as client,
        httpx.AsyncClient(base_url=server.url) as admin,
    ):
        await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550111")
        requests = (await admin.get("/_emulator/requests")).json()
        executed = (await admin.get("/_emulator/executed")).json()
        state = (await admin.get("/_emulator/state")).json()
        injected = await admin.post("/_emulator/inject", json={"kind": "error", "method": "GET"})
        bad = await admin.post("/_emulator/inject", json={"kind": "explode"})
        pending = server.emulator.pending_faults
        reset = await admin.post("/_emulator/reset")

        assert [(r["method"], r["status"]) for r in requests] == [("POST", 201)]
        assert [a["kind"] for a in executed] == ["run"]
        assert executed[0]["run_id"] == requests[0]["api_id"]
        assert state["runs"][0]["call_uuids"] == executed[0]["call_uuids"]
        assert (injected.status_code, pending) == (201, 1)
        assert bad.status_code == 400
        assert reset.status_code == 200
        assert server.emulator.requests == []
        assert server.emulator.pending_faults == 0


def test_the_module_command_serves_until_interrupted(tmp_path: Any) -> None:
    config = tmp_path / "seed.json"
    config.write_text('{"auth_id": "MACOMMANDLINE0000001", "auth_token": "cli-token"}')
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "plivo_phlo_async.emulator",
            "--port",
            "0",
            "--config",
            str(config),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(5)]
        assert banner[0].startswith("PHLO emulator listening on http://127.0.0.1:")
        url = banner[0].split()[-1]
        response = httpx.get(
            f"{url}/v1/phlo/{DEFAULT_PHLO_ID}", auth=("MACOMMANDLINE0000001", "cli-token")
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "  auth id: MACOMMANDLINE0000001\n" in banner
    assert f"  base_url and voice_base_url: {url}/v1\n" in banner


def test_the_module_command_rejects_a_bad_config(tmp_path: Any) -> None:
    config = tmp_path / "seed.json"
    config.write_text('{"phlos": [{"phlo_id": "p", "colour": "red"}]}')

    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "plivo_phlo_async.emulator", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 2
    assert "unknown key(s) ['colour']" in done.stderr


def _non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than loopback (None if it has none)."""
    candidates: list[str] = []
    with contextlib.suppress(OSError):
        candidates += [
            info[4][0]
            for info in socket.getaddrinfo(
                socket.gethostname(), None, socket.AF_INET, socket.SOCK_STREAM
            )
        ]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):
        probe.connect(("10.255.255.255", 9))  # sends nothing: only picks a route
        candidates.append(probe.getsockname()[0])
    probe.close()
    return next((a for a in candidates if not a.startswith(("127.", "0."))), None)


def test_the_emulator_serves_other_hosts_and_never_prints_a_custom_token(tmp_path: Any) -> None:
    """``--host 0.0.0.0`` (a docker-compose service): a client reaches it over a
    non-loopback address once it names that host in ``insecure_http_hosts``."""
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    config = tmp_path / "seed.json"
    config.write_text('{"auth_id": "MASERVICE00000000001", "auth_token": "svc-secret-token"}')
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "plivo_phlo_async.emulator",
            "--host",
            "0.0.0.0",  # noqa: S104
            "--port",
            "0",
            "--config",
            str(config),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(7)]
        port = int(banner[0].rsplit(":", 1)[1])

        async def get_phlo() -> str:
            async with PhloClient(
                "MASERVICE00000000001",
                "svc-secret-token",
                base_url=f"http://{address}:{port}/v1",
                insecure_http_hosts=[address],
            ) as client:
                return (await client.phlo(DEFAULT_PHLO_ID).get()).phlo_id

        assert anyio.run(get_phlo) == DEFAULT_PHLO_ID
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    printed = "".join(banner) + out + err
    assert "svc-secret-token" not in printed
    assert "  auth token: as configured (not shown)\n" in banner
    assert any(line.startswith(f"  PHLO {DEFAULT_PHLO_ID} (") for line in banner)
    assert any(DEFAULT_NODE_ID in line for line in banner)
