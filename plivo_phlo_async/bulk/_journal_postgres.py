"""The PostgreSQL journal: one campaign's rows (tables ``PREFIX_jobs`` and
``PREFIX_meta``) in a database that runners on several machines share (psycopg 3,
async; the URL and its ``journal_prefix`` parameter: docs/bulk.md, "The journal").

Leases are measured with the database's clock. A connection that breaks (a
restarted server, ``pg_terminate_backend``, a network blip) costs no job its
outcome: every operation is idempotent and is tried again on a new connection
(:data:`RECONNECT_PAUSES`); a claim whose commit may have happened before the
break recognises its own row.
"""

# Table names are interpolated into SQL: they are the checked prefix
# ([a-z_][a-z0-9_]*) plus a fixed suffix; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import sniffio

from ._journal import DEFAULT_LEASE, Claim, JournalEntry, JournalError, redact_url
from ._journal_sql import Op, SqlJournal, Statements, Step, check_identity, check_schema
from ._manifest import Dialect, Sql
from ._text import safe_str

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_PREFIX", "PREFIX_PARAMETER", "PostgresJournal"]

DEFAULT_PREFIX = "plivo_phlo"
#: The URL parameter naming the campaign's tables (not passed to libpq).
PREFIX_PARAMETER = "journal_prefix"
#: Seconds to wait for the database when connecting (unless the URL says).
CONNECT_TIMEOUT = 10
#: Connections a runner's journal opens at most (one per operation in progress).
POOL_SIZE = 4
#: Seconds to wait before each new attempt of an operation whose connection
#: broke or could not be made (about 4 s in all, then the error stands).
RECONNECT_PAUSES = (0.0, 0.25, 1.0, 2.5)

_T = TypeVar("_T")
_log = logging.getLogger("plivo_phlo_async.journal")

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_NOW = "extract(epoch from clock_timestamp())::float8"
_TABLE_EXISTS = "SELECT to_regclass(?) IS NOT NULL"
#: What PostgreSQL adds to the shared schema.
_INDEX = "CREATE INDEX IF NOT EXISTS {jobs}_status ON {jobs} (status)"


def split_url(url: str) -> tuple[str, str]:
    """(the URL for libpq, the table prefix)."""
    parts = urlsplit(url)
    prefix = DEFAULT_PREFIX
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == PREFIX_PARAMETER:
            prefix = value
        else:
            kept.append((key, value))
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
    if not _PREFIX.fullmatch(prefix):
        raise JournalError(
            redact_url(url),
            f"journal table prefix {safe_str(prefix)!r} must be 1-41 lowercase letters, "
            f"digits or underscores, not starting with a digit",
        )
    return conninfo, prefix


class PostgresJournal(SqlJournal):
    """A job journal in PostgreSQL tables; see the module's docstring.

    Up to ``POOL_SIZE`` connections, each used by one operation at a time
    (a short transaction); open it with :meth:`open`.
    """

    def __init__(
        self,
        name: str,
        prefix: str,
        connection: psycopg.AsyncConnection[Any],
        lease: float,
        readonly: bool,
        connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
        password: str | None,
    ) -> None:
        self.name = name
        self.prefix = prefix
        self.run_token = uuid.uuid4().hex
        self.lease = lease
        self.readonly = readonly
        self.held: set[str] = set()
        #: Idle connections; up to POOL_SIZE, so that commits (each waits for
        #: the database's disk) overlap instead of queueing on one connection.
        self._free = [connection]
        self._opened = [connection]
        self._slots = anyio.Semaphore(1 if readonly else POOL_SIZE)
        self._connect = connect
        #: Kept out of every message (the driver's may quote the URL).
        self._password = password
        #: Jobs whose claim is being made now: a second claim of one of them
        #: by this run is a duplicate, whatever a retried claim finds.
        self._claiming: set[str] = set()
        self.dialect = Dialect(
            param="%s",
            seconds="float8",
            now=_NOW,
            integer="bigint",
            for_update=" FOR UPDATE",
            tables={
                name: f"{prefix}_{name}" for name in ("jobs", "meta", "campaigns", "campaign_jobs")
            },
        )
        self._rendered = {}

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        auth_id: str | None = None,
        base_url: str | None = None,
        create: bool = True,
        readonly: bool = False,
        lease: float = DEFAULT_LEASE,
    ) -> PostgresJournal:
        name = redact_url(url)
        try:
            import psycopg
        except ImportError:
            raise JournalError(
                name,
                "a PostgreSQL journal needs psycopg 3: pip install 'plivo-phlo-async[postgres]'",
            ) from None
        if sniffio.current_async_library() != "asyncio":
            raise JournalError(
                name,
                "a PostgreSQL journal needs asyncio (psycopg's async "
                "driver does not run under trio)",
            )
        conninfo, prefix = split_url(url)
        options: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in conninfo:
            options["connect_timeout"] = CONNECT_TIMEOUT
        connect = partial(psycopg.AsyncConnection.connect, conninfo, **options)
        password = urlsplit(url).password
        try:
            connection = await connect()
        except psycopg.Error as exc:
            raise JournalError(
                name, f"cannot open journal {name}: {_said(exc, password)}"
            ) from None
        journal = cls(name, prefix, connection, lease, readonly, connect, password)

        async def prepare() -> None:
            async with journal._connection() as db, db.transaction():
                await journal._prepare(db, auth_id, base_url, create)

        try:
            await journal._retrying(" cannot be used", None, prepare)
        except BaseException:
            await journal._close(list(journal._opened))
            raise
        return journal

    async def _prepare(
        self,
        db: psycopg.AsyncConnection[Any],
        auth_id: str | None,
        base_url: str | None,
        create: bool,
    ) -> None:
        """Check the journal, and create or migrate it (in ``db``'s transaction)."""
        jobs, meta_table = self.dialect.tables["jobs"], self.dialect.tables["meta"]
        if not self.readonly:
            # Two runners starting together must not both create the tables.
            await db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (jobs,))
        cursor = await db.execute(
            "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", (jobs, meta_table)
        )
        jobs_exist, meta_exists = await cursor.fetchone() or (False, False)
        if jobs_exist != meta_exists:
            raise JournalError(
                self.name,
                f"{self.name}: table {jobs} or {meta_table} exists without the other: "
                f"not a plivo-phlo journal",
            )
        self._empty = not jobs_exist
        if self._empty and not create:
            raise JournalError(
                self.name, f"no journal at {self.name} (no table {jobs})", missing=True
            )
        meta: dict[str, str] = {}
        if not self._empty:
            cursor = await db.execute(f"SELECT key, value FROM {meta_table}")
            meta = {str(key): str(value) for key, value in await cursor.fetchall()}
            self.schema = check_schema(self.name, meta.get("schema"))
            check_identity(self.name, meta, auth_id, base_url)
        if not self.readonly:
            await self._drive(db, self._prepare_op(meta, auth_id, base_url, (_INDEX,)))
            self._empty = False

    # -- the runner's ----------------------------------------------------------------
    async def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim:
        key = safe_str(job_id)
        if key in self._claiming:
            return Claim("duplicate")
        self._claiming.add(key)
        tries = 0

        async def attempt() -> Claim:
            nonlocal tries
            tries += 1
            in_doubt = tries > 1 and key not in self.held
            async with self._connection() as db, db.transaction():
                return await self._claim(db, key, ref, retry_failed, in_doubt)

        try:
            claim = await self._retrying("claim", job_id, attempt)
        finally:
            self._claiming.discard(key)
        if claim.kind == "claimed":
            self.held.add(key)
        return claim

    async def _claim(
        self,
        db: psycopg.AsyncConnection[Any],
        key: str,
        ref: Any,
        retry_failed: bool,
        in_doubt: bool,
    ) -> Claim:
        """The claim, in ``db``'s transaction (a test breaks its connection here)."""
        return await self._drive(db, self._claim_op(key, ref, retry_failed, in_doubt))

    async def get(self, job_id: str) -> JournalEntry | None:
        return await self._do("read", job_id, partial(self._get_op, job_id))

    async def start(self, job_id: str, ref: Any, *, url: str | None, payload: bytes | None) -> bool:
        op = partial(self._start_op, job_id, ref, url, payload)
        return await self._do("record the start of", job_id, op) == 1

    async def unsent(self, job_id: str) -> None:
        await self._do("record the failed sending of", job_id, partial(self._unsent_op, job_id))

    async def release(self, job_id: str) -> None:
        await self._do("release", job_id, partial(self._release_op, job_id), transaction=True)
        self.held.discard(safe_str(job_id))

    async def finish(self, job_id: str, status: str, **outcome: Any) -> None:
        op = partial(self._finish_op, job_id, status, **outcome)
        await self._do("record the outcome of", job_id, op)
        self.held.discard(safe_str(job_id))

    async def renew(self) -> None:
        held = list(self.held)
        if held:
            op = partial(self._renew_op, held)
            await self._do(": could not renew this run's claims", None, op, transaction=True)

    # -- the operator's ------------------------------------------------------------------
    async def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        wanted = status if status is None or isinstance(status, str) else list(status)
        return await self._do(" cannot be read", None, partial(self._rows_op, wanted))

    async def counts(self) -> dict[str, int]:
        return await self._do(" cannot be read", None, self._counts_op)

    async def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
        """Not tried again: a retry after a commit whose answer was lost would
        find the jobs resolved and refuse them."""
        op = partial(self._resolve_op, list(dict.fromkeys(job_ids)), status, note)
        return await self._do(": cannot update", None, op, transaction=True, retry=False)

    async def aclose(self) -> None:
        """Release the claims this run still holds, then disconnect."""
        try:
            if not self.readonly and not self._empty:
                with anyio.CancelScope(shield=True):
                    await self._do(
                        " could not be closed cleanly", None, self._leave_op, transaction=True
                    )
        finally:
            await self._close(list(self._opened))

    async def transact(self, work: Callable[[Sql], Awaitable[_T]], *, write: bool = True) -> _T:
        async def attempt() -> _T:
            async with self._connection() as db, db.transaction():

                async def run(step: Step) -> Any:
                    # Never prepared: a plan made while the manifest's table was
                    # empty (a sequential scan) made a 100,000-job manifest quadratic.
                    sql, args = self.dialect.render(step.sql), _pg_args(step.args)
                    cursor = await db.execute(sql, args, prepare=False)
                    return await cursor.fetchall() if step.rows else None

                return await work(Statements(self.dialect, run, _TABLE_EXISTS))

        return await self._retrying("", None, attempt)

    # -- internals ---------------------------------------------------------------------
    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An idle connection (a new one while fewer than POOL_SIZE are open)."""

        async with self._slots:
            if self._free:
                db = self._free.pop()
            else:
                db = await self._connect()
                self._opened.append(db)
            try:
                yield db
            except BaseException:
                broken = db.broken  # the connection itself is lost (not a cancelled query)
                if not broken and db.info.transaction_status == 0:  # idle: keep it
                    self._free.append(db)
                    raise
                await self._close([db])
                if broken:  # the idle ones were likely cut off with it
                    await self._drop_idle()
                raise
            self._free.append(db)

    async def _drop_idle(self) -> None:
        idle, self._free = self._free, []
        await self._close(idle)

    async def _close(self, connections: list[psycopg.AsyncConnection[Any]]) -> None:
        """Close and forget ``connections``, even when cancelled."""
        with anyio.CancelScope(shield=True):
            for db in connections:
                self._opened.remove(db)
                await db.close()

    async def _drive(self, db: psycopg.AsyncConnection[Any], op: Op[_T]) -> _T:
        """Run ``op``'s statements on ``db``."""
        try:
            step = next(op)
            while True:
                cursor = await db.execute(self._render(step.sql), _pg_args(step.args))
                step = op.send(await cursor.fetchall() if step.rows else cursor.rowcount)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _do(
        self,
        what: str,
        job_id: str | None,
        make: Callable[[], Op[_T]],
        *,
        transaction: bool = False,
        retry: bool = True,
    ) -> _T:
        """Run the operation ``make()`` makes (anew for each attempt)."""

        async def attempt() -> _T:
            # Without a transaction, each statement is its own.
            async with self._connection() as db, db.transaction() if transaction else nullcontext():
                return await self._drive(db, make())

        return await self._retrying(what, job_id, attempt, retry=retry)

    async def _retrying(
        self,
        what: str,
        job_id: str | None,
        attempt: Callable[[], Awaitable[_T]],
        *,
        retry: bool = True,
    ) -> _T:
        """``attempt()``, tried again on a new connection while the database
        cannot be reached (every operation here is idempotent); a failure is
        a JournalError saying ``what`` failed (see :meth:`_failure`)."""
        import psycopg

        for pause in (*(RECONNECT_PAUSES if retry else ()), None):
            try:
                return await attempt()
            except psycopg.Error as exc:
                said = _said(exc, self._password)
                if pause is None or not isinstance(exc, psycopg.OperationalError):
                    raise self._failure(what, job_id, exc, said) from None
                _log.warning("journal %s: %s; trying again on a new connection", self.name, said)
                await anyio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


def _pg_args(args: Sequence[Any]) -> list[Any]:
    """PostgreSQL's text cannot hold NUL: stored as the escape ``\\x00``."""
    return [value.replace("\0", "\\x00") if isinstance(value, str) else value for value in args]


def _said(exc: Exception, password: str | None) -> str:
    """The driver's message on one line, never with the URL's password."""
    message = " ".join(str(exc).split())
    return message.replace(password, "***") if password else message
