"""A bulk run meant to be killed: ``python _sigkill_child.py BASE_URL JOURNAL COUNT``.

Started by ``test_sigkill.py`` against an emulator served by the test process
(so the emulator's state outlives this process). Sends slowly on purpose so
that requests are in flight when the SIGKILL arrives.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import anyio

from plivo_phlo_async import PhloClient, RateLimit
from plivo_phlo_async.bulk import RunJob

PHLO_ID = "00000000-0000-4000-8000-00000000a001"  # the emulator's default PHLO
AUTH_ID = "MAEMULATORAUTHID0001"
AUTH_TOKEN = "emulator-auth-token"
CHILD_RATE = RateLimit(20, per=0.5)
CHILD_CONCURRENCY = 8


def job(n: int) -> RunJob:
    return RunJob(PHLO_ID, {"to": f"+1415555{n:04d}", "job": n}, ref=n)


def jobs(count: int) -> Iterator[RunJob]:
    return (job(n) for n in range(count))


async def main(base_url: str, journal: str, count: int) -> None:
    client = PhloClient(AUTH_ID, AUTH_TOKEN, base_url=base_url, voice_base_url=base_url)
    async with client:
        await client.bulk(
            jobs(count), concurrency=CHILD_CONCURRENCY, rate_limit=CHILD_RATE, journal=journal
        ).run()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
