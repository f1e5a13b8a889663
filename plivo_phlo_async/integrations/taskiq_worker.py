"""The broker ``taskiq worker`` runs, configured from the environment.

::

    PLIVO_AUTH_ID=... PLIVO_AUTH_TOKEN=... \\
        taskiq worker plivo_phlo_async.integrations.taskiq_worker:broker --workers 4

``PLIVO_PHLO_BROKER_URL``
    the taskiq-redis broker (default ``redis://127.0.0.1:6379/0``);
``PLIVO_PHLO_QUEUE``
    the stream and consumer group (default ``plivo-phlo-campaign``);
``PLIVO_PHLO_REDELIVER_AFTER``
    seconds a dead worker's chunk waits before another worker takes it (default 60);
``PLIVO_AUTH_ID``, ``PLIVO_AUTH_TOKEN``, ``PLIVO_PHLO_BASE_URL``
    the account the chunks run on (never in a message).

The journal and the rate limit (with its Redis URL) come with each chunk,
as ``plivo-phlo campaign submit`` put them there.
"""

from __future__ import annotations

import os

from .taskiq import (
    DEFAULT_QUEUE,
    DEFAULT_REDELIVER_AFTER,
    campaign_broker,
    register_chunk_task,
)

__all__ = ["broker", "chunk_task"]

broker = campaign_broker(
    os.environ.get("PLIVO_PHLO_BROKER_URL", "redis://127.0.0.1:6379/0"),
    queue=os.environ.get("PLIVO_PHLO_QUEUE", DEFAULT_QUEUE),
    redeliver_after=float(
        os.environ.get("PLIVO_PHLO_REDELIVER_AFTER", str(DEFAULT_REDELIVER_AFTER))
    ),
    # Started during a Redis outage, a worker waits for it rather than crash-looping.
    wait_for_redis=True,
)
chunk_task = register_chunk_task(broker)
