"""A campaign from a CSV file: one PHLO run per row, with a journal, so no row is sent twice.

Run it against the bundled emulator (one command, no account):

    python examples/bulk_campaign.py examples/numbers.csv --journal campaign.sqlite --emulator

Against Plivo (or an emulator you started): set PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN and PHLO_ID and
leave out --emulator. The CSV's header names the Start node's keys (here `to` and `name`).

Run it again with the same journal and nothing is sent twice: rows with a recorded outcome are
reported from the journal, a row that was in flight when the process died is reported
`outcome_unknown` for you to check (`plivo-phlo journal unknown campaign.sqlite`). A journal
remembers the account and base URL it was written for and refuses any other (one line on stderr,
exit 2); for the emulator's test account on a loopback host the port is not part of that, so each
`--emulator` run (a new emulator on a new port) may reuse the journal: the re-run sends nothing.

Exit status: 0 when every row succeeded, 1 when a row failed or its outcome is unknown, 2 when the
journal cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from plivo_phlo_async import JournalError, PhloClient
from plivo_phlo_async.bulk import BulkReport, RunJob


def jobs_from_csv(path: Path, phlo_id: str) -> Iterator[RunJob]:
    """One job per row, read lazily; the row's line number is its ``ref``."""
    with path.open(newline="", encoding="utf-8") as rows:
        for line, row in enumerate(csv.DictReader(rows), start=2):
            yield RunJob(phlo_id, row, ref=f"line {line}")


async def run_campaign(csv_path: Path, journal: Path, *, concurrency: int = 32) -> BulkReport:
    phlo_id = os.environ["PHLO_ID"]
    async with PhloClient() as client:  # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
        runner = client.bulk(
            jobs_from_csv(csv_path, phlo_id), concurrency=concurrency, journal=journal
        )
        async with runner.stream() as outcomes:  # one outcome per row, as each completes
            async for outcome in outcomes:
                if outcome.status != "succeeded":
                    print(f"{outcome.ref}: {outcome.status} {outcome.reason or outcome.error}")
        return runner.report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--journal", type=Path, default=Path("campaign.sqlite"))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--emulator", action="store_true", help="start the bundled emulator")
    args = parser.parse_args(argv)

    from _emulator import emulator_environment

    with emulator_environment(args.emulator):
        try:
            report = asyncio.run(run_campaign(args.csv, args.journal, concurrency=args.concurrency))
        except JournalError as exc:  # its message says what is wrong and whether anything was sent
            print(f"bulk_campaign: {exc}", file=sys.stderr)
            return 2
    print(report.summary())
    return 0 if report.succeeded == report.total else 1


if __name__ == "__main__":
    sys.exit(main())
