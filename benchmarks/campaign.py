"""A campaign on taskiq worker processes through outages (a chaos benchmark, not a test).

N jobs (default 20,000) are submitted with ``submit_campaign`` (the manifest
goes to the journal first, then the chunks to the queue) and K ``taskiq
worker plivo_phlo_async.integrations.taskiq_worker:broker`` processes run
them against the emulator (a loopback server in this process). The broker
and the shared rate limit live on a ``redis-server`` of the benchmark's own,
started on a free port with no persistence (``--save "" --appendonly no``);
the journal is PostgreSQL by default (tables of the run's own
``journal_prefix``, dropped at the end; ``--journal`` takes a SQLite path
or another ``postgresql://`` URL).

The emulator and the client both hold ``--rate``: by default 2000 requests
/ 5 s, NOT Plivo's 300 / 5 s, raised so that 20,000 jobs take a few minutes
(at 300 / 5 s they would take about six); beyond it the emulator answers
429. A Redis restarted empty forgets the shared limit's window, so a few
429s after it are expected.

While the campaign runs, on a schedule by progress (runs executed):

* ~30%: the Redis server is killed (SIGKILL) and started again, empty, on
  the same port; the chunks it lost are requeued at once with
  ``resume_campaign`` (what the docs say to run after a broker restart
  without persistence: ``plivo-phlo campaign resume``);
* ~50% and ~70%: every connection of the journal's database that carries
  the run's ``application_name`` (the journal URL's parameter) is
  terminated with ``pg_terminate_backend``;
* ~90%: one worker busy with a chunk is killed (SIGKILL) and a replacement
  started; its chunk is taken over after ``--redeliver-after`` seconds.

``resume_campaign`` runs once more near the end if the status shows jobs not
started while the broker holds no chunk of the campaign. Throughout,
``plivo-phlo campaign status --json`` (a subprocess) is polled every few
seconds: its exit code must be non-zero until every job has its outcome,
and 0 only when every job succeeded (1 at the end when the killed worker
had requests in flight: those jobs are ``outcome_unknown``).

Printed: jobs, runs executed twice (must be 0), jobs without exactly one
outcome (must be 0; a job ``outcome_unknown`` because it was in flight when
its worker was killed counts as one outcome: how many, and whether each ran
once or never), the status exit codes seen, wall time, chunks requeued by
each resume, 429s answered, and the warnings and tracebacks in the worker
logs. Exit status 1 when a must-be-0 figure is not, or the status codes
were wrong. Every process started (redis-server, workers) is killed at the
end, on Ctrl-C or an error too.

    .venv/bin/python benchmarks/campaign.py                       # 20,000 jobs, 4 workers
    .venv/bin/python benchmarks/campaign.py --jobs 3000 --logs /tmp/campaign-logs
    .venv/bin/python benchmarks/campaign.py --journal /tmp/campaign.sqlite   # no journal cuts
    .venv/bin/python benchmarks/campaign.py --rate 300/5 --jobs 3000         # Plivo's limit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plivo_phlo_async import RateLimit
from plivo_phlo_async.bulk import RunJob
from plivo_phlo_async.bulk._journal import open_journal
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    run_emulator,
)
from plivo_phlo_async.integrations.campaign import CampaignStatus, campaign_status
from plivo_phlo_async.integrations.taskiq import (
    CampaignSubmission,
    campaign_broker,
    live_chunks,
    register_chunk_task,
    resume_campaign,
    submit_campaign,
)

DEFAULT_RATE = "2000/5"
PLIVO_LIMIT = "300 / 5 s"
POSTGRES = os.environ.get(
    "PLIVO_PHLO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TASKIQ = str(Path(sys.executable).with_name("taskiq"))
PLIVO_PHLO = str(Path(sys.executable).with_name("plivo-phlo"))
#: Progress (share of the jobs executed) at which each outage happens.
REDIS_AT, JOURNAL_CUTS_AT, KILL_AT = 0.30, (0.50, 0.70), 0.90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument(
        "--chunks-per-worker",
        type=int,
        default=1,
        help="chunks one worker runs at once (--max-async-tasks)",
    )
    parser.add_argument(
        "--rate",
        type=_rate,
        default=_rate(DEFAULT_RATE),
        help=f"N/SECONDS, held by the emulator and the client (default {DEFAULT_RATE}; "
        f"Plivo's account limit is {PLIVO_LIMIT})",
    )
    parser.add_argument(
        "--journal",
        help="SQLite path or postgresql:// URL (default: tables of a prefix of the run's "
        "own in --postgres, dropped at the end)",
    )
    parser.add_argument("--postgres", default=POSTGRES, help="database of the default journal")
    parser.add_argument(
        "--redeliver-after",
        type=float,
        default=10.0,
        help="seconds before a dead worker's chunk is taken over (PLIVO_PHLO_REDELIVER_AFTER)",
    )
    parser.add_argument("--poll", type=float, default=3.0, help="seconds between status polls")
    parser.add_argument(
        "--stall",
        type=float,
        default=300.0,
        help="give up after this many seconds without progress",
    )
    parser.add_argument("--logs", type=Path, help="keep the worker and Redis logs here")
    args = parser.parse_args()
    # SIGTERM ends the run as Ctrl-C does: every process started is killed.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory() as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        run_id = uuid.uuid4().hex[:8]
        journal = _journal(args, run_id)
        processes = Processes(logs)
        ok = False
        try:
            ok = asyncio.run(Bench(args, run_id, journal, processes).run())
        except KeyboardInterrupt:
            print("interrupted: every process started is killed", file=sys.stderr)
        finally:
            # A second Ctrl-C must not cut the cleanup short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            processes.kill_all()
            if journal.drop:
                _drop_tables(journal)
    sys.exit(0 if ok else 1)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _rate(text: str) -> tuple[int, float]:
    requests, _, window = text.partition("/")
    try:
        count, per = int(requests), float(window)
    except ValueError:
        count, per = 0, 0.0
    if count < 1 or per <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not N/SECONDS (e.g. {DEFAULT_RATE})")
    return count, per


@dataclass
class Journal:
    """The journal's location as the workers reach it, and (PostgreSQL) how to
    find its connections and tables."""

    location: str
    shown: str
    database: str | None = None  # the plain URL, for the benchmark's own connections
    app: str | None = None  # application_name of every journal connection
    prefix: str | None = None
    drop: bool = False  # tables of the run's own prefix, dropped at the end


def _journal(args: argparse.Namespace, tag: str) -> Journal:
    url = args.journal or args.postgres
    if not url.startswith(("postgresql://", "postgres://")):
        return Journal(url, f"SQLite {url}")
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    ours = ("journal_prefix", "application_name")
    plain = urlencode({key: value for key, value in query.items() if key not in ours})
    database = urlunsplit(parts._replace(query=plain, fragment=""))
    drop = "journal_prefix" not in query
    query.setdefault("journal_prefix", f"bench_{tag}")
    query.setdefault("application_name", f"plivo-phlo-bench-{tag}")
    location = urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    prefix = query["journal_prefix"]
    shown = f"PostgreSQL {parts.hostname}:{parts.port or 5432}{parts.path}, tables {prefix}_*" + (
        " (dropped at the end)" if drop else ""
    )
    return Journal(location, shown, database, query["application_name"], prefix, drop)


class Processes:
    """The benchmark's ``redis-server`` and workers; :meth:`kill_all` kills
    whatever of them still runs (SIGKILL), and may be called more than once."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.workers: list[subprocess.Popen[bytes]] = []
        self.redis: subprocess.Popen[bytes] | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.redis_port = probe.getsockname()[1]
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self._redis_starts = 0

    def start_redis(self) -> float:
        """Start ``redis-server`` (empty, no persistence) on the port; return
        once it answers, with the seconds that took."""
        import redis

        started = time.monotonic()
        self._redis_starts += 1
        with (self.logs / f"redis-{self._redis_starts}.log").open("wb") as log:
            self.redis = subprocess.Popen(  # noqa: S603
                [  # noqa: S607 - the machine's redis-server
                    "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.logs),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while True:
            try:
                with redis.Redis.from_url(self.redis_url) as connection:
                    connection.ping()
                return time.monotonic() - started
            except redis.exceptions.ConnectionError:
                if self.redis.poll() is not None or time.monotonic() - started > 30:
                    raise
                time.sleep(0.02)

    def kill_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()

    def spawn_worker(self, env: dict[str, str], chunks: int) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{len(self.workers)}.log").open("wb") as log:
            worker = subprocess.Popen(  # noqa: S603 - the venv's own taskiq
                [
                    TASKIQ,
                    "worker",
                    "plivo_phlo_async.integrations.taskiq_worker:broker",
                    "--workers",
                    "1",
                    "--max-async-tasks",
                    str(chunks),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(worker)
        return worker

    @staticmethod
    def kill_worker(worker: subprocess.Popen[bytes]) -> None:
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)  # its own session: it and its child
            worker.wait()

    def kill_all(self) -> None:
        for worker in self.workers:
            self.kill_worker(worker)
        self.kill_redis()


@dataclass
class Chaos:
    """What happened during the run, for the report."""

    events: list[str] = field(default_factory=list)
    resumes: list[tuple[str, CampaignSubmission]] = field(default_factory=list)
    unknown_before_kill: int = 0


#: A status poll: (seconds after submit when it returned, its exit code, the JSON it printed).
Poll = tuple[float, int, dict[str, Any] | None]


@dataclass(frozen=True)
class Figures:
    """What the run measured: seconds from submit to the last outcome, whether
    the broker then held no chunk, and the emulator's counts."""

    elapsed: float
    drained: bool
    received: int
    rejected: int
    rejected_at: list[float]  # seconds after submit of each 429
    peak: int  # most requests in one window
    logs: Path  # the worker logs


class Bench:
    """One run: the campaign, the outages on their schedule, the status polls."""

    def __init__(
        self, args: argparse.Namespace, run_id: str, journal: Journal, processes: Processes
    ) -> None:
        self.args = args
        self.journal = journal
        self.processes = processes
        self.campaign = f"bench-{run_id}"
        self.queue = f"plivo-phlo-bench-campaign:{run_id}"
        self.key_prefix = f"plivo-phlo-bench:{run_id}:"
        self.chaos = Chaos()
        self.polls: list[Poll] = []
        self.status: CampaignStatus | None = None
        self.started = time.monotonic()
        self.schedule = [(REDIS_AT, "redis")]
        if journal.app is not None:
            self.schedule += [(at, "journal") for at in JOURNAL_CUTS_AT]
        else:
            self.chaos.events.append("journal cuts skipped: a SQLite journal has no connections")
        self.schedule.append((KILL_AT, "kill"))

    async def run(self) -> bool:
        args, processes = self.args, self.processes
        requests, window = args.rate
        processes.start_redis()
        limit = RateLimit(
            requests, per=window, redis=processes.redis_url, key_prefix=self.key_prefix
        )
        jobs = (
            RunJob(DEFAULT_PHLO_ID, {"to": f"+1415{n:07d}", "n": n}, ref=n)
            for n in range(args.jobs)
        )
        with run_emulator({"rate_limit": {"requests": requests, "window": window}}) as server:
            self.server = server
            self.env = {
                **os.environ,
                "PLIVO_AUTH_ID": DEFAULT_AUTH_ID,
                "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
                "PLIVO_PHLO_BASE_URL": server.base_url,
                "PLIVO_PHLO_BROKER_URL": processes.redis_url,
                "PLIVO_PHLO_QUEUE": self.queue,
                "PLIVO_PHLO_REDELIVER_AFTER": str(args.redeliver_after),
            }
            self.broker = campaign_broker(
                processes.redis_url, queue=self.queue, redeliver_after=args.redeliver_after
            )
            self.task = register_chunk_task(self.broker)
            await self.broker.startup()
            poller: asyncio.Task[None] | None = None
            try:
                for _ in range(args.workers):
                    processes.spawn_worker(self.env, args.chunks_per_worker)
                self.started = time.monotonic()
                submitted = await submit_campaign(
                    self.task,
                    jobs,
                    campaign_id=self.campaign,
                    phlo_id=DEFAULT_PHLO_ID,
                    journal=self.journal.location,
                    rate_limit=limit,
                    chunk_size=args.chunk_size,
                )
                poller = asyncio.create_task(self._poll_status())
                elapsed = await self._watch()
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
                # The status command may have seen the end first (this loop was busy).
                ends = [at for at, _, printed in self.polls if printed and printed["finished"]]
                elapsed = min([elapsed, *ends])
                # The status command's last word, once every job has its outcome.
                self.polls.append(
                    (elapsed, *await _status_once(self.journal.location, self.campaign))
                )
                drained = await self._drain(deadline=max(60.0, 6 * args.redeliver_after))
            finally:
                if poller is not None and not poller.done():
                    poller.cancel()
                    with contextlib.suppress(BaseException):
                        await poller
                with contextlib.suppress(Exception):
                    await self.broker.shutdown()
                processes.kill_all()
            emulator = server.emulator
            figures = Figures(
                elapsed=elapsed,
                drained=drained,
                received=len(emulator.requests),
                rejected=emulator.rate_limited(),
                # the emulator's clock is time.monotonic, as the benchmark's
                rejected_at=[
                    r.received_at - self.started for r in emulator.requests if r.status == 429
                ],
                peak=emulator.peak_requests(DEFAULT_AUTH_ID),
                logs=processes.logs,
            )
            runs = Counter(a.payload["n"] for a in emulator.executions("run"))
        states = await _job_states(self.journal.location, self.campaign, args.jobs)
        final = await campaign_status(self.journal.location, self.campaign)
        return _report(
            args, self.journal, submitted, self.chaos, self.polls, final, states, runs, figures
        )

    def executed(self) -> int:
        return len(self.server.emulator.executions("run"))

    def note(self, what: str, when: tuple[float, int] | None = None) -> None:
        """Record an event, as of now or of ``when`` (monotonic time, runs executed)."""
        now, executed = when or (time.monotonic(), self.executed())
        share = 100 * executed / self.args.jobs
        self.chaos.events.append(f"{now - self.started:6.1f} s, {share:3.0f}% executed: {what}")

    async def _watch(self) -> float:
        """Run the outages when their time comes; return the seconds from
        submit to every job having its outcome (or to giving up, stalled)."""
        last_change, last_seen = time.monotonic(), None
        next_status = 0.0
        clear = 0  # consecutive checks finding jobs not started and no chunk held
        while True:
            await asyncio.sleep(0.2)  # progress moves ~1% in 0.2 s at 3,000 jobs
            executed = self.executed()
            while self.schedule and executed >= self.schedule[0][0] * self.args.jobs:
                await self._outage(self.schedule.pop(0)[1])
            now = time.monotonic()
            if now < next_status:
                continue
            next_status = now + 1.0
            with contextlib.suppress(Exception):  # the journal may be cut off right now
                self.status = await campaign_status(self.journal.location, self.campaign)
            status = self.status
            if status is not None and status.finished:
                return now - self.started
            seen = (executed, None if status is None else tuple(status.counts.values()))
            if seen != last_seen:
                last_change, last_seen = now, seen
            elif now - last_change > self.args.stall:
                self.note(f"no progress for {self.args.stall:.0f} s: giving up; {status}")
                return now - self.started
            # After the restart's resume: jobs not started and no chunk of the
            # campaign in the broker, twice a few seconds apart -> resume once more.
            redis_done = all(what != "redis" for _, what in self.schedule)
            if (
                redis_done
                and len(self.chaos.resumes) == 1
                and status
                and status.counts["not_started"]
            ):
                clear = 0 if await self._held() else clear + 1
                if clear >= 2:
                    await self._resume("at the end")
            else:
                clear = 0

    async def _outage(self, what: str) -> None:
        processes = self.processes
        if what == "redis":
            when = (time.monotonic(), self.executed())
            processes.kill_redis()
            self.note(f"redis-server killed (SIGKILL), port {processes.redis_port}", when)
            took = await asyncio.to_thread(processes.start_redis)
            self.note(f"redis-server started again, empty, in {took:.2f} s")
            await self._resume("after the Redis restart")
        elif what == "journal":
            when = (time.monotonic(), self.executed())
            cut = await _terminate(self.journal)
            self.note(f"pg_terminate_backend: {cut} journal connection(s) terminated", when)
        else:
            self.chaos.unknown_before_kill = (
                self.status.counts["outcome_unknown"] if self.status else 0
            )
            victim, busy = await _pick_victim(processes, self.server.port)
            index = processes.workers.index(victim)
            when = (time.monotonic(), self.executed())
            processes.kill_worker(victim)
            processes.spawn_worker(self.env, self.args.chunks_per_worker)
            doing = "sending a chunk" if busy else "not seen sending"
            self.note(
                f"worker {index} killed (SIGKILL, {doing}); "
                f"worker {len(processes.workers) - 1} started",
                when,
            )

    async def _resume(self, when: str) -> None:
        for attempt in range(20):  # the broker's pool may meet a Redis just restarted
            try:
                resumed = await resume_campaign(
                    self.task, journal=self.journal.location, campaign_id=self.campaign
                )
                break
            except Exception as exc:
                if attempt == 19:
                    raise
                self.note(f"resume failed ({type(exc).__name__}: {exc}); trying again")
                await asyncio.sleep(0.5)
        self.chaos.resumes.append((when, resumed))
        self.note(
            f"resume_campaign ({when}) queued {resumed.chunks} chunk(s); "
            f"{resumed.live} with work left were still held by the broker"
        )

    async def _held(self) -> bool:
        """Whether the broker holds a chunk of the campaign (unread or pending);
        True when that cannot be told."""
        try:
            return bool(await live_chunks(self.broker, self.campaign))
        except Exception:
            return True

    async def _drain(self, *, deadline: float) -> bool:
        """Wait (up to ``deadline`` s) until the broker holds no chunk of the
        campaign: duplicates requeued by a resume, a taken-over chunk, all acknowledged."""
        give_up = time.monotonic() + deadline
        while time.monotonic() < give_up:
            if not await self._held():
                return True
            await asyncio.sleep(1.0)
        return False

    async def _poll_status(self) -> None:
        """``plivo-phlo campaign status --json`` every ``--poll`` seconds."""
        while True:
            began = time.monotonic()
            code, printed = await _status_once(self.journal.location, self.campaign)
            self.polls.append((time.monotonic() - self.started, code, printed))
            await asyncio.sleep(max(0.0, self.args.poll - (time.monotonic() - began)))


async def _status_once(journal: str, campaign: str) -> tuple[int, dict[str, Any] | None]:
    process = await asyncio.create_subprocess_exec(
        PLIVO_PHLO,
        "campaign",
        "status",
        "--journal",
        journal,
        "--campaign",
        campaign,
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    try:
        parsed = json.loads(out)
    except ValueError:
        parsed = None
    assert process.returncode is not None
    return process.returncode, parsed


async def _terminate(journal: Journal) -> int:
    """``pg_terminate_backend`` of every other connection carrying the journal's
    application_name (the workers', the status command's, this process's)."""
    import psycopg

    assert journal.database is not None
    async with await psycopg.AsyncConnection.connect(journal.database, autocommit=True) as db:
        cursor = await db.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = %s",
            (journal.app,),
        )
        return sum(1 for _, terminated in await cursor.fetchall() if terminated)


async def _pick_victim(processes: Processes, port: int) -> tuple[subprocess.Popen[bytes], bool]:
    """A live worker with a connection open to the emulator (sending a chunk),
    looked for during about two seconds; else the first live worker."""
    alive = [worker for worker in processes.workers if worker.poll() is None]
    for _ in range(10):
        busy = await asyncio.to_thread(_talking_to, {worker.pid for worker in alive}, port)
        for worker in alive:
            if worker.pid in busy:
                return worker, True
        await asyncio.sleep(0.2)
    return alive[0], False


def _talking_to(groups: set[int], port: int) -> set[int]:
    """Those of the process groups ``groups`` with a TCP connection established
    to ``port`` on this machine (Linux ``/proc``; none elsewhere)."""
    found: set[int] = set()
    try:
        established = {
            fields[9]
            for table in ("/proc/net/tcp", "/proc/net/tcp6")
            if os.path.exists(table)
            for fields in (line.split() for line in Path(table).read_text().splitlines()[1:])
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port
        }
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                group = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
                if group not in groups or group in found:
                    continue
                for fd in (entry / "fd").iterdir():
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in established:
                        found.add(group)
                        break
    except OSError:
        return found
    return found


async def _job_states(journal: str, campaign: str, count: int) -> dict[int, str]:
    """Each job's state by its ``n``, as ``campaign status`` counts it (no row:
    not started; in flight past its lease: outcome_unknown)."""
    opened = await open_journal(journal, create=False, readonly=True)
    try:
        rows = await opened.rows()
    finally:
        await opened.aclose()
    now = time.time()
    states = dict.fromkeys(range(count), "not_started")
    for row in rows:
        if not row.job_id.startswith(f"{campaign}/") or row.ref is None:
            continue
        status = row.status
        if status == "resend":
            status = "not_started"
        elif status == "in_flight" and (row.lease_until is None or row.lease_until <= now):
            status = "outcome_unknown"
        states[int(json.loads(row.ref))] = status
    return states


def _runs_of(codes: list[int]) -> str:
    """``5 x 40, 2 x 1, then 0``: the exit codes seen, in order, run-length encoded."""
    groups: list[list[int]] = []
    for code in codes:
        if groups and groups[-1][0] == code:
            groups[-1][1] += 1
        else:
            groups.append([code, 1])
    if not groups:
        return "none"
    *before, (last, times) = groups
    parts = [f"{code} x {n}" for code, n in before]
    return ", ".join([*parts, f"then {last}" + (f" x {times}" if times > 1 else "")])


def _report(
    args: argparse.Namespace,
    journal: Journal,
    submitted: CampaignSubmission,
    chaos: Chaos,
    polls: list[Poll],
    final: CampaignStatus,
    states: dict[int, str],
    runs: Counter[int],
    figures: Figures,
) -> bool:
    elapsed, received, rejected = figures.elapsed, figures.received, figures.rejected
    rejected_at, logs = figures.rejected_at, figures.logs
    requests, window = args.rate
    rate = requests / window
    twice = sorted(n for n, times in runs.items() if times > 1)
    unknown = [n for n, state in states.items() if state == "outcome_unknown"]
    unknown_ran = Counter(runs.get(n, 0) for n in unknown)
    # Exactly one outcome: succeeded and run once, failed and never run, or
    # unknown (in flight when its worker died) and run once or never.
    wrong = sorted(
        n
        for n, state in states.items()
        if not (
            (state == "succeeded" and runs.get(n, 0) == 1)
            or (state == "failed" and runs.get(n, 0) == 0)
            or (state == "outcome_unknown" and runs.get(n, 0) <= 1)
        )
    )
    codes = [code for _, code, _ in polls]
    codes_ok = _codes_right(polls, final)
    warnings, errors, tracebacks = _log_figures(logs)
    by_logger = ", ".join(f"{count} {name}" for name, count in warnings.most_common())
    when = f", at {min(rejected_at):.1f}-{max(rejected_at):.1f} s" if rejected_at else ""
    print(
        f"{args.jobs} jobs in {submitted.chunks} chunks of {args.chunk_size}, "
        f"{args.workers} taskiq worker processes ({args.chunks_per_worker} chunk(s) each at "
        f"once), journal {journal.shown}; broker and shared limit on a redis-server of the "
        f"benchmark's own (no persistence); emulator and client at {requests} requests / "
        f"{window:g} s (raised from Plivo's {PLIVO_LIMIT} so the run takes minutes); "
        f"redelivery after {args.redeliver_after:g} s"
    )
    print("  outages:")
    for event in chaos.events:
        print(f"    {event}")
    print(f"  journal:                 {final.counts}")
    print(f"  jobs:                    {final.size} (of {args.jobs} submitted)")
    print(f"  executed twice:          {len(twice)}" + (f" {twice[:10]}" if twice else ""))
    print(f"  without exactly one outcome: {len(wrong)}" + (f" {wrong[:10]}" if wrong else ""))
    print(
        f"  outcome_unknown:         {len(unknown)} (ran once: {unknown_ran.get(1, 0)}, "
        f"never ran: {unknown_ran.get(0, 0)}; {chaos.unknown_before_kill} before the kill)"
    )
    print(
        f"  status exit codes seen:  {_runs_of(codes)} (every {args.poll:g} s; non-zero until "
        "every job had its outcome, 0 only when every job succeeded: "
        f"{'yes' if codes_ok else 'NO'})"
    )
    print(
        f"  wall time:               {elapsed:.1f} s from submit to the last outcome (ideal "
        f"{args.jobs / rate:.1f} s at {rate:g}/s); {len(runs) / elapsed:.1f} runs/s"
    )
    resumed = "; ".join(f"{r.chunks} {when} ({r.live} still held)" for when, r in chaos.resumes)
    print(f"  chunks requeued by resume: {resumed or 'none'}")
    if len(chaos.resumes) < 2:
        print("    (no resume at the end: it was never the case that jobs were not started "
              "while the broker held none of the campaign's chunks)")  # fmt: skip
    print(
        f"  answered 429:            {rejected} of {received} requests "
        f"({100 * rejected / max(received, 1):.2f}%{when}); peak {figures.peak} in a "
        f"{window:g} s window (limit {requests})"
    )
    print(
        f"  broker drained after the end: {'yes' if figures.drained else 'NO (chunks still held)'}"
    )
    print(
        f"  worker logs:             {warnings.total()} warnings"
        + (f" ({by_logger})" if by_logger else "")
        + f", {errors} errors, "
        f"{tracebacks} tracebacks" + (f" ({logs})" if args.logs else "")
    )
    return not twice and not wrong and codes_ok and final.size == args.jobs


def _codes_right(polls: list[Poll], final: CampaignStatus) -> bool:
    """Each poll's exit code agrees with the states it printed: 5 while jobs
    are still to run (never after a poll that found them all done), 0 only
    when every job succeeded, 1 when every job has its outcome and some did
    not succeed; 2 (the journal could not be read) only before the end. The
    last poll, after the end, says what the journal says."""
    done = False
    for _, code, body in polls:
        if body is None:
            if code in (0, 1, 5) or done:
                return False
            continue
        all_succeeded = body["states"]["succeeded"] == body["size"]
        expected = 5 if not body["finished"] else 0 if all_succeeded else 1
        if code != expected or (done and code == 5):
            return False
        done = done or bool(body["finished"])
    expected_last = 0 if final.counts["succeeded"] == final.size else 1
    return bool(polls) and polls[-1][1] == expected_last


def _log_figures(logs: Path) -> tuple[Counter[str], int, int]:
    """Warnings by logger, errors and tracebacks in the worker logs (taskiq's
    format: ``[time][logger][LEVEL  ][process] message``)."""
    warnings: Counter[str] = Counter()
    errors = tracebacks = 0
    for path in sorted(logs.glob("worker-*.log")):
        for line in _lines(path):
            fields = line.split("][", 3)
            level = fields[2].strip() if len(fields) > 3 else ""
            if level == "WARNING":
                warnings[fields[1]] += 1
            errors += level in ("ERROR", "CRITICAL")
            tracebacks += line.startswith("Traceback (most recent call last)")
    return warnings, errors, tracebacks


def _lines(path: Path) -> Iterator[str]:
    with path.open(errors="replace") as text:
        yield from text


def _drop_tables(journal: Journal) -> None:
    """Drop the run's tables (its own prefix) once no worker is left."""
    import psycopg

    assert journal.database is not None
    assert journal.prefix is not None
    with psycopg.connect(journal.database, autocommit=True) as db:
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND application_name = %s",
            (journal.app,),
        )
        tables = [
            name
            for (name,) in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND starts_with(tablename, %s)",
                (f"{journal.prefix}_",),
            ).fetchall()
        ]
        if tables:
            db.execute("DROP TABLE IF EXISTS " + ", ".join(f'"{name}"' for name in tables))


if __name__ == "__main__":
    main()
