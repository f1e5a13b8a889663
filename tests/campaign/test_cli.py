"""``plivo-phlo campaign submit`` and ``status``, with ``taskiq worker``
processes running what was submitted. Synchronous tests: each command starts
its own event loop."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from plivo_phlo_async.bulk._manifest import STATES
from plivo_phlo_async.cli._app import app
from plivo_phlo_async.emulator._server import EmulatorServer

from .conftest import CAMPAIGN, PHLO_ID, executions, make_jobs, pending, until, wait_for_outcomes
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
        "--campaign",
        CAMPAIGN,
    )
    assert (code, output.strip().splitlines()[-1]) == (  # after the AOF warning
        0,
        f"campaign {CAMPAIGN}: 30 jobs in the manifest; queued 3 chunks on {queue}",
    )
    spawn_worker()

    anyio.run(wait_for_outcomes, journal, 30)
    anyio.run(until, lambda: pending(redis_url, queue) == 0)

    # CSV values are strings: "n" arrives as "0".."29".
    assert sorted(executions(server).values()) == [1] * 30
    code, output = invoke("campaign", "status", "--journal", journal, "--json")
    assert code == 0
    assert json.loads(output) == {
        "campaign": CAMPAIGN,
        "size": 30,
        "finished": True,
        "states": {**dict.fromkeys(STATES, 0), "succeeded": 30},
    }
    code, output = invoke("campaign", "status", "--journal", journal)
    assert code == 0
    assert "succeeded" in output
    assert "finished: every job succeeded" in output


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
        "--campaign",
        CAMPAIGN,
    )
    assert code == 2
    assert "line 2" in output
    with redis.Redis.from_url(redis_url) as connection:
        assert connection.exists(queue) == 0


def test_submit_needs_exactly_one_input(redis_url: str, journal: str) -> None:
    code, output = invoke(
        "campaign",
        "submit",
        PHLO_ID,
        "--journal",
        journal,
        "--broker",
        redis_url,
        "--campaign",
        CAMPAIGN,
    )
    assert code == 2
    assert "exactly one of --from-csv" in output


def test_status_of_a_missing_journal_exits_2(tmp_path: Path) -> None:
    code, output = invoke("campaign", "status", "--journal", str(tmp_path / "none.sqlite"))
    assert code == 2
    assert "no journal" in output


def test_status_exits_1_when_every_job_has_its_outcome_and_one_is_unknown(
    tmp_path: Path,
) -> None:
    """A real journal (one run answered 201, one 500: outcome unknown) read by ``status``."""
    import httpx

    from plivo_phlo_async import PhloClient
    from plivo_phlo_async.bulk import RunJob
    from plivo_phlo_async.integrations.campaign import (
        chunk_message,
        run_campaign_chunk,
        write_manifest,
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["n"] == 1:
            return httpx.Response(500, json={"error": "internal"})
        return httpx.Response(201, json={"api_id": "a", "message": "ok"})

    path = str(tmp_path / "j.sqlite")

    async def run() -> None:
        jobs = [RunJob(PHLO_ID, {"n": n}) for n in range(2)]
        await write_manifest(
            jobs, campaign_id=CAMPAIGN, phlo_id=PHLO_ID, journal=path, rate_limit=None
        )
        async with PhloClient(
            "MAXXXXXXXXXXXXXXXXXX",
            "token",
            base_url="http://127.0.0.1/v1",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        ) as client:
            await run_campaign_chunk(chunk_message(path, CAMPAIGN, 0), client=client)

    anyio.run(run)
    code, output = invoke("campaign", "status", "--journal", path, "--json")
    states = {state: n for state, n in json.loads(output)["states"].items() if n}
    assert (code, states) == (1, {"outcome_unknown": 1, "succeeded": 1})
    code, output = invoke("campaign", "status", "--journal", path)
    assert code == 1
    assert "check Plivo's console" in output


def test_status_exits_5_while_jobs_are_not_started_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    from plivo_phlo_async.integrations.campaign import write_manifest

    path = str(tmp_path / "j.sqlite")
    anyio.run(
        partial(
            write_manifest,
            make_jobs(7),
            campaign_id=CAMPAIGN,
            phlo_id=PHLO_ID,
            journal=path,
            rate_limit=None,
        )
    )

    code, output = invoke("campaign", "status", "--journal", path)

    assert code == 5
    assert "not_started" in output
    assert "plivo-phlo campaign resume" in output
    assert "not finished" in output


def test_status_asks_which_campaign_when_a_journal_holds_several(tmp_path: Path) -> None:
    from plivo_phlo_async.integrations.campaign import write_manifest

    path = str(tmp_path / "j.sqlite")
    for name in ("first", "second"):
        anyio.run(
            partial(
                write_manifest,
                make_jobs(2),
                campaign_id=name,
                phlo_id=PHLO_ID,
                journal=path,
                rate_limit=None,
            )
        )

    code, output = invoke("campaign", "status", "--journal", path)
    assert code == 2
    assert "first, second" in output
    code, output = invoke("campaign", "status", "--journal", path, "--campaign", "second")
    assert code == 5


def test_resume_requeues_what_a_restarted_broker_lost_and_nothing_it_holds(
    journal: str, csv_file: Path, own_redis: Any, queue: str
) -> None:
    import redis

    common = ("--journal", journal, "--broker", own_redis.url, "--queue", queue)
    common += ("--campaign", CAMPAIGN)
    code, output = invoke(
        "campaign", "submit", PHLO_ID, "--from-csv", str(csv_file), "--chunk-size", "10", *common
    )
    assert code == 0
    assert "appendonly no" in output  # the CLI warns: this Redis keeps nothing on disk
    own_redis.kill()
    own_redis.start()  # empty: the three queued chunks are gone

    code, output = invoke("campaign", "resume", *common)
    assert code == 0
    assert "queued 3 chunks" in output
    code, output = invoke("campaign", "resume", *common)  # nothing lost this time
    assert code == 0
    assert "queued 0 chunks" in output
    assert "3 with work left were still queued" in output
    with redis.Redis.from_url(own_redis.url) as connection:
        assert connection.xlen(queue) == 3


def test_importing_the_sdk_or_its_cli_imports_no_taskiq() -> None:
    code = (
        "import sys, plivo_phlo_async, plivo_phlo_async.bulk, plivo_phlo_async.cli._app;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('taskiq', 'taskiq_redis')))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
