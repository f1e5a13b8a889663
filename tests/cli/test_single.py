"""get, get-run, mpc and member against the loopback emulator."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from plivo_phlo_async.cli._common import CREDENTIALS_HINT
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    EmulatorServer,
    PhloEmulator,
)

from .conftest import SECRET_TOKEN, invoke, write

pytestmark = pytest.mark.usefixtures("credentials")

AGENT = "+14155550100"
CUSTOMER = "+14155550199"
THIRD = "+14155550142"
NODE_PATH = f"/v1/phlo/{DEFAULT_PHLO_ID}/multi_party_call/{DEFAULT_NODE_ID}"


def _add_member(server: EmulatorServer) -> None:
    async def call() -> None:
        async with server.client() as client:
            await (
                client.phlo(DEFAULT_PHLO_ID).multi_party_call(DEFAULT_NODE_ID).call(AGENT, CUSTOMER)
            )

    anyio.run(call)


def test_get_prints_the_phlo_as_json(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url)

    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["phlo_id"] == DEFAULT_PHLO_ID
    assert answer["name"] == "Multi-party_Outbound"
    assert answer["api_id"]
    [request] = emulator.requests
    assert (request.method, request.path) == ("GET", f"/v1/phlo/{DEFAULT_PHLO_ID}")
    assert request.auth_id == DEFAULT_AUTH_ID


def test_get_of_an_unknown_phlo_exits_1_with_one_line(
    emulator: PhloEmulator, base_url: str
) -> None:
    result = invoke("get", "no-such-phlo", "--base-url", base_url)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "NotFoundError" in result.stderr
    assert "404" in result.stderr


def test_invalid_phlo_id_exits_2_and_sends_nothing(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke("get", "a/b", "--base-url", base_url)

    assert result.exit_code == 2
    assert "invalid input, nothing sent" in result.stderr
    assert "phlo_id" in result.stderr
    assert emulator.requests == []


def test_get_run_prints_what_the_run_started(server: EmulatorServer, base_url: str) -> None:
    server.emulator.reset()

    async def trigger() -> str:
        async with server.client() as client:
            run = await client.phlo(DEFAULT_PHLO_ID).run(to=CUSTOMER)
        assert run.run_id is not None
        return run.run_id

    run_id = anyio.run(trigger)
    result = invoke("get-run", DEFAULT_PHLO_ID, run_id, "--base-url", base_url)

    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["run_id"] == run_id
    assert answer["phlo_id"] == DEFAULT_PHLO_ID
    assert len(answer["call_uuids"]) == 1
    assert server.emulator.requests[-1].path == f"/v1/phlo/{DEFAULT_PHLO_ID}/runs/{run_id}"


def test_mpc_call_sends_the_documented_body(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke(
        "mpc",
        DEFAULT_PHLO_ID,
        DEFAULT_NODE_ID,
        "call",
        "--trigger-source",
        AGENT,
        "--to",
        CUSTOMER,
        "--base-url",
        base_url,
    )

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["api_id"]
    [request] = emulator.requests
    assert (request.method, request.path) == ("POST", NODE_PATH)
    assert request.json == {
        "action": "call",
        "to": CUSTOMER,
        "role": "agent",
        "trigger_source": AGENT,
    }
    assert len(emulator.executions("call")) == 1


def test_mpc_warm_transfer_with_a_role(server: EmulatorServer, base_url: str) -> None:
    server.emulator.reset()
    _add_member(server)  # AGENT is on the call now

    result = invoke(
        "mpc",
        DEFAULT_PHLO_ID,
        DEFAULT_NODE_ID,
        "warm-transfer",
        "--trigger-source",
        AGENT,
        "--to",
        THIRD,
        "--role",
        "customer",
        "--base-url",
        base_url,
    )

    assert result.exit_code == 0, result.stderr
    request = server.emulator.requests[-1]
    assert request.json == {
        "action": "warm_transfer",
        "to": THIRD,
        "role": "customer",
        "trigger_source": AGENT,
    }


def test_a_refused_action_exits_1_with_plivos_reason(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke(
        "mpc",
        DEFAULT_PHLO_ID,
        DEFAULT_NODE_ID,
        "cold-transfer",
        "--trigger-source",
        AGENT,
        "--to",
        THIRD,
        "--base-url",
        base_url,
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("plivo-phlo: error: BadRequestError")
    assert "not a member" in result.stderr
    assert result.stderr.count("\n") == 1


def test_mpc_with_an_invalid_number_exits_2_before_sending(
    emulator: PhloEmulator, base_url: str
) -> None:
    result = invoke(
        "mpc",
        DEFAULT_PHLO_ID,
        DEFAULT_NODE_ID,
        "call",
        "--trigger-source",
        AGENT,
        "--to",
        "not-a-number",
        "--base-url",
        base_url,
    )

    assert result.exit_code == 2
    assert "'to'" in result.stderr
    assert emulator.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["transfer", "--trigger-source", AGENT, "--to", CUSTOMER],  # unknown action
        ["call", "--trigger-source", AGENT, "--to", CUSTOMER, "--role", "boss"],
        ["call", "--to", CUSTOMER],  # --trigger-source is required
    ],
)
def test_mpc_usage_errors_exit_2(emulator: PhloEmulator, base_url: str, args: list[str]) -> None:
    result = invoke("mpc", DEFAULT_PHLO_ID, DEFAULT_NODE_ID, *args, "--base-url", base_url)

    assert result.exit_code == 2
    assert emulator.requests == []


def test_member_hold(server: EmulatorServer, base_url: str) -> None:
    server.emulator.reset()
    _add_member(server)

    result = invoke(
        "member", DEFAULT_PHLO_ID, DEFAULT_NODE_ID, CUSTOMER, "hold", "--base-url", base_url
    )

    assert result.exit_code == 0, result.stderr
    request = server.emulator.requests[-1]
    assert (request.method, request.path) == ("POST", f"{NODE_PATH}/members/{CUSTOMER}")
    assert request.json == {"action": "hold"}
    assert server.emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID)[CUSTOMER] == "on_hold"


def test_member_mute_then_unmute(server: EmulatorServer, base_url: str) -> None:
    # The command's actions are the SDK's (MemberAction), mute and unmute included.
    server.emulator.reset()
    _add_member(server)

    for action in ("mute", "unmute"):
        result = invoke(
            "member", DEFAULT_PHLO_ID, DEFAULT_NODE_ID, CUSTOMER, action, "--base-url", base_url
        )
        assert result.exit_code == 0, result.stderr

    assert [r.json for r in server.emulator.requests[-2:]] == [
        {"action": "mute"},
        {"action": "unmute"},
    ]


def test_member_action_names_use_hyphens(server: EmulatorServer, base_url: str) -> None:
    server.emulator.reset()
    _add_member(server)

    invoke(
        "member",
        DEFAULT_PHLO_ID,
        DEFAULT_NODE_ID,
        CUSTOMER,
        "voicemail-drop",
        "--base-url",
        base_url,
    )

    assert server.emulator.requests[-1].json == {"action": "voicemail_drop"}


def test_member_with_an_invalid_address_exits_2(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke(
        "member", DEFAULT_PHLO_ID, DEFAULT_NODE_ID, "bob", "hangup", "--base-url", base_url
    )

    assert result.exit_code == 2
    assert "member_address" in result.stderr
    assert emulator.requests == []


def test_outcome_unknown_is_said_explicitly_and_exits_1(
    emulator: PhloEmulator, base_url: str
) -> None:
    emulator.inject("error", method="POST", status=503)

    result = invoke(
        "mpc",
        DEFAULT_PHLO_ID,
        DEFAULT_NODE_ID,
        "call",
        "--trigger-source",
        AGENT,
        "--to",
        CUSTOMER,
        "--base-url",
        base_url,
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("plivo-phlo: outcome unknown: ServerOutcomeUnknownError")
    assert result.stderr.count("\n") == 1
    assert len(emulator.requests) == 1  # not retried


def test_credentials_come_from_options_too(
    emulator: PhloEmulator, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLIVO_AUTH_ID")
    monkeypatch.delenv("PLIVO_AUTH_TOKEN")

    result = invoke(
        "get",
        DEFAULT_PHLO_ID,
        "--base-url",
        base_url,
        "--auth-id",
        DEFAULT_AUTH_ID,
        "--auth-token",
        emulator.auth_token,
    )

    assert result.exit_code == 0, result.stderr
    assert emulator.requests[0].auth_id == DEFAULT_AUTH_ID


def test_missing_credentials_exit_2_before_sending(
    emulator: PhloEmulator, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLIVO_AUTH_ID")
    monkeypatch.delenv("PLIVO_AUTH_TOKEN")

    result = invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url)

    assert result.exit_code == 2
    assert "PLIVO_AUTH_ID" in result.stderr
    assert emulator.requests == []


def test_plain_http_to_a_remote_host_is_refused(emulator: PhloEmulator) -> None:
    result = invoke("get", DEFAULT_PHLO_ID, "--base-url", "http://example.com/v1")

    assert result.exit_code == 2
    assert "https" in result.stderr


def test_a_refused_token_is_never_printed(
    emulator: PhloEmulator, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)

    results = [
        invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url),
        invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url, "--auth-token", SECRET_TOKEN),
        invoke(
            "member", DEFAULT_PHLO_ID, DEFAULT_NODE_ID, CUSTOMER, "hold", "--base-url", base_url
        ),
    ]

    for result in results:
        assert result.exit_code == 3
        assert "AuthenticationError" in result.stderr
        assert SECRET_TOKEN not in result.output


def test_the_accepted_token_is_never_printed(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url)

    assert result.exit_code == 0
    assert emulator.auth_token not in result.output


def test_the_base_url_comes_from_the_environment(emulator: PhloEmulator, base_url: str) -> None:
    result = invoke("get", DEFAULT_PHLO_ID, env={"PLIVO_PHLO_BASE_URL": base_url})

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["phlo_id"] == DEFAULT_PHLO_ID
    assert [r.path for r in emulator.requests] == [f"/v1/phlo/{DEFAULT_PHLO_ID}"]


def test_a_refused_token_exits_3_with_runs_credentials_hint(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)
    source = write(tmp_path / "in.csv", f"to\n{CUSTOMER}\n")

    single = invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url)
    bulk = invoke("run", DEFAULT_PHLO_ID, "--from-csv", str(source), "--base-url", base_url)

    assert (single.exit_code, bulk.exit_code) == (3, 3)
    assert single.stdout == ""
    [line] = single.stderr.splitlines()
    assert line.endswith(f"{CREDENTIALS_HINT}.")
    assert "AuthenticationError" in line
    assert "401" in line
    assert ".." not in line
    [stopped] = [text for text in bulk.output.splitlines() if text.startswith("Stopped")]
    assert CREDENTIALS_HINT in stopped
    assert ".." not in stopped


def test_a_member_action_with_a_refused_token_exits_3_with_the_hint(
    emulator: PhloEmulator, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)

    result = invoke(
        "member", DEFAULT_PHLO_ID, DEFAULT_NODE_ID, CUSTOMER, "hold", "--base-url", base_url
    )

    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert line.endswith(f"{CREDENTIALS_HINT}.")
    assert SECRET_TOKEN not in result.output
