"""Where the SDK's per-trigger CPU goes: cProfile of a bulk fan-out against nginx.

    python -m benchmarks.profile                 # 20,000 triggers, 64 in flight
    python -m benchmarks.profile --sort cumtime  # any pstats sort key
    python -m benchmarks.profile --tls           # over HTTPS, certificate verified
    python -m benchmarks.profile --scenario sdk-fast-transport   # any async scenario

Prints the CPU time per trigger (whole process, profiler off) and then the
profile's top functions (profiler on, which inflates small functions).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from typing import Any

import anyio

from ._nginx import nginx
from ._scenarios import ASYNC, fan_out


async def _run(url: str, options: argparse.Namespace, profiler: cProfile.Profile | None) -> Any:
    call, close, info = await ASYNC[options.scenario](argparse.Namespace(url=url))
    try:
        await fan_out(call, 1000, options.concurrency, 60)  # warm-up
        cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        done, seconds = await fan_out(call, options.jobs, options.concurrency, 600)
        if profiler is not None:
            profiler.disable()
        cpu = time.process_time() - cpu
    finally:
        await close()
    return done, seconds, cpu, info


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--scenario", default="sdk", choices=sorted(ASYNC))
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--tls", action="store_true", help="HTTPS, trusting a CA made at start")
    options = parser.parse_args()
    with nginx(tls=options.tls) as server:
        url = server.url
        if server.ca_file is not None:
            os.environ["SSL_CERT_FILE"] = str(server.ca_file)  # read at the first connection
        done, seconds, cpu, info = anyio.run(_run, url, options, None)
        path = info.get("path", "-")
        print(
            f"{options.scenario} ({path} path): {done / seconds:,.0f} triggers/s, "
            f"{cpu / done * 1e6:.0f} us CPU per trigger (harness included, no profiler)"
        )
        profiler = cProfile.Profile()
        anyio.run(_run, url, options, profiler)
    stats = pstats.Stats(profiler)
    stats.strip_dirs().sort_stats(options.sort).print_stats(options.top)


if __name__ == "__main__":
    main()
