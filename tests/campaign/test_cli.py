"""``plivo-phlo campaign submit`` and ``status``, with ``taskiq worker``
processes running what was submitted. Synchronous tests: each command starts
its own event loop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from plivo_phlo_async.cli._app import app
from plivo_phlo_async.emulator._server import EmulatorServer

from .conftest import PHLO_ID, executions, pending, until, wait_for_outcomes
from .test_worker_processes import Spawn, spawn_worker  # noqa: F401 - a fixture


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.csv"
    path.write_text("to,n\n" + "".join(f"+1415555{n:04d},{n}\n" for n in range(30)))
    return path


def test_submit_queues_chunks_that_workers_run_and_status_counts_them(
    redis_url: str,
    queue: str,
    redis_prefix: str,
    server: EmulatorServer,
    journal: str,
    csv_file: Path,
    spawn_worker: Spawn,  # noqa: F811
) -> None:
    code, output = invoke(
        "campaign",
        "submit",
        PHLO_ID,
        "--from-csv",
        str(csv_file),
        "--journal",
        journal,
        "--broker",
        redis_url,
        "--queue",
        queue,
        "--chunk-size",
        "10",
        "--redis-key-prefix",
        redis_prefix,
        "--rate",
        "20/1",
    )
    assert (code, output.strip()) == (0, f"queued 30 jobs in 3 chunks on {queue}")
    spawn_worker()

    anyio.run(wait_for_outcomes, journal, 30)
    anyio.run(until, lambda: pending(redis_url, queue) == 0)

    # CSV values are strings: "n" arrives as "0".."29".
    assert sorted(executions(server).values()) == [1] * 30
    code, output = invoke("campaign", "status", "--journal", journal, "--json")
    assert (code, json.loads(output)) == (0, {"succeeded": 30})
    code, output = invoke("campaign", "status", "--journal", journal)
    assert code == 0
    assert output.split() == ["succeeded", "30", "total", "30"]


def test_submit_refuses_invalid_rows_and_queues_nothing(
    redis_url: str, queue: str, journal: str, tmp_path: Path
) -> None:
    import redis

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"to": "+14155550100"}\n[1, 2]\n')
    code, output = invoke(
        "campaign",
        "submit",
        PHLO_ID,
        "--from-jsonl",
        str(bad),
        "--journal",
        journal,
        "--broker",
        redis_url,
        "--queue",
        queue,
    )
    assert code == 2
    assert "line 2" in output
    with redis.Redis.from_url(redis_url) as connection:
        assert connection.exists(queue) == 0


def test_submit_needs_exactly_one_input(redis_url: str, journal: str) -> None:
    code, output = invoke(
        "campaign", "submit", PHLO_ID, "--journal", journal, "--broker", redis_url
    )
    assert code == 2
    assert "exactly one of --from-csv" in output


def test_status_of_a_missing_journal_exits_2(tmp_path: Path) -> None:
    code, output = invoke("campaign", "status", "--journal", str(tmp_path / "none.sqlite"))
    assert code == 2
    assert "no journal" in output


def test_status_exits_1_when_a_job_failed_or_is_unknown(tmp_path: Path) -> None:
    """A real journal (one run answered 201, one 500: outcome unknown) read by ``status``."""
    import anyio
    import httpx

    from plivo_phlo_async import PhloClient
    from plivo_phlo_async.bulk import RunJob

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["n"] == 1:
            return httpx.Response(500, json={"error": "internal"})
        return httpx.Response(201, json={"api_id": "a", "message": "ok"})

    path = tmp_path / "j.sqlite"

    async def run() -> None:
        async with PhloClient(
            "MAXXXXXXXXXXXXXXXXXX",
            "token",
            base_url="http://127.0.0.1/v1",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        ) as client:
            jobs = [RunJob("3c1f5a0e-0000-4000-8000-000000000001", {"n": n}) for n in range(2)]
            await client.bulk(jobs, rate_limit=None, journal=path).run()

    anyio.run(run)
    code, output = invoke("campaign", "status", "--journal", str(path), "--json")
    counts = {status: n for status, n in json.loads(output).items() if n}
    assert (code, counts) == (1, {"outcome_unknown": 1, "succeeded": 1})


def test_importing_the_sdk_or_its_cli_imports_no_taskiq() -> None:
    code = (
        "import sys, plivo_phlo_async, plivo_phlo_async.bulk, plivo_phlo_async.cli._app;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('taskiq', 'taskiq_redis')))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
