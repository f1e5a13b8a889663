"""The ``--emulator`` switch the examples share: the bundled emulator, started in-process.

It serves the emulator on a free loopback port in a background thread and points the
environment at it the way a deployment would point it at Plivo: ``PLIVO_AUTH_ID``,
``PLIVO_AUTH_TOKEN``, ``PLIVO_PHLO_BASE_URL``, ``PLIVO_API_BASE_URL`` (which
``PhloClient()`` reads), and ``PHLO_ID``/``NODE_ID`` (which the examples read). Without
``--emulator`` nothing is changed, so the same example runs against Plivo or against an
emulator you started yourself (``plivo-phlo emulator``) from its environment alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def emulator_environment(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from plivo_phlo_async.emulator import DEFAULT_NODE_ID, DEFAULT_PHLO_ID, run_emulator

    with run_emulator() as server:
        os.environ.update(
            PLIVO_AUTH_ID=server.emulator.auth_id,
            PLIVO_AUTH_TOKEN=server.emulator.auth_token,
            PLIVO_PHLO_BASE_URL=server.base_url,
            PLIVO_API_BASE_URL=server.base_url,
            PHLO_ID=DEFAULT_PHLO_ID,
            NODE_ID=DEFAULT_NODE_ID,
        )
        print(f"emulator: {server.base_url}", flush=True)
        yield
