"""One bulk runner process for ``test_claims.py``:

    python _claims_child.py BASE_URL JOURNAL COUNT LEASE CONCURRENCY RATE OUTCOMES

Runs jobs ``0..COUNT-1`` against the emulator at BASE_URL with JOURNAL (a
file or a postgresql:// URL), RATE requests per second, and writes one JSON
line per outcome to OUTCOMES (flushed as it goes, so a killed child leaves
what it reported).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import anyio

from plivo_phlo_async import PhloClient, RateLimit
from plivo_phlo_async.bulk import BulkRunner, Outcome, RunJob

PHLO_ID = "00000000-0000-4000-8000-00000000a001"  # the emulator's default PHLO
AUTH_ID = "MAEMULATORAUTHID0001"
AUTH_TOKEN = "emulator-auth-token"


def job(n: int) -> RunJob:
    return RunJob(PHLO_ID, {"to": f"+1415555{n:04d}", "job": n}, ref=n)


def jobs(count: int) -> Iterator[RunJob]:
    return (job(n) for n in range(count))


def record(outcome: Outcome) -> str:
    return json.dumps(
        {
            "ref": outcome.ref,
            "status": outcome.status.value,
            "from_journal": outcome.from_journal,
            "reason": outcome.reason,
        }
    )


async def main(
    base_url: str,
    journal: str,
    count: int,
    lease: float,
    concurrency: int,
    rate: int,
    outcomes: str,
) -> None:
    client = PhloClient(AUTH_ID, AUTH_TOKEN, base_url=base_url, voice_base_url=base_url)
    with open(outcomes, "w", encoding="utf-8") as out:  # noqa: ASYNC230 (small writes)

        def write(outcome: Outcome) -> None:
            out.write(record(outcome) + "\n")
            out.flush()

        async with client:
            await BulkRunner(
                client,
                jobs(count),
                concurrency=concurrency,
                rate_limit=RateLimit(rate, per=1.0),
                journal=journal,
                lease=lease,
                on_outcome=write,
            ).run()


if __name__ == "__main__":
    base, where, n, seconds, workers, per_second, path = sys.argv[1:8]
    anyio.run(main, base, where, int(n), float(seconds), int(workers), int(per_second), path)
