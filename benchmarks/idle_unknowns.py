"""False "outcome unknown" at the server's idle timeout, on a loaded machine (not a test).

Issue 17: a ``plivo-phlo run --journal`` against the bundled emulator, no
faults injected, ended with a few jobs ``ConnectionOutcomeUnknownError:
Connection reset by peer`` that the emulator never executed. The server
closed idle keep-alive connections after 5 s (uvicorn's default), the same
as the client's idle limit, so a request written into a connection idle for
just under 5 s met the server closing it.

This benchmark runs the real CLI, ``plivo-phlo run PHLO --from-csv F
--journal J`` (a subprocess, default 20,000 rows, SQLite journal), against
the emulator in a child process (``python -m plivo_phlo_async.emulator``,
its default rate limit of 300 requests / 5 s, no faults), while two
CPU-burning child processes keep both cores busy (``--no-load``: none).

The rate is the CLI's default, ``--rate 300/5`` (Plivo's account limit): the
client's sliding-window limit lets a window's 300 starts go at once and holds
each next start until the one 300 before it is 5.05 s old (5 s and a 50 ms
guard), so the windows repeat every 5.05 s and between them every pooled
connection sits idle for 5.05 s minus the time its requests of the window
took. The concurrency, 100 (the client's pool size; the CLI's default is 64),
puts about 3 requests instead of 5 on each connection per window, so more
connections come back to work just under 5 s idle: counted in a client (2
busy cores, 3,000 rows), 46 reuses after 4.95 to 5 s idle at 100, 10 at 64.
Only a few of those meet the server's close, so the figure varies from run
to run with the machine's load. 20,000 rows at 60 a second take about 5.6
minutes.

Printed: rows, the CLI's exit status and wall time, the journal's counts
(``plivo-phlo journal status --json``: succeeded, failed, outcome unknown),
the errors of the unknown jobs, the emulator's requests, 429s and executed
runs, how many unknown jobs it executed all the same, and runs executed
twice (0 expected). ``--server-keepalive 5`` reproduces the old emulator
(uvicorn's default keep-alive); the default is the emulator's own.

    .venv/bin/python benchmarks/idle_unknowns.py                         # 20,000 rows, loaded
    .venv/bin/python benchmarks/idle_unknowns.py --server-keepalive 5    # the old emulator
    .venv/bin/python benchmarks/idle_unknowns.py --rows 2000 --no-load   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plivo_phlo_async.emulator import DEFAULT_AUTH_ID, DEFAULT_AUTH_TOKEN, DEFAULT_PHLO_ID
from plivo_phlo_async.emulator._server import KEEP_ALIVE

BANNER = "PHLO emulator listening on "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--no-load", action="store_true", help="no CPU-burning processes")
    parser.add_argument("--burners", type=int, default=2, help="CPU-burning processes (2)")
    parser.add_argument(
        "--server-keepalive",
        type=int,
        default=KEEP_ALIVE,
        metavar="SECONDS",
        help=f"the emulator's idle keep-alive ({KEEP_ALIVE}; 5 was uvicorn's default)",
    )
    parser.add_argument("--rate", default="300/5", help="the CLI's --rate (300/5)")
    parser.add_argument("--concurrency", type=int, default=100, help="the CLI's --concurrency")
    args = parser.parse_args()
    burners = 0 if args.no_load else args.burners

    env = {**os.environ, "PLIVO_AUTH_ID": DEFAULT_AUTH_ID, "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv, journal, output = work / "rows.csv", work / "journal.sqlite", work / "out.jsonl"
        with csv.open("w") as out:
            out.write("id,to,n\n")
            for n in range(args.rows):
                out.write(f"job-{n},+1415{n:07d},{n}\n")
        with emulator(work, args.server_keepalive) as url:
            command = [
                *(sys.executable, "-m", "plivo_phlo_async.cli", "run", DEFAULT_PHLO_ID),
                *("--from-csv", str(csv), "--job-id-column", "id", "--journal", str(journal)),
                *("--base-url", f"{url}/v1", "--output", str(output)),
                *("--rate", args.rate, "--concurrency", str(args.concurrency)),
            ]
            with contextlib.ExitStack() as load:
                for _ in range(burners):
                    load.enter_context(child([sys.executable, "-c", "while True: pass"]))
                started = time.perf_counter()
                run = subprocess.run(  # noqa: S603 - our own interpreter and module
                    command, env=env, capture_output=True, text=True, check=False
                )
                elapsed = time.perf_counter() - started
            with httpx.Client(base_url=url, timeout=60) as admin:
                executed: Counter[int] = Counter(
                    int(a["payload"]["n"])
                    for a in admin.get("/_emulator/executed").json()
                    if a["kind"] == "run"
                )
                requests = admin.get("/_emulator/requests").json()
        status = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "plivo_phlo_async.cli", "journal", "status", "--json", journal],
            capture_output=True,
            text=True,
            check=True,
        )
        counts: dict[str, int] = json.loads(status.stdout)
        outcomes = [json.loads(line) for line in output.read_text().splitlines()]

    unknown = [o for o in outcomes if o["status"] == "outcome_unknown"]
    print(
        f"{args.rows} rows, plivo-phlo run --rate {args.rate} --concurrency {args.concurrency}, "
        f"{burners} CPU-burning processes, emulator keep-alive {args.server_keepalive} s"
    )
    print(f"  exit status:             {run.returncode}")
    print(f"  wall time:               {elapsed:.1f} s ({args.rows / elapsed:.1f} rows/s)")
    print(f"  succeeded:               {counts.get('succeeded', 0)}")
    print(f"  failed:                  {counts.get('failed', 0)}")
    print(f"  outcome unknown:         {counts.get('outcome_unknown', 0)}")
    main_statuses = ("succeeded", "failed", "outcome_unknown")
    others = {name: count for name, count in counts.items() if count and name not in main_statuses}
    if others:
        print(f"  other journal statuses:  {others}")
    errors = Counter(f"{o['error_type']}: {' '.join(o['error'].split())}" for o in unknown)
    for error, count in errors.most_common(5):
        print(f"    {count} x {error}")
    rows = sorted(int(o["job_id"].removeprefix("job-")) for o in unknown)
    if rows:
        print(f"    rows: {', '.join(map(str, rows[:30]))}{' ...' if len(rows) > 30 else ''}")
    print(f"    of which the emulator executed: {sum(1 for n in rows if executed[n] > 0)}")
    rejected = sum(1 for r in requests if r["status"] == 429)
    print(f"  emulator requests:       {len(requests)} ({rejected} answered 429)")
    print(f"  emulator executed:       {sum(executed.values())} runs, {len(executed)} rows")
    print(f"  executed twice:          {sum(1 for c in executed.values() if c > 1)}")
    if run.returncode not in (0, 1):
        print(f"  stderr of the run: {run.stderr.strip()[-800:]}")


@contextlib.contextmanager
def child(command: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, killed (and reaped) on exit."""
    process = subprocess.Popen(command, **kwargs)  # noqa: S603 - our own interpreter
    try:
        yield process
    finally:
        process.kill()
        process.wait()


@contextlib.contextmanager
def emulator(work: Path, keepalive: int) -> Iterator[str]:
    """The emulator in a child process; yields its URL once it listens."""
    command = [sys.executable, "-m", "plivo_phlo_async.emulator", "--log-level", "warning"]
    command += ["--keep-alive", str(keepalive)]
    printed, errors = work / "emulator.out", work / "emulator.err"
    with (
        printed.open("w") as out,
        errors.open("w") as err,
        child(command, stdout=out, stderr=err) as process,
    ):
        deadline = time.monotonic() + 60
        while BANNER not in printed.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the emulator did not start:\n{errors.read_text()}")
            time.sleep(0.05)
        line = next(x for x in printed.read_text().splitlines() if x.startswith(BANNER))
        yield line.removeprefix(BANNER).strip()


if __name__ == "__main__":
    main()
