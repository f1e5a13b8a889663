"""Ctrl-C during plivo-phlo run, in a real process: stop, cancel, resume.

The first SIGINT stops gracefully (requests in flight finish, the rest are
skipped) and the journal lets a re-run send only what is left; the second
SIGINT cancels the requests in flight, which a re-run then reports as
outcome unknown instead of sending them again.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _waiting import wait_until_sync

from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    FaultConfig,
    PhloEmulator,
)

from .conftest import cli_process, invoke, write

pytestmark = pytest.mark.usefixtures("credentials")

ENV = {"PLIVO_AUTH_ID": DEFAULT_AUTH_ID, "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN}


def numbers(count: int) -> str:
    return "to\n" + "".join(f"+1415555{n:04d}\n" for n in range(count))


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def posted(emulator: PhloEmulator) -> Counter[str]:
    return Counter(r.json["to"] for r in emulator.requests if r.method == "POST")


def test_first_ctrl_c_stops_gracefully_and_the_journal_resumes(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", numbers(120))
    journal = tmp_path / "journal.sqlite"
    first_output = tmp_path / "first.jsonl"
    args = [
        "run",
        DEFAULT_PHLO_ID,
        "--from-csv",
        str(source),
        "--journal",
        str(journal),
        "--base-url",
        base_url,
    ]
    process = cli_process(
        [*args, "--rate", "20/1", "--concurrency", "4", "--output", str(first_output)], env=ENV
    )
    wait_until_sync(lambda: len(emulator.requests) >= 10, what="the first requests", timeout=60)

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "Stopping" in err
    assert "Stopped early" in out
    first = records(first_output)
    sent_first = posted(emulator)
    assert len(first) < 120  # rows never read from the file have no outcome
    by_status = Counter(record["status"] for record in first)
    assert by_status["succeeded"] == sum(sent_first.values())
    assert set(by_status) <= {"succeeded", "skipped"}
    assert all(r["reason"] == "stopped" for r in first if r["status"] == "skipped")

    second_output = tmp_path / "second.jsonl"
    resumed = invoke(*args, "--no-rate-limit", "--output", str(second_output))

    assert resumed.exit_code == 0, resumed.output
    sent = posted(emulator)
    assert len(sent) == 120
    assert max(sent.values()) == 1  # nothing sent twice
    second = records(second_output)
    assert len(second) == 120
    assert sum(r["from_journal"] for r in second) == sum(sent_first.values())
    assert {r["status"] for r in second} == {"succeeded"}


def test_second_ctrl_c_cancels_in_flight_requests_which_resume_as_unknown(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    emulator.set_faults(FaultConfig(latency=30.0, methods={"POST"}))  # answers never come
    source = write(tmp_path / "in.csv", numbers(10))
    journal = tmp_path / "journal.sqlite"
    args = [
        "run",
        DEFAULT_PHLO_ID,
        "--from-csv",
        str(source),
        "--journal",
        str(journal),
        "--base-url",
        base_url,
        "--no-rate-limit",
        "--concurrency",
        "3",
    ]
    process = cli_process(args, env=ENV)
    wait_until_sync(
        lambda: len(emulator.requests) == 3, what="three requests in flight", timeout=60
    )

    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    while "Stopping" not in process.stderr.readline():
        pass
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=20)  # does not wait for the 30 s answers

    assert process.returncode == 130
    assert "Cancelled" in out
    in_flight = set(posted(emulator))
    assert len(in_flight) == 3

    emulator.set_faults(None)
    output = tmp_path / "out.jsonl"
    resumed = invoke(*args, "--output", str(output))

    assert resumed.exit_code == 1  # three jobs need a decision
    outcomes = records(output)
    unknown = [r for r in outcomes if r["status"] == "outcome_unknown"]
    assert len(unknown) == 3
    assert all(r["from_journal"] for r in unknown)
    assert Counter(r["status"] for r in outcomes)["succeeded"] == 7
    sent = posted(emulator)
    assert len(sent) == 10
    assert max(sent.values()) == 1  # the cancelled ones were not sent again
