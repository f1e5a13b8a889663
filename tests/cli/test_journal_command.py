"""The journal in the CLI: refused journals, journal failures mid-run, and the
``plivo-phlo journal`` commands that resolve unknown outcomes.

Every refusal is one line on stderr, exit 2, and the emulator (which counts
every request it receives) shows that nothing was sent.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _waiting import emulator_idle, wait_until_sync
from typer.testing import CliRunner

from plivo_phlo_async.bulk import RunJob, _journal_sqlite, derive_job_id
from plivo_phlo_async.bulk._journal_sqlite import SqliteFile as Journal
from plivo_phlo_async.cli._app import app
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    EmulatorServer,
    FaultConfig,
    PhloEmulator,
    run_emulator,
)

from .conftest import Result, cli_process, invoke, write

pytestmark = pytest.mark.usefixtures("credentials")

CSV = "to,name\n+14155550001,Ann\n+14155550002,Bob\n+14155550003,Cy\n"
START = "UPDATE jobs SET status=?, ref=?"


def run(base_url: str, source: Path, journal: Path, *args: str) -> Result:
    return invoke(
        "run",
        DEFAULT_PHLO_ID,
        "--from-csv",
        str(source),
        "--journal",
        str(journal),
        "--base-url",
        base_url,
        "--concurrency",
        "1",
        *args,
    )


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def unknown_records(journal: Path) -> list[dict[str, Any]]:
    result = invoke("journal", "unknown", str(journal), "--json")
    assert result.exit_code in (0, 1), result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def posted(emulator: PhloEmulator) -> Counter[str]:
    return Counter(r.json["to"] for r in emulator.requests if r.method == "POST")


def executed(emulator: PhloEmulator) -> Counter[str]:
    return Counter(action.payload["to"] for action in emulator.executions("run"))


# -- refused before anything is sent -----------------------------------------------------------


def test_a_damaged_journal_exits_2_in_one_line_and_sends_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.sqlite"
    live = Journal(journal, auth_id=DEFAULT_AUTH_ID, base_url=base_url.rstrip("/"))
    for n in range(3000):
        live.claim(f"job-{n:05d}", n, retry_failed=False)
        live.start(f"job-{n:05d}", n, url="u", payload=b'{"to":"+14155550001"}')
    live.close()
    data = bytearray(journal.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = random.Random(3).randbytes(8192)
    journal.write_bytes(bytes(data))

    result = run(base_url, write(tmp_path / "in.csv", CSV), journal)

    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "damaged" in line
    assert str(journal) in line
    assert emulator.requests == []


def test_a_journal_without_its_wal_exits_2_and_sends_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.sqlite"
    copy = tmp_path / "copy" / journal.name
    copy.parent.mkdir()
    live = Journal(journal, auth_id=DEFAULT_AUTH_ID, base_url=base_url.rstrip("/"))
    try:
        live.claim("job-1", 1, retry_failed=False)
        live.start("job-1", 1, url="u", payload=b"{}")
        shutil.copy(journal, copy)
    finally:
        live.close()

    result = run(base_url, write(tmp_path / "in.csv", CSV), copy)

    assert result.exit_code == 2
    assert "campaign.sqlite-wal is missing" in one_line(result.stderr)
    assert emulator.requests == []


def test_after_kill_9_the_main_file_alone_is_refused_and_with_its_wal_resumes(
    server: EmulatorServer, emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    """A real ``plivo-phlo run`` killed mid-run: its latest rows are in the -wal file."""
    count = 400
    source = write(
        tmp_path / "in.csv", "to\n" + "".join(f"+1415555{n:04d}\n" for n in range(count))
    )
    journal = tmp_path / "campaign.sqlite"
    emulator.set_faults(FaultConfig(latency=0.05, methods={"POST"}))
    env = {"PLIVO_AUTH_ID": DEFAULT_AUTH_ID, "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN}
    child = cli_process(
        [
            "run",
            DEFAULT_PHLO_ID,
            "--from-csv",
            str(source),
            "--journal",
            str(journal),
            "--base-url",
            base_url,
            "--concurrency",
            "4",
            "--no-rate-limit",
        ],
        env=env,
    )
    try:

        def forty_sent() -> bool:
            if len(emulator.executions("run")) >= 40:
                return True
            assert child.poll() is None, child.communicate()
            return False

        wait_until_sync(forty_sent, what="the run to start", timeout=60, interval=0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    # Let the emulator answer what was in flight at the kill.
    wait_until_sync(lambda: emulator_idle(server), what="the emulator to answer")
    emulator.set_faults(None)
    requests_at_kill = len(emulator.requests)
    alone = tmp_path / "alone" / journal.name
    alone.parent.mkdir()
    shutil.copy(journal, alone)
    whole = tmp_path / "whole" / journal.name
    whole.parent.mkdir()
    for part in (journal, journal.with_name(journal.name + "-wal")):
        shutil.copy(part, whole.parent / part.name)

    refused = run(base_url, source, alone, "--no-rate-limit")

    assert refused.exit_code == 2
    assert "-wal is missing" in one_line(refused.stderr)
    assert len(emulator.requests) == requests_at_kill

    resumed = run(base_url, source, whole, "--no-rate-limit", "--concurrency", "16")

    assert resumed.exit_code in (0, 1)  # 1 when the kill caught requests in flight
    assert max(executed(emulator).values()) == 1  # nothing executed twice
    assert len(executed(emulator)) >= count - 16  # all but those in flight at the kill


def test_a_journal_of_another_endpoint_or_account_exits_2_naming_both(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    journal = tmp_path / "campaign.sqlite"
    assert run(base_url, source, journal).exit_code == 0
    sent = len(emulator.requests)
    other_base = base_url.replace("127.0.0.1", "localhost")

    moved = run(other_base, source, journal)
    other_account = run(base_url, source, journal, "--auth-id", "MAOTHERACCOUNT000001")

    assert moved.exit_code == 2
    line = one_line(moved.stderr)
    assert f"written for account {DEFAULT_AUTH_ID} at {base_url.rstrip('/')}" in line
    assert f"not {DEFAULT_AUTH_ID} at {other_base.rstrip('/')}" in line
    assert other_account.exit_code == 2
    assert "not MAOTHERACCOUNT000001 at" in one_line(other_account.stderr)
    assert len(emulator.requests) == sent


def test_a_rerun_on_a_new_emulator_port_reuses_the_journal_and_sends_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    journal = tmp_path / "campaign.sqlite"
    assert run(base_url, source, journal).exit_code == 0

    with run_emulator() as restarted:  # a new emulator takes a new port
        assert restarted.base_url != base_url
        again = run(restarted.base_url, source, journal)
        assert again.exit_code == 0, again.output
        assert restarted.emulator.requests == []
    assert "0 requests sent" in again.stdout
    assert "3 jobs settled by the journal" in again.stdout


# -- a journal that fails mid-run ------------------------------------------------------------------


def failing_start(monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    """The run's journal fails to record the start of its ``nth`` job."""
    seen = [0]

    class Flaky:
        def __init__(self, db: sqlite3.Connection) -> None:
            self._db = db

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.startswith(START):
                seen[0] += 1
                if seen[0] == nth:
                    raise sqlite3.OperationalError("database or disk is full")
            return self._db.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._db, name)

    class FlakyJournal(Journal):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._db = Flaky(self._db)  # type: ignore[assignment]

    monkeypatch.setattr(_journal_sqlite, "SqliteFile", FlakyJournal)


def test_a_journal_failing_before_anything_is_sent_exits_2_in_one_line(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_start(monkeypatch, nth=1)
    output = tmp_path / "out.jsonl"

    result = run(
        base_url, write(tmp_path / "in.csv", CSV), tmp_path / "j.sqlite", "--output", str(output)
    )

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    line = result.stderr.splitlines()[-1]  # after the progress display
    assert line.startswith("plivo-phlo: journal ")
    assert "database or disk is full" in line
    assert line.endswith("nothing was sent")
    assert emulator.requests == []
    records = [json.loads(x) for x in output.read_text().splitlines()]
    assert records  # the jobs read got outcomes: skipped, none sent
    assert {record["status"] for record in records} == {"skipped"}


def test_a_journal_failing_mid_run_prints_the_summary_and_the_error(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_start(monkeypatch, nth=3)

    result = run(base_url, write(tmp_path / "in.csv", CSV), tmp_path / "j.sqlite")

    assert result.exit_code == 1
    assert "Outcomes" in result.stdout
    assert "duplicate" not in result.stdout  # the job the journal failed to start is not one
    assert "plivo-phlo: the run stopped: journal" in result.stderr
    assert "Traceback" not in result.output
    assert len(emulator.requests) == 2


# -- plivo-phlo journal unknown / mark / resend ----------------------------------------------


def campaign_with_an_unknown(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, fault: str = "drop_after"
) -> tuple[Path, Path]:
    """A finished campaign whose first job's answer was lost."""
    source = write(tmp_path / "in.csv", CSV)
    journal = tmp_path / "campaign.sqlite"
    emulator.inject(fault, method="POST")  # type: ignore[arg-type]
    first = run(base_url, source, journal)
    assert first.exit_code == 1
    return source, journal


def test_unknown_lists_the_jobs_with_their_requests(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    _, journal = campaign_with_an_unknown(emulator, base_url, tmp_path)
    job_id = derive_job_id_of({"to": "+14155550001", "name": "Ann"})

    listed = invoke("journal", "unknown", str(journal))
    records = unknown_records(journal)

    assert listed.exit_code == 1
    assert job_id in listed.stdout
    assert "ref 2" in listed.stdout
    assert '"to":"+14155550001"' in listed.stdout
    assert f"/phlo/{DEFAULT_PHLO_ID}" in listed.stdout
    assert "plivo-phlo journal mark" in listed.stdout
    assert len(records) == 1
    (record,) = records
    assert record["job_id"] == job_id
    assert record["ref"] == "2"
    assert record["status"] == "outcome_unknown"
    assert record["payload"] == {"to": "+14155550001", "name": "Ann"}
    assert record["url"].endswith(f"/account/{DEFAULT_AUTH_ID}/phlo/{DEFAULT_PHLO_ID}")
    assert "ConnectionOutcomeUnknownError" in record["error"]


def derive_job_id_of(payload: dict[str, str]) -> str:
    return derive_job_id(RunJob(DEFAULT_PHLO_ID, payload))


def test_marking_succeeded_lets_the_campaign_exit_0(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source, journal = campaign_with_an_unknown(emulator, base_url, tmp_path)
    assert run(base_url, source, journal).exit_code == 1  # unknown forever, until resolved
    sent = len(emulator.requests)
    (record,) = unknown_records(journal)

    marked = invoke(
        "journal",
        "mark",
        str(journal),
        record["job_id"],
        "--succeeded",
        "--note",
        "run seen in the console",
    )

    assert marked.exit_code == 0, marked.output
    assert "1 jobs marked succeeded" in marked.stdout
    assert invoke("journal", "unknown", str(journal)).exit_code == 0
    output = tmp_path / "out.jsonl"
    again = run(base_url, source, journal, "--output", str(output))
    assert again.exit_code == 0, again.output
    assert len(emulator.requests) == sent
    reasons = {r["reason"] for r in map(json.loads, output.read_text().splitlines())}
    assert any(r.startswith("marked succeeded by the operator: run seen") for r in reasons)


def test_resend_warns_asks_and_the_next_run_sends_exactly_that_job_once(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source, journal = campaign_with_an_unknown(emulator, base_url, tmp_path, fault="error")
    (record,) = unknown_records(journal)
    assert posted(emulator)["+14155550001"] == 1  # answered 503: maybe executed

    declined = invoke("journal", "resend", str(journal), record["job_id"])
    assert declined.exit_code == 2
    assert "a re-send may place a second phone call" in declined.stderr
    assert "nothing was changed" in declined.stderr
    assert len(unknown_records(journal)) == 1

    accepted = invoke("journal", "resend", str(journal), record["job_id"], "--yes")
    assert accepted.exit_code == 0, accepted.output
    assert "1 jobs will be sent again" in accepted.stdout

    again = run(base_url, source, journal)
    assert again.exit_code == 0, again.output
    assert posted(emulator) == {"+14155550001": 2, "+14155550002": 1, "+14155550003": 1}
    assert run(base_url, source, journal).exit_code == 0
    assert sum(posted(emulator).values()) == 4  # sent once more, never again


def test_resend_all_unknown_after_an_interactive_yes(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source, journal = campaign_with_an_unknown(emulator, base_url, tmp_path, fault="error")
    answered = CliRunner().invoke(
        app, ["journal", "resend", str(journal), "--all-unknown"], input="y\n"
    )
    assert answered.exit_code == 0, answered.output
    assert run(base_url, source, journal).exit_code == 0
    assert posted(emulator)["+14155550001"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mark", "{journal}", "abc"], "exactly one of --succeeded or --failed"),
        (["mark", "{journal}", "--failed"], "give the job ids"),
        (["mark", "{journal}", "no-such-job", "--failed"], "not in journal"),
        (["resend", "{journal}", "--yes"], "give job ids or --all-unknown"),
        (["unknown", "{missing}"], "no journal at"),
        (["mark", "{missing}", "abc", "--succeeded"], "no journal at"),
    ],
)
def test_journal_command_mistakes_exit_2_and_change_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    _, journal = campaign_with_an_unknown(emulator, base_url, tmp_path)
    before = unknown_records(journal)
    filled = [a.format(journal=journal, missing=tmp_path / "missing.sqlite") for a in args]

    result = invoke("journal", *filled)

    assert result.exit_code == 2
    assert message in result.stderr
    assert unknown_records(journal) == before
    assert not (tmp_path / "missing.sqlite").exists()


def test_unknown_never_prints_control_characters_from_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    written = Journal(journal)
    written.claim("job-1", "\x1b]0;owned\x07", retry_failed=False)
    written.start("job-1", "\x1b]0;owned\x07", url="u", payload=b'{"to":"+1"}')
    written.finish(
        "job-1",
        "outcome_unknown",
        ref="x",
        http_status=None,
        api_id=None,
        attempts=1,
        error="Error: \x1b[2J cleared\nsecond line",
    )
    written.close()

    listed = invoke("journal", "unknown", str(journal))

    assert listed.exit_code == 1
    assert "\x1b" not in listed.stdout
    assert "Error: \\x1b[2J cleared\\nsecond line" in listed.stdout
