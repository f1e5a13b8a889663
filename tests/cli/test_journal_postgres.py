"""``plivo-phlo run --journal postgresql://...`` and ``plivo-phlo journal``
with a PostgreSQL journal: the same commands, the password never printed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from plivo_phlo_async.emulator import DEFAULT_PHLO_ID, PhloEmulator

from .conftest import Result, invoke, write

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.usefixtures("credentials")

CSV = "to,name\n+14155550001,Ann\n+14155550002,Bob\n+14155550003,Cy\n"
PASSWORD = "pw-Never-Print-Me-8e3"


@pytest.fixture
def journal(postgres_url: str) -> Iterator[str]:
    """A campaign's URL, with a password (trust auth ignores it) and its own tables."""
    prefix = f"t_{uuid.uuid4().hex[:12]}"
    with_password = postgres_url.replace(
        "postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@"
    )
    yield f"{with_password}{'&' if '?' in with_password else '?'}journal_prefix={prefix}"
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {prefix}_jobs, {prefix}_meta")


def run(base_url: str, source: Path, journal: str, *args: str) -> Result:
    return invoke(
        "run",
        DEFAULT_PHLO_ID,
        "--from-csv",
        str(source),
        "--journal",
        journal,
        "--base-url",
        base_url,
        "--concurrency",
        "1",
        *args,
    )


def test_a_rerun_with_a_postgresql_journal_sends_nothing_again(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, journal: str
) -> None:
    source = write(tmp_path / "in.csv", CSV)

    first = run(base_url, source, journal)
    sent = len(emulator.requests)
    again = run(base_url, source, journal)
    status = invoke("journal", "status", journal, "--json")

    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert sent == 3
    assert len(emulator.requests) == sent
    assert "3 jobs settled by the journal" in again.stdout
    assert status.exit_code == 0
    assert json.loads(status.stdout) == {"succeeded": 3}
    for result in (first, again, status):
        assert PASSWORD not in result.output


def test_unknown_and_mark_work_on_a_postgresql_journal(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, journal: str
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    emulator.inject("drop_after", method="POST")
    assert run(base_url, source, journal).exit_code == 1

    listed = invoke("journal", "unknown", journal, "--json")
    (record,) = [json.loads(line) for line in listed.stdout.splitlines()]
    marked = invoke("journal", "mark", journal, record["job_id"], "--failed")
    status = invoke("journal", "status", journal)

    assert listed.exit_code == 1
    assert record["payload"] == {"to": "+14155550001", "name": "Ann"}
    assert marked.exit_code == 0, marked.output
    assert "1 jobs marked failed" in marked.stdout
    assert status.exit_code == 0
    assert "succeeded  2" in status.stdout
    assert "failed     1" in status.stdout
    for result in (listed, marked, status):
        assert PASSWORD not in result.output
    assert "postgresql://postgres@" in marked.stdout


def test_an_unreachable_postgresql_journal_exits_2_before_sending(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test?connect_timeout=2"

    result = run(base_url, source, url)
    listed = invoke("journal", "unknown", url)

    assert result.exit_code == listed.exit_code == 2
    assert "--journal: cannot open journal postgresql://postgres@127.0.0.1:1/test" in (
        result.stderr
    )
    assert PASSWORD not in result.output + listed.output
    assert emulator.requests == []
