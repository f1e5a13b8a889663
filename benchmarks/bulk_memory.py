"""Memory of the bulk runner over a 1,000,000-job generator (not a test).

The jobs come from a generator and the answers from an in-process
``httpx.MockTransport`` returning Plivo's canned 201 (or, with ``--nginx``,
from a local nginx through the SDK's own connection pool), so the figure is
the runner's own footprint plus the SDK's, not a server's. RSS is sampled at
10%, 50% and 100% of the jobs to show it stays flat; the peak is
``ru_maxrss``.

``--status 500`` (or 400) answers every request with that status instead:
a run in an outage, where every job is outcome unknown (or failed), must stay
as flat as a succeeding one (goal: under 120 MB for 1,000,000 jobs).

    .venv/bin/python benchmarks/bulk_memory.py                  # 1,000,000 jobs
    .venv/bin/python benchmarks/bulk_memory.py --status 500     # every job fails
    .venv/bin/python benchmarks/bulk_memory.py --jobs 100000 --journal /tmp/j.sqlite
    .venv/bin/python benchmarks/bulk_memory.py --nginx          # real sockets (needs nginx)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plivo_phlo_async import PhloClient
from plivo_phlo_async.bulk import Outcome, OutcomeStatus, RunJob

PHLO_ID = "00000000-0000-4000-8000-00000000a001"
BODY = b'{"api_id":"bench-0000-4000-8000-000000000001","error":"","message":"ok"}'
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size (not the peak), from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def jobs(count: int) -> Iterator[RunJob]:
    for n in range(count):
        yield RunJob(PHLO_ID, {"to": f"+1415{n % 10_000_000:07d}", "n": n}, ref=n)


FAILURE_BODY = b'{"api_id":"bench-0000-4000-8000-000000000001","error":"internal error"}'


def answer_with(status: int) -> httpx.MockTransport:
    body = BODY if status < 300 else FAILURE_BODY
    headers = {"content-type": "application/json"}
    return httpx.MockTransport(
        lambda request: httpx.Response(status, content=body, headers=headers)
    )


#: The outcome every job must end in, for each status the benchmark can answer.
EXPECTED = {
    201: OutcomeStatus.SUCCEEDED,
    400: OutcomeStatus.FAILED,
    500: OutcomeStatus.OUTCOME_UNKNOWN,
}


async def main(
    count: int, concurrency: int, journal: str | None, url: str | None, status: int = 201
) -> None:
    if url is None:
        client = PhloClient(
            "MAXXXXXXXXXXXXXXXXXX",
            "token",
            base_url="http://127.0.0.1/v1",
            http_client=httpx.AsyncClient(transport=answer_with(status)),
        )
    else:
        client = PhloClient("MAXXXXXXXXXXXXXXXXXX", "token", base_url=f"{url}/v1")
    marks = {max(1, count // 10): "10%", max(1, count // 2): "50%", count: "100%"}
    samples: list[tuple[str, int, float]] = []
    done = 0

    def sample(outcome: Outcome) -> None:
        nonlocal done
        done += 1
        if done in marks:
            samples.append((marks[done], done, rss_mb()))

    before = rss_mb()
    print(
        f"jobs={count:,} concurrency={concurrency} journal={journal or 'none'} "
        f"server={url or f'httpx.MockTransport answering {status}'} "
        f"python={sys.version.split()[0]}"
    )
    print(f"RSS before the run: {before:.1f} MB")
    started = time.perf_counter()
    runner = client.bulk(
        jobs(count),
        concurrency=concurrency,
        rate_limit=None,
        journal=journal,
        on_outcome=sample,
    )
    report = await runner.run()
    elapsed = time.perf_counter() - started
    await client.aclose()
    for label, at, mb in samples:
        print(f"RSS at {label:>4} ({at:>9,} jobs): {mb:.1f} MB")
    print(f"peak RSS (ru_maxrss): {peak_mb():.1f} MB")
    expected = EXPECTED[status]
    print(
        f"{expected.value} {report.counts[expected]:,} of {report.total:,} "
        f"in {elapsed:.1f} s: {report.total / elapsed:,.0f} jobs/s "
        f"(report keeps {len(report.failures)} failed, {len(report.unknown)} unknown)"
    )
    if report.total != count or report.counts[expected] != count:
        raise SystemExit(f"expected {count} {expected.value}: {report.summary()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--journal", default=None, help="SQLite journal path (default: none)")
    parser.add_argument(
        "--status",
        type=int,
        choices=sorted(EXPECTED),
        default=201,
        help="the status every request is answered with (in-process only)",
    )
    parser.add_argument(
        "--nginx",
        action="store_true",
        help="answer from a local nginx (benchmarks/_nginx.py) over loopback",
    )
    args = parser.parse_args()
    if args.journal and Path(args.journal).exists():
        raise SystemExit(f"{args.journal} exists: give a new path (a resume would send nothing)")
    if args.nginx and args.status != 201:
        raise SystemExit("--status answers in-process; nginx always answers 201")
    if args.nginx:
        from benchmarks._nginx import nginx_server

        with nginx_server() as server_url:
            asyncio.run(main(args.jobs, args.concurrency, args.journal, server_url))
    else:
        asyncio.run(main(args.jobs, args.concurrency, args.journal, None, args.status))
