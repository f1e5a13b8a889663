"""Run a block with no free file descriptor, as a process at its ``ulimit -n`` is."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections.abc import Iterator


@contextlib.contextmanager
def no_free_descriptor() -> Iterator[None]:
    """Every descriptor number the process may use is taken until the block ends.

    The soft limit is lowered first (to at most 1024) so that taking them all
    is quick; it and the descriptors are given back afterwards. Only what the
    block itself opens fails: sockets and loops made before it keep working.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
    held: list[int] = []
    try:
        while True:
            try:
                held.append(os.dup(0))
            except OSError as exc:
                if exc.errno != errno.EMFILE:
                    raise
                break
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
