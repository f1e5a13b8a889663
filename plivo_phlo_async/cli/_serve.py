"""``plivo-phlo emulator``: serve the local PHLO emulator in the foreground.

The same options as ``python -m plivo_phlo_async.emulator``, turned into a
configuration by the same function (the emulator's ``config_from_options``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_FAILED, fail

FAULTS = "Fault injection (reproducible from --seed)"


def _share(flag: str, help: str) -> Any:
    """A fault's option: the share of requests it hits, from 0 to 1."""
    return typer.Option(flag, min=0.0, max=1.0, help=help, rich_help_panel=FAULTS)


def emulator(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65535, help="Port to listen on (0: any free port; printed)."
        ),
    ] = 0,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Seed file (.json or .toml): PHLOs, nodes, members, limits, faults. "
            "Default: the built-in seed.",
        ),
    ] = None,
    auth_id: Annotated[
        str | None,
        typer.Option("--auth-id", help="Accept this auth id instead of the configured one."),
    ] = None,
    auth_token: Annotated[
        str | None,
        typer.Option(
            "--auth-token",
            show_default=False,
            help="Accept this auth token instead of the configured one.",
        ),
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit",
            metavar="N/SECONDS",
            help="The account limit the emulator enforces.",
            show_default="300/5",
        ),
    ] = None,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Turn the emulator's rate limit off.")
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Fault generator seed.", rich_help_panel=FAULTS)
    ] = 0,
    error_rate: Annotated[
        float, _share("--error-rate", "Share answered 500/503 (not processed).")
    ] = 0.0,
    drop_before_rate: Annotated[
        float, _share("--drop-before-rate", "Share of connections closed before processing.")
    ] = 0.0,
    drop_after_rate: Annotated[
        float, _share("--drop-after-rate", "Share of connections closed after processing.")
    ] = 0.0,
    latency: Annotated[
        float,
        typer.Option(
            "--latency", min=0.0, help="Seconds added to each answer.", rich_help_panel=FAULTS
        ),
    ] = 0.0,
    fault_methods: Annotated[
        str | None,
        typer.Option(
            "--fault-methods",
            metavar="METHODS",
            help="Only fault these methods, e.g. POST or GET,POST.",
            rich_help_panel=FAULTS,
        ),
    ] = None,
    keep_alive: Annotated[
        int | None,
        typer.Option(
            "--keep-alive",
            min=1,
            metavar="SECONDS",
            show_default=False,
            help="How long an idle connection stays open (default 75, as nginx).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the local PHLO emulator until Ctrl-C (prints its URL and credentials).

    Point a client at it with --base-url http://HOST:PORT/v1 (or base_url= in
    Python) and the printed credentials.
    """
    if no_rate_limit and rate_limit is not None:
        raise typer.BadParameter("--rate-limit and --no-rate-limit contradict each other")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from ..emulator import ConfigError, serve
        from ..emulator._cli import config_from_options
        from ..emulator._server import KEEP_ALIVE
    except ImportError:
        fail('the emulator needs the cli extra: pip install "plivo-phlo-async[cli]"')
    try:
        settings = config_from_options(
            config=config,
            auth_id=auth_id,
            auth_token=auth_token,
            rate_limit=rate_limit,
            no_rate_limit=no_rate_limit,
            seed=seed,
            error_rate=error_rate,
            drop_before_rate=drop_before_rate,
            drop_after_rate=drop_after_rate,
            latency=latency,
            fault_methods=fault_methods,
        )
    except (ConfigError, ValueError) as exc:
        fail(f"invalid emulator configuration: {exc}")
    try:
        serve(
            host,
            port,
            settings,
            log_level=log_level,
            keep_alive=KEEP_ALIVE if keep_alive is None else keep_alive,
        )
    except KeyboardInterrupt:
        return
    except OSError as exc:
        fail(f"cannot start the emulator on {host}:{port}: {exc.strerror or exc}", EXIT_FAILED)
