"""Import time of ``plivo_phlo_async`` against httpx, pydantic and anyio together (not a test).

Each import runs in a fresh interpreter (``sys.executable``) that times it with
``time.perf_counter``, so interpreter start-up is left out and nothing is
cached between runs but the bytecode (written by the warm-up even under
``PYTHONDONTWRITEBYTECODE``, as pip writes an installed wheel's). The two are
interleaved, one after the other, so a machine loaded by something else slows
both alike; the medians and their ratio are printed (goal: at most 1.25).

    .venv/bin/python benchmarks/import_time.py              # 15 rounds
    .venv/bin/python benchmarks/import_time.py --rounds 31
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

SUBJECTS = {
    "plivo_phlo_async": "import plivo_phlo_async",
    "httpx + pydantic + anyio": "import httpx, pydantic, anyio",
}
TIMED = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
# Without bytecode the SDK (source here, compiled per import) would be timed
# compiling itself against peers whose bytecode pip wrote at install.
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def seconds(statement: str) -> float:
    """How long ``statement`` takes in a fresh interpreter."""
    code = TIMED.format(statement)
    answer = subprocess.run(  # noqa: S603 - our own interpreter and statements
        [sys.executable, "-c", code], check=True, capture_output=True, env=ENVIRONMENT
    )
    return float(answer.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    for statement in SUBJECTS.values():
        seconds(statement)  # warm-up: writes the bytecode caches
    times: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    for _ in range(options.rounds):
        for name, statement in SUBJECTS.items():
            times[name].append(seconds(statement))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<26} {median * 1000:7.1f} ms  (median of {options.rounds})")
    package, peers = medians.values()
    print(f"{'ratio':<26} {package / peers:7.2f}x  (goal: at most 1.25x)")


if __name__ == "__main__":
    main()
