"""``plivo-phlo``: the command-line tool (needs the ``cli`` extra; docs/cli.md).

This module imports neither typer nor rich at import time, so the entry
point exists (and says what to install) even without the extra; the core
package never imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_MISSING_EXTRA_HINT = 'plivo-phlo needs the cli extra: pip install "plivo-phlo-async[cli]"'


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``plivo-phlo`` command (exits with the command's status)."""
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        sys.stderr.write(_MISSING_EXTRA_HINT + "\n")
        raise SystemExit(2) from None
    from ._app import app

    app(args=None if argv is None else list(argv), prog_name="plivo-phlo")
