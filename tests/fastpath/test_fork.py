"""``os.fork()`` after the client was used: the child never touches the parent's
connections (issue 17, item 2).

A pre-fork worker that keeps a module-level loop forks after the parent used
the client on it, and both processes go on using that same loop object. The
child inherits the pool with its kept-alive sockets, and the loop's epoll
instance is shared with the parent. Before the fix the child wrote its
requests on the parent's socket: answers crossed between the processes and a
POST lost its answer. Now the child starts a pool of its own, and the
parent's connection goes on working untouched: no close, no TLS close_notify,
no ``epoll_ctl`` from the child on it.

The child reports through a pipe, as JSON, then leaves with ``os._exit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from _servers import Server
from _waiting import wait_until_sync

from plivo_phlo_async import PhloClient, PlivoError

from .conftest import loop_factories
from .test_tls import server_context

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

#: Requests each process sends while the other one runs.
REQUESTS = 12
CHILD_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["http", "https"])
def scheme(
    request: pytest.FixtureRequest, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "https":  # the test CA is the one the client trusts
        path = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        monkeypatch.setenv("SSL_CERT_FILE", str(path))
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return str(request.param)


@pytest.fixture(params=["fast", "httpx"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``httpx``: the SDK's own ``httpx.AsyncClient`` (a proxy in the environment
    that ``NO_PROXY`` bypasses for the server: a corporate setup)."""
    if request.param == "httpx":
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:3128")
        monkeypatch.setenv("HTTPS_PROXY", "http://192.0.2.1:3128")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    else:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
    return str(request.param)


async def post_each(client: PhloClient, tags: list[str]) -> list[list[Any]]:
    """POST each tag in turn: ``[tag, "ok", run_id]`` or ``[tag, error class, outcome_unknown]``."""
    results: list[list[Any]] = []
    for tag in tags:
        try:
            result = await client.phlo(tag).run(n=1)
        except PlivoError as exc:
            results.append([tag, type(exc).__name__, exc.outcome_unknown])
        else:
            results.append([tag, "ok", result.run_id])
    return results


@contextlib.contextmanager
def forked(child: Callable[[], object]) -> Iterator[Callable[[], Any]]:
    """Fork; the child runs ``child()`` and reports its JSON result (or its error)
    through a pipe. Yields a function that waits for the child's report."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # 3.12+: fork() with the server's thread running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        status = 0
        try:
            os.close(read_end)
            try:
                report = {"result": child()}
            except BaseException as exc:  # reported to the parent
                report = {"error": repr(exc)}
                status = 1
            data = json.dumps(report).encode()
            while data:
                data = data[os.write(write_end, data) :]
        finally:
            os._exit(status)
    os.close(write_end)

    def report() -> Any:
        chunks = []
        deadline = time.monotonic() + CHILD_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("the child did not report in time")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return json.loads(b"".join(chunks))

    try:
        yield report
    finally:
        os.close(read_end)
        try:
            wait_until_sync(
                lambda: os.waitpid(pid, os.WNOHANG) != (0, 0),
                what="the child to exit",
                timeout=CHILD_TIMEOUT,
            )
        except AssertionError:  # never left running
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


@pytest.mark.parametrize("loop_name", list(loop_factories()))
def test_a_forked_child_never_uses_the_parents_connections(
    loop_name: str, scheme: str, path: str, ca: trustme.CA
) -> None:
    tls = server_context(ca, "127.0.0.1") if scheme == "https" else None
    server = Server(tls=tls)
    loop = loop_factories()[loop_name]()
    client = server.client(timeout=httpx.Timeout(5.0, read=3.0), max_retries=0)
    try:
        if path == "fast":
            assert client._requester.sender.fast_allowed
        else:
            assert not client._requester.sender.fast_allowed
        first = loop.run_until_complete(post_each(client, ["parent-before"]))
        assert first == [["parent-before", "ok", "run-parent-before"]]
        assert server.connections == 1  # kept alive: the connection the child inherits

        child_tags = [f"child-{i}" for i in range(REQUESTS)]
        parent_tags = [f"parent-{i}" for i in range(REQUESTS)]

        def child_run() -> object:
            if loop_name == "asyncio":  # the inherited loop object, as pre-fork workers do
                return loop.run_until_complete(post_each(client, child_tags))
            # libuv cannot share a loop across fork (it would need uv_loop_fork), and
            # a new uvloop loop in a forked child can hang in libuv itself: the child
            # of a uvloop parent runs a new asyncio loop.
            own = asyncio.new_event_loop()
            try:
                return own.run_until_complete(post_each(client, child_tags))
            finally:
                own.close()

        with forked(child_run) as report:
            parent = loop.run_until_complete(post_each(client, parent_tags))
            child = report()
        after = loop.run_until_complete(post_each(client, ["parent-after"]))

        assert "error" not in child, child
        # Every answer is the one its request asked for, in both processes.
        assert child["result"] == [[tag, "ok", f"run-{tag}"] for tag in child_tags]
        assert parent == [[tag, "ok", f"run-{tag}"] for tag in parent_tags]
        assert after == [["parent-after", "ok", "run-parent-after"]]
        received = list(server.received)
        # Nothing was sent twice, and nothing was lost.
        assert server.duplicates() == []
        assert sorted(r.tag for r in received) == sorted(
            ["parent-before", *parent_tags, *child_tags, "parent-after"]
        )
        # The child never wrote on the connection it inherited; the parent kept
        # using it, the child's discarding it disturbed nothing.
        on_first = [r.tag for r in received if r.connection == 1]
        assert not [tag for tag in on_first if tag.startswith("child-")], on_first
        assert on_first == ["parent-before", *parent_tags, "parent-after"]
    finally:
        loop.run_until_complete(asyncio.wait_for(client.aclose(), 5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        server.stop()
