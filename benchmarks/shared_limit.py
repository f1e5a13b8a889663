"""Two ``plivo-phlo run --redis`` processes on one account (not a test).

The emulator (a loopback server in this process) holds exactly Plivo's
limit, 300 requests per 5 s per auth id, and answers 429 beyond it. Each
process runs its own CSV with the default ``--rate`` (300/5); with
``--redis`` they share one limit in Redis, so together they stay within the
account's limit. ``--no-redis`` runs the same processes each with its own
in-process limit, for comparison (what issue 10 measured: 429s and a slower
run). Printed: exit codes, requests received, 429s and their share, the
most requests the server saw in any 5 s window, the rate sustained, and
runs executed twice.

    .venv/bin/python benchmarks/shared_limit.py                      # 2 x 1,500 jobs
    .venv/bin/python benchmarks/shared_limit.py --jobs 3000 --processes 3
    .venv/bin/python benchmarks/shared_limit.py --no-redis           # each its own limit
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    run_emulator,
)

LIMIT, WINDOW = 300, 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1500, help="jobs per process")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--redis", default=os.environ.get("PLIVO_PHLO_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--no-redis", action="store_true", help="each process its own limit")
    args = parser.parse_args()
    prefix = f"plivo-phlo-bench:{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "PLIVO_AUTH_ID": DEFAULT_AUTH_ID,
        "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_emulator({"rate_limit": {"requests": LIMIT, "window": WINDOW}}) as server,
    ):
        commands = []
        for p in range(args.processes):
            csv = Path(tmp) / f"jobs-{p}.csv"
            with csv.open("w") as out:
                out.write("to,n\n")
                for n in range(args.jobs):
                    out.write(f"+1415{p:01d}{n:06d},{p * args.jobs + n}\n")
            command = [
                sys.executable,
                "-m",
                "plivo_phlo_async.cli",
                "run",
                DEFAULT_PHLO_ID,
                "--from-csv",
                str(csv),
                "--base-url",
                server.base_url,
                "--output",
                str(Path(tmp) / f"out-{p}.jsonl"),
            ]
            if not args.no_redis:
                command += ["--redis", args.redis, "--redis-key-prefix", prefix]
            commands.append(command)
        started = time.perf_counter()
        processes = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            for command in commands
        ]
        errors = [process.communicate()[1] for process in processes]
        elapsed = time.perf_counter() - started
        emulator = server.emulator
        received = len(emulator.requests)
        rejected = emulator.rate_limited()
        runs = Counter(a.payload["n"] for a in emulator.executions("run"))
        first = min((r.received_at for r in emulator.requests), default=0.0)
        throttled = [r.received_at - first for r in emulator.requests if r.status == 429]
        accepted = sorted(r.received_at for r in emulator.requests if r.status == 201)
    if not args.no_redis:
        _delete_keys(args.redis, prefix)

    total = args.jobs * args.processes
    codes = [process.returncode for process in processes]
    mode = "no shared limit" if args.no_redis else f"--redis {args.redis}"
    print(
        f"{args.processes} processes x {args.jobs} jobs ({mode}), "
        f"emulator holding {LIMIT} requests / {WINDOW:g} s"
    )
    print(f"  exit codes:              {codes}")
    print(
        f"  wall time:               {elapsed:.1f} s "
        f"(ideal at {LIMIT / WINDOW:g}/s: {total / (LIMIT / WINDOW):.1f} s)"
    )
    print(f"  requests received:       {received}")
    print(f"  answered 429:            {rejected} ({100 * rejected / max(received, 1):.2f}%)")
    if throttled:
        print(
            f"  429s received between:   {min(throttled):.2f} s and {max(throttled):.2f} s "
            "after the first request"
        )
    print(
        f"  peak in any {WINDOW:g} s window: {emulator.peak_requests(DEFAULT_AUTH_ID)} "
        f"(limit {LIMIT})"
    )
    print(
        f"  runs executed:           {len(runs)} of {total}; "
        f"executed twice: {sum(1 for c in runs.values() if c > 1)}"
    )
    print(
        f"  sustained:               {len(runs) / elapsed:.1f} runs/s "
        f"({100 * len(runs) / elapsed / (LIMIT / WINDOW):.1f}% of the account limit)"
    )
    if len(accepted) > 1:
        # At the server, from the first accepted request to the last: the processes'
        # start-up (interpreter, reading the CSV) left out.
        steady = (len(accepted) - 1) / (accepted[-1] - accepted[0])
        print(
            f"  at the server:           {steady:.1f} accepted/s from first to last "
            f"({100 * steady / (LIMIT / WINDOW):.1f}% of the account limit)"
        )
    for code, error in zip(codes, errors, strict=True):
        if code != 0:
            print(f"  stderr of a failed process: {error.strip()[-500:]}")


def _delete_keys(url: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(url) as connection:
        keys = list(connection.scan_iter(match=f"{prefix}*"))
        if keys:
            connection.delete(*keys)


if __name__ == "__main__":
    main()
