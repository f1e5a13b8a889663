"""The examples in examples/ run as documented, against an emulator started here.

Each example is run by its entry point (a subprocess, as a reader runs it, with the
emulator's credentials and base URLs in the environment) or, for the ASGI apps, in-process
through httpx's ASGITransport with the app's lifespan entered; the one command at the top of
each example is run as written.
The emulator counts what it received, so every test also checks that nothing was sent twice.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from _servers import Conn, Request, Server
from _waiting import wait_until_sync

from plivo_phlo_async.emulator import (
    DEFAULT_NODE_ID,
    DEFAULT_PHLO_ID,
    EmulatorServer,
    run_emulator,
)
from plivo_phlo_async.webhooks import sign_v3

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
PYTEST_SUITE = EXAMPLES / "pytest_suite" / "test_escalation.py"
CSV_ROWS = [  # examples/numbers.csv
    {"to": "+14155550201", "name": "Ada"},
    {"to": "+14155550202", "name": "Grace"},
    {"to": "+14155550203", "name": "Alan"},
    {"to": "+14155550204", "name": "Edsger"},
    {"to": "+14155550205", "name": "Barbara"},
]
WAIT = 60.0  # seconds a subprocess may take before the test gives up (not a timing assertion)


# -- helpers ------------------------------------------------------------------------------
def _env(server: EmulatorServer | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLIVO_", "PHLO_", "NODE_"))}
    if server is not None:
        env.update(
            PLIVO_AUTH_ID=server.emulator.auth_id,
            PLIVO_AUTH_TOKEN=server.emulator.auth_token,
            PLIVO_PHLO_BASE_URL=server.base_url,
            PLIVO_API_BASE_URL=server.base_url,
            PHLO_ID=DEFAULT_PHLO_ID,
            NODE_ID=DEFAULT_NODE_ID,
        )
    env.update(extra)
    return env


def _run(
    script: str, *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and examples
        [sys.executable, str(EXAMPLES / script), *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def _posts(server: EmulatorServer) -> int:
    return sum(1 for request in server.emulator.requests if request.method == "POST")


def _documented_command(path: Path) -> str:
    """The one command in the example's docstring (the first indented ``python`` line)."""
    match = re.search(r"^    (python .+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match is not None, f"{path.name} documents no command"
    return match[1]


def _load(script: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{script[:-3]}", EXAMPLES / script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@asynccontextmanager
async def _serve_in_process(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind httpx's ASGITransport, its lifespan entered as a server would."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with run_emulator() as running:
        yield running


@pytest.fixture
def emulator_env(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """This process's environment points at ``server`` (for the in-process apps)."""
    for name, value in _env(server).items():
        if name.startswith(("PLIVO_", "PHLO_", "NODE_")):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("PLIVO_PHLO_INSECURE_HTTP_HOSTS", raising=False)
    return server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch directory where ``examples/...`` paths resolve as from the repository root."""
    (tmp_path / "examples").symlink_to(EXAMPLES)
    return tmp_path


# -- every example documents one command, and examples/README.md lists it ------------------
def test_every_example_documents_its_command_in_the_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert len(SCRIPTS) == 4
    for path in [*SCRIPTS, PYTEST_SUITE]:
        command = _documented_command(path)
        assert command in readme, f"examples/README.md lacks {command!r}"


@pytest.mark.parametrize("script", ["bulk_campaign.py", "event_bot.py", "webhook_receiver.py"])
def test_the_documented_command_runs(script: str, workdir: Path) -> None:
    words = shlex.split(_documented_command(EXAMPLES / script))
    stdin = None
    if "<" in words:
        at = words.index("<")
        stdin = (workdir / words[at + 1]).read_text(encoding="utf-8")
        del words[at : at + 2]
    if script == "webhook_receiver.py":
        words += ["--port", "0"]  # the documented default port may be taken here
    assert words[:2] == ["python", f"examples/{script}"]
    done = _run(script, *words[2:], env=_env(), cwd=workdir, stdin=stdin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("emulator: http://127.0.0.1:")


# -- bulk campaign ----------------------------------------------------------------------
def test_campaign_runs_every_row_once_and_a_rerun_sends_nothing(
    server: EmulatorServer, tmp_path: Path
) -> None:
    args = (str(EXAMPLES / "numbers.csv"), "--journal", str(tmp_path / "campaign.sqlite"))
    first = _run("bulk_campaign.py", *args, env=_env(server), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "5 jobs: succeeded 5, failed 0, outcome_unknown 0" in first.stdout
    assert [run.payload for run in server.emulator.runs] == CSV_ROWS  # keys kept, in order

    again = _run("bulk_campaign.py", *args, env=_env(server), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "5 jobs: succeeded 5" in again.stdout
    assert _posts(server) == 5
    assert len(server.emulator.executions("run")) == 5


def test_the_documented_campaign_command_runs_twice_and_the_rerun_sends_nothing(
    workdir: Path,
) -> None:
    # Each --emulator run starts a new emulator on a new port, with the same journal.
    words = shlex.split(_documented_command(EXAMPLES / "bulk_campaign.py"))
    first = _run("bulk_campaign.py", *words[2:], env=_env(), cwd=workdir)
    again = _run("bulk_campaign.py", *words[2:], env=_env(), cwd=workdir)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "5 jobs: succeeded 5, failed 0, outcome_unknown 0, skipped 0; 5 requests" in first.stdout
    assert again.returncode == 0, again.stdout + again.stderr
    assert "5 jobs: succeeded 5, failed 0, outcome_unknown 0, skipped 0; 0 requests" in again.stdout
    assert again.stderr == ""


def test_campaign_reports_an_unusable_journal_in_one_line(
    server: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.sqlite"
    journal.write_text("not a journal\n", encoding="utf-8")

    done = _run(
        "bulk_campaign.py",
        str(EXAMPLES / "numbers.csv"),
        "--journal",
        str(journal),
        env=_env(server),
        cwd=tmp_path,
    )

    assert done.returncode == 2
    assert done.stderr.startswith(f"bulk_campaign: {journal} is not a plivo-phlo journal")
    assert done.stderr.count("\n") == 1  # one line, no traceback
    assert server.emulator.requests == []


BULK_PAGE = EXAMPLES.parent / "docs" / "bulk.md"  # the README's bulk section until issue 19


def test_the_docs_bulk_block_runs_twice_and_the_rerun_sends_nothing(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", BULK_PAGE.read_text(encoding="utf-8"), re.DOTALL)
    [code] = [block for block in blocks if 'journal="campaign.sqlite"' in block]
    runs = [
        subprocess.run(  # noqa: S603 - our own interpreter and docs
            [sys.executable, "-c", code],
            env=_env(),
            cwd=tmp_path,  # the same campaign.sqlite both times, a new emulator each time
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        for _ in range(2)
    ]

    for done in runs:
        assert done.returncode == 0, done.stdout + done.stderr
    summaries = [re.findall(r"^500 jobs: succeeded 500, .*$", done.stdout, re.M) for done in runs]
    assert [len(lines) for lines in summaries] == [2, 2]
    # (the first run's own count may include a retried 429 on a loaded machine)
    assert "; 0 requests in " not in summaries[0][0]
    assert all("; 0 requests in " in line for line in [summaries[0][1], *summaries[1]])


def test_campaign_reports_a_lost_answer_and_never_resends_it(
    server: EmulatorServer, tmp_path: Path
) -> None:
    server.emulator.inject("drop_after", method="POST")  # the run happens, its answer is lost
    args = (str(EXAMPLES / "numbers.csv"), "--journal", str(tmp_path / "campaign.sqlite"))
    first = _run("bulk_campaign.py", *args, env=_env(server), cwd=tmp_path)
    assert first.returncode == 1
    assert "succeeded 4, failed 0, outcome_unknown 1" in first.stdout
    assert re.search(r"^line \d: outcome_unknown ", first.stdout, re.MULTILINE)

    again = _run("bulk_campaign.py", *args, env=_env(server), cwd=tmp_path)
    assert again.returncode == 1
    assert "succeeded 4, failed 0, outcome_unknown 1" in again.stdout
    assert _posts(server) == 5
    assert len(server.emulator.executions("run")) == 5


# -- event bot --------------------------------------------------------------------------
def test_bot_acts_on_each_event_and_reports_a_refusal(
    server: EmulatorServer, tmp_path: Path
) -> None:
    events = (EXAMPLES / "bot_events.jsonl").read_text(encoding="utf-8")
    done = _run("event_bot.py", env=_env(server), cwd=tmp_path, stdin=events)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ready"
    assert lines[1:4] == [
        "done call +14155550111",
        "done hold +14155550111",
        "done unhold +14155550111",
    ]
    assert lines[4].startswith("failed hold +14155550199: NotFoundError")
    assert lines[5:] == ["done hangup +14155550111"]
    assert [action.kind for action in server.emulator.executed] == [
        "call",
        "hold",
        "unhold",
        "hangup",
    ]
    assert _posts(server) == 5  # one request per event, none repeated


async def _silent(request: Request, conn: Conn) -> None:
    """Reads each request (the server counts it) and never answers."""


def test_bot_cancelled_in_flight_reports_the_action_unknown_and_never_resends_it(
    tmp_path: Path, serve: Callable[..., Server]
) -> None:
    silent = serve(_silent)
    base_url = silent.base_url
    env = _env(
        PLIVO_AUTH_ID="MAEMULATORAUTHID0001",
        PLIVO_AUTH_TOKEN="emulator-auth-token",
        PLIVO_PHLO_BASE_URL=base_url,
        PLIVO_API_BASE_URL=base_url,
        PHLO_ID=DEFAULT_PHLO_ID,
        NODE_ID=DEFAULT_NODE_ID,
    )
    bot = subprocess.Popen(  # noqa: S603
        [sys.executable, str(EXAMPLES / "event_bot.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    try:
        assert bot.stdin is not None
        assert bot.stdout is not None
        assert bot.stdout.readline() == "ready\n"
        bot.stdin.write('{"event": "call", "to": "+14155550111"}\n')
        bot.stdin.write('{"event": "hold", "member": "+14155550111"}\n')
        bot.stdin.flush()
        wait_until_sync(lambda: silent.received, what="the call to be sent", timeout=WAIT)
        assert len(silent.received) == 1
        bot.send_signal(signal.SIGINT)
        out, err = bot.communicate(timeout=WAIT)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 130, out + err
    assert out.splitlines() == [
        "UNKNOWN call +14155550111: cancelled in flight, it may have happened;"
        " check before doing it again",
        "cancelled",
    ]
    assert len(silent.received) == 1  # the call was not sent again, the hold never started


# -- FastAPI service ----------------------------------------------------------------------
@pytest.fixture
async def service(emulator_env: EmulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve_in_process(_load("fastapi_service.py").app) as http:
        yield http


async def test_service_shares_one_client_opened_and_closed_by_its_lifespan(
    emulator_env: EmulatorServer,
) -> None:
    module = _load("fastapi_service.py")
    async with _serve_in_process(module.app) as http:
        shared = module.app.state.phlo_client
        first = await http.post("/runs", json={"to": "+14155550111"})
        second = await http.post("/runs", json={"to": "+14155550112"})
        assert module.app.state.phlo_client is shared
        assert not shared.is_closed
    assert shared.is_closed
    assert first.status_code == second.status_code == 201
    runs = emulator_env.emulator.executions("run")
    assert [first.json()["run_id"], second.json()["run_id"]] == [run.run_id for run in runs]


async def test_service_places_a_call_and_holds_the_member(
    service: httpx.AsyncClient, emulator_env: EmulatorServer
) -> None:
    http = service
    call = await http.post("/calls", json={"agent": "+14155550100", "to": "+14155550111"})
    assert call.status_code == 201, call.text
    hold = await http.post("/members/+14155550111/hold")
    assert hold.status_code == 200, hold.text
    members = emulator_env.emulator.members(DEFAULT_PHLO_ID, DEFAULT_NODE_ID)
    assert members["+14155550111"] == "on_hold"


async def test_service_refuses_bad_input_before_sending_anything(
    service: httpx.AsyncClient, emulator_env: EmulatorServer
) -> None:
    http = service
    answer = await http.post("/calls", json={"agent": "+14155550100", "to": "call me maybe"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "InvalidParameterError"
    assert answer.json()["field"] == "to"
    assert emulator_env.emulator.requests == []


async def test_service_answers_an_unknown_outcome_as_such_and_never_resends(
    service: httpx.AsyncClient, emulator_env: EmulatorServer
) -> None:
    http = service
    emulator_env.emulator.inject("drop_after", method="POST")
    answer = await http.post("/runs", json={"to": "+14155550111"})
    assert answer.status_code == 502
    assert answer.json()["outcome"] == "unknown"
    assert len(emulator_env.emulator.executions("run")) == 1
    assert _posts(emulator_env) == 1


async def test_service_passes_on_a_rate_limit_with_its_retry_after(
    service: httpx.AsyncClient, emulator_env: EmulatorServer
) -> None:
    http = service
    emulator_env.emulator.inject("rate_limit", method="POST", times=3, retry_after=0)
    answer = await http.post("/runs", json={"to": "+14155550111"})
    assert answer.status_code == 429, answer.text
    assert "Retry-After" in answer.headers
    assert emulator_env.emulator.executions("run") == []


def test_service_documented_command_serves_requests(workdir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    words = shlex.split(_documented_command(EXAMPLES / "fastapi_service.py"))
    words[words.index("--port") + 1] = str(port)
    service = subprocess.Popen(  # noqa: S603
        [sys.executable, str(EXAMPLES / "fastapi_service.py"), *words[2:]],
        env=_env(),
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answers: list[httpx.Response] = []

        def answered() -> bool:
            assert service.poll() is None, "the service exited without answering"
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                answers.append(
                    httpx.post(f"http://127.0.0.1:{port}/runs", json={"to": "+14155550111"})
                )
            return bool(answers)

        wait_until_sync(answered, what="the service to answer", timeout=WAIT, interval=0.05)
        [answer] = answers
        assert answer.status_code == 201, answer.text
        assert answer.json()["run_id"]
    finally:
        service.send_signal(signal.SIGINT)
        output, _ = service.communicate(timeout=WAIT)
    assert service.returncode == 0, output


# -- webhook receiver ----------------------------------------------------------------------
def test_receiver_answers_the_emulators_signed_callbacks(
    server: EmulatorServer, tmp_path: Path
) -> None:
    done = _run(
        "webhook_receiver.py",
        "--port",
        "0",
        "--call",
        "+14155550111",
        env=_env(server),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hangup received for 14155550111" in done.stdout
    callbacks = {c.event: c for c in server.emulator.callbacks}
    assert set(callbacks) == {"answer", "hangup"}
    assert callbacks["answer"].status == 200
    assert callbacks["answer"].answer_text == (
        "<Response><Speak>Hello 14155550111</Speak></Response>"
    )
    assert callbacks["hangup"].status == 200
    assert len(server.emulator.executions("create_call")) == 1


@pytest.fixture
async def receiver(emulator_env: EmulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve_in_process(_load("webhook_receiver.py").create_app()) as http:
        yield http


def _signed(token: str, params: dict[str, str], nonce: str = "12345") -> dict[str, str]:
    signature = sign_v3(
        method="POST",
        url="http://testserver/answer",
        params=params,
        nonce=nonce,
        auth_token=token,
    )
    return {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}


async def test_receiver_accepts_a_callback_signed_with_the_accounts_token(
    receiver: httpx.AsyncClient, emulator_env: EmulatorServer
) -> None:
    params = {"CallUUID": "c1", "From": "+14155550100", "To": "+14155550111"}
    answer = await receiver.post(
        "/answer", data=params, headers=_signed(emulator_env.emulator.auth_token, params)
    )
    assert answer.status_code == 200
    assert answer.text == "<Response><Speak>Hello +14155550111</Speak></Response>"


@pytest.mark.parametrize(
    "headers",
    [{}, _signed("another-accounts-token", {"To": "+14155550111"})],
    ids=["unsigned", "signed-with-another-token"],
)
async def test_receiver_refuses_a_callback_plivo_did_not_sign(
    receiver: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await receiver.post("/answer", data={"To": "+14155550111"}, headers=headers)
    assert answer.status_code == 403


async def test_receiver_refuses_a_tampered_callback(
    receiver: httpx.AsyncClient, emulator_env: EmulatorServer
) -> None:
    headers = _signed(emulator_env.emulator.auth_token, {"To": "+14155550111"})
    answer = await receiver.post("/answer", data={"To": "+19005550000"}, headers=headers)
    assert answer.status_code == 403


# -- the pytest suite -----------------------------------------------------------------------
def test_the_pytest_suite_example_passes_in_a_project_of_its_own(workdir: Path) -> None:
    command = shlex.split(_documented_command(PYTEST_SUITE))
    assert command[:3] == ["python", "-m", "pytest"]
    done = subprocess.run(  # noqa: S603
        [sys.executable, *command[1:]],
        env=_env(),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b5 passed\b", done.stdout), done.stdout
