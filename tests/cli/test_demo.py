"""plivo-phlo demo: the loopback emulator, throttling and faults, the report."""

from __future__ import annotations

import re

from .conftest import invoke


def test_the_demo_runs_reports_and_passes_its_checks() -> None:
    result = invoke("demo", "--jobs", "400", "--concurrency", "16")

    assert result.exit_code == 0, result.output
    out = result.stdout
    words = " ".join(out.split())
    assert "400 PHLO runs against the local emulator at http://127.0.0.1:" in words
    total = re.search(r"│ total\s+│\s+(\d+) │", out)
    assert total is not None
    assert total.group(1) == "400"
    assert "requests sent in" in out
    assert "Checks against the emulator's records" in out
    for check in (
        "no trigger executed twice",
        "exactly one outcome per job",
        "outcome unknown exactly where a",
    ):
        assert check in out
    assert "FAIL" not in out
    assert out.count("│ pass") == 5


def test_the_demo_reports_outcome_unknown_jobs_and_still_exits_0() -> None:
    # This seed injects faults into a few of 400 POSTs: they are listed, not retried.
    result = invoke("demo", "--jobs", "400", "--seed", "3")

    assert result.exit_code == 0, result.output
    unknown = re.search(r"│ outcome_unknown\s+│\s+(\d+) │", result.stdout)
    assert unknown is not None
    assert int(unknown.group(1)) > 0
    assert "Outcome unknown:" in result.stdout
    assert "none was sent again" in " ".join(result.stdout.split())


def test_the_demo_rejects_a_bad_job_count() -> None:
    assert invoke("demo", "--jobs", "0").exit_code == 2
