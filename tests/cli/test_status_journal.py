"""``journal status`` and ``campaign status`` take the journal the same way:
PATH|URL, or ``--journal`` (hidden; what ``campaign status`` documented)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plivo_phlo_async.emulator import DEFAULT_PHLO_ID

from .conftest import invoke, write

pytestmark = pytest.mark.usefixtures("credentials")


@pytest.fixture
def journal(base_url: str, tmp_path: Path) -> str:
    """A SQLite journal of one successful run."""
    source = write(tmp_path / "in.csv", "to\n+14155550199\n")
    path = str(tmp_path / "journal.sqlite")
    ran = invoke(
        "run", DEFAULT_PHLO_ID, "--from-csv", str(source), "--base-url", base_url, "--journal", path
    )
    assert ran.exit_code == 0, ran.output
    return path


@pytest.mark.parametrize("group", ["journal", "campaign"])
def test_status_reads_the_journal_given_either_way(group: str, journal: str) -> None:
    positional = invoke(group, "status", journal, "--json")
    option = invoke(group, "status", "--journal", journal, "--json")

    assert positional == option
    assert "unexpected extra argument" not in positional.output


def test_journal_status_counts_the_journal_given_as_an_option(journal: str) -> None:
    result = invoke("journal", "status", "--journal", journal, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"succeeded": 1}


def test_campaign_status_reads_the_journal_given_as_path(journal: str) -> None:
    result = invoke("campaign", "status", journal)

    assert result.exit_code == 2
    assert f"journal {journal} holds campaigns: none" in result.stderr


@pytest.mark.parametrize("group", ["journal", "campaign"])
def test_status_without_a_journal_exits_2(group: str) -> None:
    result = invoke(group, "status")

    assert result.exit_code == 2
    assert "PATH|URL" in result.stderr


@pytest.mark.parametrize("group", ["journal", "campaign"])
def test_status_given_two_different_journals_exits_2(group: str, journal: str) -> None:
    result = invoke(group, "status", journal, "--journal", journal + ".other")

    assert result.exit_code == 2
    assert "give the journal once" in result.stderr
