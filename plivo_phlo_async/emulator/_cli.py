"""The emulator's command line: ``python -m plivo_phlo_async.emulator`` (:func:`main`).

``plivo-phlo emulator`` takes the same options and builds its config with the
same :func:`config_from_options`, so both commands mean the same by each option.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ._config import ConfigError, EmulatorConfig
from ._faults import FaultConfig, ServerRateLimit
from ._server import KEEP_ALIVE, serve


def _keep_alive(text: str) -> int:
    seconds = int(text)
    if seconds < 1:
        raise argparse.ArgumentTypeError("must be at least 1 second")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (0: let the OS choose; printed)"
    )
    parser.add_argument("--config", help="seed file (.json or .toml); default: the built-in seed")
    parser.add_argument("--auth-id", help="accept this auth id instead of the configured one")
    parser.add_argument("--auth-token", help="accept this auth token instead of the configured one")
    limits = parser.add_mutually_exclusive_group()
    limits.add_argument(
        "--rate-limit", metavar="N/SECONDS", help="requests allowed per window, e.g. 300/5"
    )
    limits.add_argument("--no-rate-limit", action="store_true", help="turn the rate limit off")
    faults = parser.add_argument_group("fault injection (reproducible from --seed)")
    faults.add_argument("--seed", type=int, default=0, help="fault generator seed (0)")
    faults.add_argument("--error-rate", type=float, default=0.0, help="share answered 500/503")
    faults.add_argument(
        "--drop-before-rate",
        type=float,
        default=0.0,
        help="share of connections closed before processing",
    )
    faults.add_argument(
        "--drop-after-rate",
        type=float,
        default=0.0,
        help="share of connections closed after processing",
    )
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    faults.add_argument(
        "--fault-methods", default=None, help="only fault these methods, e.g. POST or GET,POST"
    )
    parser.add_argument(
        "--keep-alive",
        type=_keep_alive,
        default=KEEP_ALIVE,
        metavar="SECONDS",
        help=f"how long an idle connection stays open ({KEEP_ALIVE}, as nginx; "
        "5 was uvicorn's default)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (info)")


def config_from_options(
    *,
    config: str | Path | None = None,
    auth_id: str | None = None,
    auth_token: str | None = None,
    rate_limit: str | None = None,
    no_rate_limit: bool = False,
    seed: int = 0,
    error_rate: float = 0.0,
    drop_before_rate: float = 0.0,
    drop_after_rate: float = 0.0,
    latency: float = 0.0,
    fault_methods: str | None = None,
) -> EmulatorConfig:
    """The configuration the command-line options describe (``ConfigError`` if invalid)."""
    loaded = EmulatorConfig.load(config)
    changes: dict[str, object] = {}
    if auth_id:
        changes["auth_id"] = auth_id
    if auth_token:
        changes["auth_token"] = auth_token
    if no_rate_limit:
        changes["rate_limit"] = None
    elif rate_limit:
        requests, _, window = rate_limit.partition("/")
        try:
            changes["rate_limit"] = ServerRateLimit(int(requests), float(window or 5))
        except ValueError as exc:
            raise ConfigError(f"--rate-limit must look like 300/5: {exc}") from None
    if error_rate or drop_before_rate or drop_after_rate or latency:
        changes["faults"] = FaultConfig(
            seed=seed,
            error_rate=error_rate,
            drop_before_rate=drop_before_rate,
            drop_after_rate=drop_after_rate,
            latency=latency,
            methods=fault_methods.split(",") if fault_methods else None,
        )
    return dataclasses.replace(loaded, **changes) if changes else loaded  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plivo_phlo_async.emulator",
        description="Run a local emulator of Plivo's PHLO and Voice APIs.",
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    host, port = options.pop("host"), options.pop("port")
    log_level, keep_alive = options.pop("log_level"), options.pop("keep_alive")
    try:
        config = config_from_options(**options)
    except (ConfigError, ValueError) as exc:
        parser.error(str(exc))
    try:
        serve(host, port, config, log_level=log_level, keep_alive=keep_alive)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        parser.exit(1, f"cannot start the emulator: {exc}\n")
    return 0
