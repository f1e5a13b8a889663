"""A campaign on taskiq worker processes (not a test).

N jobs are submitted as chunks to a real taskiq-redis queue; K ``taskiq
worker plivo_phlo_async.integrations.taskiq_worker:broker`` processes run
them with one rate limit shared in Redis and one journal (``--journal``: a
SQLite path or a ``postgresql://`` URL), against
the emulator (a loopback server in this process) holding exactly Plivo's
limit, 300 requests per 5 s, and answering 429 beyond it. ``--kill-one``
kills one worker with SIGKILL mid-campaign and starts a replacement; its
unacknowledged chunks are redelivered after ``--redeliver-after`` seconds.

Printed: runs executed twice, jobs without exactly one outcome, the share of
requests answered 429, and the rate sustained as a share of the account limit.

    .venv/bin/python benchmarks/campaign.py                       # 3,000 jobs, 4 workers
    .venv/bin/python benchmarks/campaign.py --jobs 20000 --journal postgresql://...
    .venv/bin/python benchmarks/campaign.py --kill-one
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plivo_phlo_async.bulk import RateLimit, RunJob
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    run_emulator,
)
from plivo_phlo_async.integrations.campaign import campaign_status
from plivo_phlo_async.integrations.taskiq import (
    campaign_broker,
    register_chunk_task,
    submit_campaign,
)

LIMIT, WINDOW = 300, 5.0
FINAL = ("succeeded", "failed", "outcome_unknown", "skipped")
TASKIQ = str(Path(sys.executable).with_name("taskiq"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument(
        "--chunks-per-worker",
        type=int,
        default=2,
        help="chunks one worker runs at once (--max-async-tasks)",
    )
    parser.add_argument(
        "--journal",
        help="SQLite path or postgresql:// URL (default: a "
        "new SQLite file in a temporary directory)",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("PLIVO_PHLO_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--kill-one", action="store_true", help="SIGKILL one worker mid-campaign and start another"
    )
    parser.add_argument("--redeliver-after", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        journal = args.journal or str(Path(tmp) / "campaign.sqlite")
        asyncio.run(_bench(args, journal, Path(tmp)))


async def _bench(args: argparse.Namespace, journal: str, tmp: Path) -> None:
    run_id = uuid.uuid4().hex[:8]
    queue, prefix = f"plivo-phlo-bench-campaign:{run_id}", f"plivo-phlo-bench:{run_id}:"
    limit = RateLimit(LIMIT, per=WINDOW, redis=args.redis, key_prefix=prefix)
    jobs = [
        RunJob(DEFAULT_PHLO_ID, {"to": f"+1415{n:07d}", "n": n}, ref=n) for n in range(args.jobs)
    ]
    workers: list[subprocess.Popen[bytes]] = []
    killed_at: float | None = None
    with run_emulator({"rate_limit": {"requests": LIMIT, "window": WINDOW}}) as server:
        env = {
            **os.environ,
            "PLIVO_AUTH_ID": DEFAULT_AUTH_ID,
            "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "PLIVO_PHLO_BASE_URL": server.base_url,
            "PLIVO_PHLO_BROKER_URL": args.redis,
            "PLIVO_PHLO_QUEUE": queue,
            "PLIVO_PHLO_REDELIVER_AFTER": str(args.redeliver_after),
        }

        def spawn() -> None:
            with (tmp / f"worker-{len(workers)}.log").open("wb") as log:
                workers.append(
                    subprocess.Popen(  # noqa: S603 - the venv's own taskiq
                        [
                            TASKIQ,
                            "worker",
                            "plivo_phlo_async.integrations.taskiq_worker:broker",
                            "--workers",
                            "1",
                            "--max-async-tasks",
                            str(args.chunks_per_worker),
                            "--no-configure-logging",
                        ],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

        broker = campaign_broker(args.redis, queue=queue)
        task = register_chunk_task(broker)
        await broker.startup()
        try:
            for _ in range(args.workers):
                spawn()
            started = time.perf_counter()
            submitted = await submit_campaign(
                task,
                jobs,
                phlo_id=DEFAULT_PHLO_ID,
                journal=journal,
                rate_limit=limit,
                chunk_size=args.chunk_size,
            )
            while True:
                await asyncio.sleep(0.5)
                if (
                    args.kill_one
                    and killed_at is None
                    and (len(server.emulator.requests) >= args.jobs // 3)
                ):
                    os.killpg(workers[0].pid, signal.SIGKILL)
                    workers[0].wait()
                    killed_at = time.perf_counter() - started
                    spawn()
                with contextlib.suppress(Exception):
                    counts = await campaign_status(journal)
                    if sum(counts.get(s, 0) for s in FINAL) >= args.jobs:
                        break
            elapsed = time.perf_counter() - started
        finally:
            await broker.shutdown()
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
            _delete_keys(args.redis, prefix, queue)
        emulator = server.emulator
        received = len(emulator.requests)
        rejected = emulator.rate_limited()
        runs = Counter(a.payload["n"] for a in emulator.executions("run"))
        accepted = sorted(r.received_at for r in emulator.requests if r.status == 201)
        peak = emulator.peak_requests(DEFAULT_AUTH_ID)

    finished = sum(counts.get(s, 0) for s in FINAL)
    rate = LIMIT / WINDOW
    print(
        f"{args.jobs} jobs in {submitted.chunks} chunks of {args.chunk_size}, "
        f"{args.workers} taskiq worker processes ({args.chunks_per_worker} chunks each "
        f"at once), journal {journal if args.journal else 'SQLite (temporary)'}, "
        f"limit shared in Redis, emulator holding {LIMIT} requests / {WINDOW:g} s"
    )
    if killed_at is not None:
        print(f"  one worker killed (SIGKILL) at {killed_at:.1f} s and replaced")
    print(f"  journal:                 {dict(counts)}")
    print(f"  executed twice:          {sum(1 for c in runs.values() if c > 1)}")
    print(f"  without exactly one outcome: {args.jobs - finished}")
    print(f"  requests received:       {received}; runs executed {len(runs)} of {args.jobs}")
    print(f"  answered 429:            {rejected} ({100 * rejected / max(received, 1):.2f}%)")
    print(f"  peak in any {WINDOW:g} s window: {peak} (limit {LIMIT})")
    print(
        f"  wall time:               {elapsed:.1f} s (ideal {args.jobs / rate:.1f} s); "
        f"{len(runs) / elapsed:.1f} runs/s = {100 * len(runs) / elapsed / rate:.1f}% "
        "of the account limit"
    )
    if len(accepted) > 1:
        steady = (len(accepted) - 1) / (accepted[-1] - accepted[0])
        print(
            f"  at the server:           {steady:.1f} accepted/s from first to last "
            f"({100 * steady / rate:.1f}% of the account limit)"
        )


def _delete_keys(url: str, prefix: str, queue: str) -> None:
    import redis

    with redis.Redis.from_url(url) as connection:
        keys = [
            *connection.scan_iter(match=f"{prefix}*"),
            *connection.scan_iter(match=f"autoclaim:{queue}:*"),
            queue,
        ]
        connection.delete(*keys)


if __name__ == "__main__":
    main()
