"""plivo-phlo run --redis: the rate limit shared through Redis by every process.

Against the real Redis and the loopback emulator, which records every request
it receives and answers 429 beyond its own limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from _redis_keys import max_in_window, redis_prefix

from plivo_phlo_async.cli import _run
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    PhloEmulator,
    ServerRateLimit,
)

from .conftest import cli_process, invoke, write

pytestmark = pytest.mark.usefixtures("credentials")

__all__ = ["redis_prefix"]

DOWN = "redis://127.0.0.1:1/0"
STARTS_KEY = f"plivo-phlo:rate-limit:{{{DEFAULT_AUTH_ID}}}:starts"


def rows(first: int, count: int) -> str:
    return "to,n\n" + "".join(f"+1415555{n:04d},{n}\n" for n in range(first, first + count))


def run(base_url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return invoke("run", DEFAULT_PHLO_ID, *args, "--base-url", base_url, env=env)


def starts_recorded(redis_url: str, prefix: str) -> int:
    with redis.Redis.from_url(redis_url) as connection:
        return int(connection.zcard(prefix + STARTS_KEY))


def test_redis_shares_the_limit_under_the_accounts_key(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    source = write(tmp_path / "in.csv", rows(0, 3))

    result = run(
        base_url,
        "--from-csv",
        str(source),
        "--rate",
        "20/1",
        "--redis",
        redis_url,
        "--redis-key-prefix",
        redis_prefix,
    )

    assert result.exit_code == 0, result.output
    assert len(emulator.requests) == 3
    assert starts_recorded(redis_url, redis_prefix) == 3


def test_redis_url_and_prefix_from_the_environment(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    source = write(tmp_path / "in.csv", rows(0, 2))

    result = run(
        base_url,
        "--from-csv",
        str(source),
        env={
            "PLIVO_PHLO_REDIS_URL": redis_url,
            "PLIVO_PHLO_REDIS_KEY_PREFIX": redis_prefix,
        },
    )

    assert result.exit_code == 0, result.output
    assert starts_recorded(redis_url, redis_prefix) == 2


def test_unreachable_redis_exits_2_before_anything_is_sent(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", rows(0, 3))

    result = run(base_url, "--from-csv", str(source), "--redis", DOWN)

    assert result.exit_code == 2
    assert "--redis: the shared rate limit in Redis (redis://127.0.0.1:1/0)" in result.stderr
    assert "nothing was sent" in result.stderr
    assert emulator.requests == []


def test_redis_lost_after_the_check_stops_the_run_unsent_with_exit_1(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def reachable(*_: object) -> None:
        return None  # as if Redis answered the check, then went away

    monkeypatch.setattr(_run, "check_redis", reachable)
    source = write(tmp_path / "in.csv", rows(0, 3))
    output = tmp_path / "out.jsonl"

    result = run(base_url, "--from-csv", str(source), "--redis", DOWN, "--output", str(output))

    assert result.exit_code == 1
    assert emulator.requests == []
    assert "Check --redis and that Redis is up" in result.output
    assert output.read_text().count('"status": "skipped"') == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redis", "redis://127.0.0.1:6379/0", "--no-rate-limit"], "turns it off"),
        (["--redis", "http://127.0.0.1:6379"], "rediss://"),
    ],
)
def test_redis_usage_errors_exit_2(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    source = write(tmp_path / "in.csv", rows(0, 1))

    result = run(base_url, "--from-csv", str(source), *args)

    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
    assert emulator.requests == []


JITTER_TOLERANT_WINDOW = 0.8


def test_two_processes_on_one_account_share_one_limit(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    # The server holds the same limit, counted over 0.8 s rather than 1 s: the
    # shared limiter times a start when Redis admits it, and on a loaded 2-core
    # machine (two runners, the emulator and Redis) the request may reach the
    # server tens of ms later, which an exact 1 s window would count as early.
    # Without sharing, two runners at 20/1 each put about 32 requests in 0.8 s.
    emulator.set_rate_limit(ServerRateLimit(20, JITTER_TOLERANT_WINDOW))
    env = {"PLIVO_AUTH_ID": DEFAULT_AUTH_ID, "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN}
    processes = [
        cli_process(
            [
                "run",
                DEFAULT_PHLO_ID,
                "--from-csv",
                str(source),
                "--rate",
                "20/1",
                "--redis",
                redis_url,
                "--redis-key-prefix",
                redis_prefix,
                "--base-url",
                base_url,
            ],
            env=env,
        )
        for source in (write(tmp_path / f"{i}.csv", rows(i * 100, 40)) for i in range(2))
    ]
    results = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], results
    received = emulator.requests
    assert len(received) == 80
    assert emulator.rate_limited() == 0
    assert max_in_window([r.received_at for r in received], JITTER_TOLERANT_WINDOW) <= 20
