"""Which process the pools belong to, and what a forked child does with what it inherited.

After ``os.fork()`` the child holds the parent's kept-alive sockets, and an
event loop it inherited shares its epoll instance with the parent's. Using
such a socket in the child crosses answers between the two processes; even
closing it the usual way would disturb the parent: a TLS ``close_notify`` or a
``shutdown`` goes out on the parent's connection, and ``epoll_ctl(DEL)`` on
the shared epoll instance (what removing a reader does) would unregister the
parent's interest in it, keyed as it is by the same file and number.

So, in the child, right after the fork (before its loop can run a callback on
an inherited socket): every pool of the parent is closed for the child, and
each of its descriptors is pointed at ``/dev/null`` with ``dup2``. The socket
itself stays open for the parent (it holds the other reference); the child
only lets go of its own. Whatever the child's loop does later with that
number (a read, ``epoll_ctl``, a close) meets ``/dev/null``, never the
parent's socket, and the number stays taken until the inherited transport
closes it, so no new socket of the child is closed in its place.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import Protocol

__all__ = ["current_pid", "track"]


class _Inheritable(Protocol):
    def forked(self) -> list[int]:
        """Called in a forked child: never use what the parent opened; the
        descriptors to let go of."""


_pid = os.getpid()
_owners: weakref.WeakSet[_Inheritable] = weakref.WeakSet()


def current_pid() -> int:
    """This process's id, kept up to date across ``os.fork()`` (no system call)."""
    return _pid


def track(owner: _Inheritable) -> None:
    """Have ``owner.forked()`` called in the child of every later ``os.fork()``."""
    _owners.add(owner)


def let_go(fds: list[int]) -> None:
    """Point each descriptor at ``/dev/null`` (read-only): the open socket stays
    the parent's, and nothing the child does with the number reaches it."""
    if not fds:
        return
    null = os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        for fd in fds:
            if fd >= 0 and fd != null:
                with contextlib.suppress(OSError):
                    os.dup2(null, fd, inheritable=False)
    finally:
        os.close(null)


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()
    owners = list(_owners)
    _owners.clear()
    fds: list[int] = []
    for owner in owners:
        with contextlib.suppress(Exception):  # never break the child's start
            fds.extend(owner.forked())
    with contextlib.suppress(OSError):
        let_go(fds)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
