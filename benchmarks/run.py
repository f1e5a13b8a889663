"""Throughput of plivo-phlo-async against its peers, side by side in one run.

    python -m benchmarks.run                          # plain HTTP, about two minutes
    python -m benchmarks.run --tls                    # the same over HTTPS
    python -m benchmarks.run --both --quick           # both, one round each, about a minute
    python -m benchmarks.run --rounds 0 --bulk-memory # only the bulk runner's memory
    python -m benchmarks.run --only sdk-fast-transport  # some rows, beside raw aiohttp

Starts nginx (a non-daemon child, generated config, free loopback port,
canned PHLO JSON, keep-alive on), then runs every client in its own child
process against it, round after round in rotating order, and prints each
figure as a ratio to raw aiohttp measured in the same round. Figures on a
shared machine are noisy; the ratios, measured side by side, are what to
compare. This is a benchmark, not a test: nothing here asserts a timing.

Over TLS (real Plivo requests are all HTTPS) nginx presents a certificate
signed by a CA made at start, and every client verifies it: the children
trust that CA through ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``, and
before measuring, each client must refuse the server when those name another
CA. The connections column counts the connections nginx saw per scenario,
warm-up included (over TLS each is a handshake): about the concurrency when
keep-alive works.

Needs nginx (``sudo apt-get install -y nginx-light``) and the bench extra
(``pip install -e ".[bench]"``: aiohttp, httpx-aiohttp and the official
``plivo`` SDK). Nothing is installed at run time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._certs import make_certificates
from ._nginx import INSTALL_HINT, Server, find_nginx, nginx
from ._scenarios import REFUSED_EXIT


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    scenario: str
    args: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    sequential: bool = False


BULK_ROWS = [
    Row("aiohttp", "raw aiohttp (ClientSession.post, json=)", "aiohttp", needs=("aiohttp",)),
    Row("sdk", "plivo-phlo-async: mpc.call(), 64 workers", "sdk"),
    Row(
        "sdk-fast-transport",
        "plivo-phlo-async through httpx + FastTransport (with an event hook)",
        "sdk-fast-transport",
    ),
    Row("sdk-httpx", "plivo-phlo-async through stock httpx (injected AsyncClient)", "sdk-httpx"),
    Row(
        "sdk-otel",
        "plivo-phlo-async, OpenTelemetry httpx instrumentation + spans",
        "sdk-otel",
        needs=("opentelemetry.sdk", "opentelemetry.instrumentation.httpx"),
    ),
    Row(
        "sdk-spans",
        "plivo-phlo-async, spans recorded (opentelemetry-sdk, in memory)",
        "sdk-spans",
        needs=("opentelemetry.sdk",),
    ),
    Row(
        "sdk-trio",
        "plivo-phlo-async under trio (httpx path)",
        "sdk",
        ("--backend", "trio"),
        needs=("trio",),
    ),
    Row(
        "httpx-aiohttp",
        "httpx.AsyncClient over httpx-aiohttp, auth= json=",
        "httpx-aiohttp",
        needs=("httpx_aiohttp", "aiohttp"),
    ),
    Row(
        "httpx-fast-transport",
        "httpx.AsyncClient over FastTransport, auth= json= (no SDK)",
        "httpx-fast-transport",
    ),
    Row("httpx", "httpx.AsyncClient (httpcore pool), auth= json=", "httpx"),
    Row(
        "plivo",
        "official plivo SDK, 64 threads, phlo.multi_party_call()",
        "plivo",
        needs=("plivo",),
    ),
    Row(
        "plivo-docs",
        "official plivo SDK as documented (GET, GET, POST)",
        "plivo-docs",
        needs=("plivo",),
    ),
]
SEQUENTIAL_ROWS = [
    Row("aiohttp-1", "raw aiohttp", "aiohttp", needs=("aiohttp",), sequential=True),
    Row("sdk-1", "plivo-phlo-async", "sdk", sequential=True),
    Row("httpx-1", "httpx.AsyncClient (httpcore pool)", "httpx", sequential=True),
]


@dataclass
class Figures:
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def available(row: Row) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in row.needs)


def run_child(server: Server, row: Row, options: argparse.Namespace) -> dict[str, Any]:
    """One scenario in its own process; its figures, and the connections nginx saw."""
    before = server.connections()
    result = _spawn(server.url, row, options, _child_env(server.ca_file))
    if result.returncode != 0:
        raise SystemExit(f"scenario {row.key} failed:\n{result.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    after = server.connections()
    data["connections"], data["resumed"] = after[0] - before[0], after[1] - before[1]
    return data


def _spawn(
    url: str, row: Row, options: argparse.Namespace, env: dict[str, str], jobs: int | None = None
) -> subprocess.CompletedProcess[str]:
    if jobs is None:
        jobs = options.sequential_jobs if row.sequential else options.jobs
    command = [
        sys.executable,
        "-m",
        "benchmarks._scenarios",
        row.scenario,
        "--url",
        url,
        "--jobs",
        str(jobs),
        "--concurrency",
        str(options.concurrency),
        "--max-seconds",
        str(options.max_seconds),
        *row.args,
    ]
    if row.sequential:
        command.append("--sequential")
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        command, capture_output=True, text=True, check=False, env=env
    )


def _child_env(ca_file: Path | None = None) -> dict[str, str]:
    """The children's environment: no proxy; over TLS, the CA to trust and nothing else."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    for proxy in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        env.pop(proxy, None)  # loopback only: a proxy would measure the proxy
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env.pop(variable, None)
    if ca_file is not None:
        # SSL_CERT_FILE: httpx (and so the SDK) and aiohttp via OpenSSL's default
        # paths; REQUESTS_CA_BUNDLE: requests, under the official SDK.
        env["SSL_CERT_FILE"] = env["REQUESTS_CA_BUNDLE"] = str(ca_file)
    return env


def check_verification(server: Server, rows: list[Row], options: argparse.Namespace) -> None:
    """Each client must refuse the server when told to trust another CA.

    Proves that verification is on and goes through the environment's CA file
    (the measured runs, trusting the right CA, prove the other half).
    """
    seen: set[tuple[str, tuple[str, ...]]] = set()
    with tempfile.TemporaryDirectory(prefix="phlo-bench-foreign-ca-") as tmp:
        env = _child_env(make_certificates(Path(tmp)).ca)
        for row in rows:
            if (row.scenario, row.args) in seen:
                continue
            seen.add((row.scenario, row.args))
            result = _spawn(server.url, row, options, env, jobs=1)
            if result.returncode != REFUSED_EXIT:
                raise SystemExit(
                    f"{row.key} did not refuse a certificate from an untrusted CA:\n"
                    f"{result.stderr[-2000:]}"
                )


def measure(
    server: Server,
    rows: list[Row],
    baseline: str,
    options: argparse.Namespace,
    figures: dict[str, Figures],
    round_number: int,
) -> None:
    """One round: every row once, in an order rotated by the round number."""
    shift = round_number % len(rows)
    results: dict[str, dict[str, Any]] = {}
    for row in rows[shift:] + rows[:shift]:
        results[row.key] = run_child(server, row, options)
        done, seconds = results[row.key]["done"], results[row.key]["seconds"]
        print(f"  round {round_number + 1}: {row.key:<14} {done / seconds:>9,.0f} /s", flush=True)
    base_rate = results[baseline]["done"] / results[baseline]["seconds"]
    for key, result in results.items():
        rate = result["done"] / result["seconds"]
        entry = figures.setdefault(key, Figures())
        entry.rates.append(rate)
        entry.ratios.append(rate / base_rate)
        entry.cpu_us.append(result["cpu"] / result["done"] * 1e6)
        entry.rss_mb.append(result["rss_mb"])
        entry.connections.append(result["connections"])
        entry.resumed.append(result["resumed"])
        entry.info.update(result.get("info", {}))


def spread(values: list[float], fmt: str, unit: str = "") -> str:
    """The median, and the range over the rounds when there are several."""
    median = format(statistics.median(values), fmt) + unit
    low, high = format(min(values), fmt), format(max(values), fmt)
    return median if len(values) == 1 or low == high else f"{median} ({low}-{high})"


def table(title: str, rows: list[Row], figures: dict[str, Figures], tls: bool) -> None:
    print(f"\n{title}")
    opened = "handshakes" if tls else "connections"
    header = (
        f"| {'client':<56} | {'triggers/s':>24} | {'vs raw aiohttp':>20} | {'CPU/trigger':>11} "
        f"| {'peak RSS':>8} | {opened:>11} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for row in rows:
        entry = figures.get(row.key)
        if entry is None:
            continue
        path = entry.info.get("path")
        label = row.label + {"fast": " [fast path]", "httpx+FastTransport": " [FastTransport]"}.get(
            path if isinstance(path, str) else "", ""
        )
        resumed = statistics.median(entry.resumed)
        connections = f"{statistics.median(entry.connections):,.0f}" + (
            f" ({resumed:.0f} resumed)" if resumed else ""
        )
        print(
            f"| {label:<56} | {spread(entry.rates, ',.0f'):>24} | "
            f"{spread(entry.ratios, '.2f', 'x'):>20} | "
            f"{statistics.median(entry.cpu_us):>8,.0f} us | {max(entry.rss_mb):>5.0f} MB "
            f"| {connections:>11} |"
        )


def goals(figures: dict[str, Figures], transport: str) -> None:
    def ratio(key: str) -> float | None:
        entry = figures.get(key)
        return statistics.median(entry.ratios) if entry else None

    def line(text: str, value: float | None, target: float) -> None:
        if value is None:
            print(f"- {text}: not measured")
        else:
            verdict = "met" if value >= target else "MISSED"
            print(f"- {text}: {value:.2f}x (goal >= {target}x) {verdict}")

    print(f"\nGoals over {transport} (medians of the per-round ratios)")
    line("SDK bulk vs raw aiohttp", ratio("sdk"), 1.5)
    sdk, plivo = figures.get("sdk"), figures.get("plivo")
    if sdk and plivo:
        per_round = [a / b for a, b in zip(sdk.rates, plivo.rates, strict=True)]
        line("SDK bulk vs official SDK (64 threads)", statistics.median(per_round), 3.0)
    else:
        line("SDK bulk vs official SDK (64 threads)", None, 3.0)
    line("SDK one at a time vs raw aiohttp one at a time", ratio("sdk-1"), 1.5)
    line(
        "SDK through httpx + FastTransport (event hook) vs raw aiohttp",
        ratio("sdk-fast-transport"),
        0.5,
    )


def benchmark(
    tls: bool, bulk: list[Row], sequential: list[Row], options: argparse.Namespace
) -> None:
    """Every round over one transport (plain HTTP or TLS), then its tables and goals."""
    transport = "TLS" if tls else "plain HTTP"
    figures: dict[str, Figures] = {}
    print(f"\n=== {transport} ===")
    with nginx(tls=tls) as server:
        if tls:
            check_verification(server, bulk + sequential, options)
            print(
                "Certificate verification ON in every client (no verify=False): CA made at "
                "start, trusted via SSL_CERT_FILE and REQUESTS_CA_BUNDLE; checked: each "
                "client refused the server when those named another CA"
            )
        for round_number in range(options.rounds):
            measure(server, bulk, "aiohttp", options, figures, round_number)
            measure(server, sequential, "aiohttp-1", options, figures, round_number)
    title = f"{options.concurrency} in flight (median, min-max over rounds)"
    table(f"Bulk fan-out over {transport}: {title}", bulk, figures, tls)
    table(f"One trigger at a time over {transport} (latency path)", sequential, figures, tls)
    goals(figures, transport)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5000, help="triggers per bulk scenario")
    parser.add_argument(
        "--sequential-jobs", type=int, default=2000, help="triggers per one-at-a-time scenario"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="in flight (bulk)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=5.0,
        help="cap per scenario: slow clients stop early (rate = done / time)",
    )
    parser.add_argument("--quick", action="store_true", help="one round, 2,000 triggers")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--tls",
        action="store_true",
        help="over HTTPS (verified, generated certificate) instead of HTTP",
    )
    transport.add_argument(
        "--both", action="store_true", help="plain HTTP, then TLS (about three and a half minutes)"
    )
    parser.add_argument(
        "--bulk-memory",
        action="store_true",
        help="also measure peak RSS of a 1,000,000-job bulk run from a generator "
        "(the bulk runner's benchmarks/bulk_memory.py, over nginx; takes minutes)",
    )
    parser.add_argument("--bulk-jobs", type=int, default=1_000_000)
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated row keys to run (raw aiohttp, the yardstick, always runs), "
        "e.g. --only sdk,sdk-fast-transport",
    )
    options = parser.parse_args()
    if options.quick:
        options.rounds, options.jobs, options.sequential_jobs = 1, 2000, 1000

    find_nginx()
    missing = [row for row in BULK_ROWS + SEQUENTIAL_ROWS if not available(row)]
    if any(row.key in ("aiohttp", "aiohttp-1") for row in missing):
        raise SystemExit('raw aiohttp is the yardstick: pip install -e ".[bench]"')
    only = {key for key in options.only.split(",") if key} | {"aiohttp", "aiohttp-1"}
    wanted = [row for row in BULK_ROWS + SEQUENTIAL_ROWS if not options.only or row.key in only]
    bulk = [row for row in BULK_ROWS if available(row) and row in wanted]
    sequential = [row for row in SEQUENTIAL_ROWS if available(row) and row in wanted]

    print(
        f"plivo-phlo-async benchmark: {options.jobs:,} multi-party-call triggers per client, "
        f"{options.concurrency} in flight, {options.rounds} round(s)\n"
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, nginx on 127.0.0.1 "
        f"(canned JSON, keep-alive)"
    )
    for row in missing:
        print(f"(skipped {row.key}: {', '.join(row.needs)} not installed)")
    if options.rounds:
        for tls in [False, True] if options.both else [options.tls]:
            benchmark(tls, bulk, sequential, options)
    print(f"\nMemory: peak RSS of a {options.bulk_jobs:,}-job bulk run from a generator")
    if options.bulk_memory:
        _bulk_memory(options)
    else:
        print("- not measured here: add --bulk-memory (runs benchmarks/bulk_memory.py --nginx)")


def _bulk_memory(options: argparse.Namespace) -> None:
    """The bulk runner's own memory benchmark (benchmarks/bulk_memory.py), over nginx."""
    script = Path(__file__).with_name("bulk_memory.py")
    if not script.exists():
        print("- not measured: benchmarks/bulk_memory.py (the bulk runner's benchmark) is missing")
        return
    command = [
        sys.executable,
        str(script),
        "--nginx",
        "--jobs",
        str(options.bulk_jobs),
        "--concurrency",
        str(options.concurrency),
    ]
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        command, capture_output=True, text=True, check=False, env=_child_env()
    )
    if result.returncode != 0:
        print(f"- failed:\n{result.stderr[-3000:]}")
        return
    for line in result.stdout.strip().splitlines():
        print(f"  {line}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except FileNotFoundError as exc:
        sys.exit(f"{exc}\nIs nginx installed? {INSTALL_HINT}")
