"""The PostgreSQL journal: one campaign's rows in a database that runners on
several machines share (psycopg 3, async; the ``postgres`` extra).

``postgresql://user:password@host:5432/db?journal_prefix=NAME`` keeps the
campaign in tables ``NAME_jobs`` and ``NAME_meta`` (default prefix
``plivo_phlo``), so several campaigns can share a database; every other
URL parameter is libpq's (e.g. ``options=-csearch_path%3Dmyschema`` for a
schema, ``sslmode``). The password is only given to libpq: errors, logs and
``JournalError.path`` show the URL without it.

Claims are ``INSERT ... ON CONFLICT DO NOTHING`` and, when a row exists,
``SELECT ... FOR UPDATE`` of that one row in the same transaction; leases are
measured with the database's clock, never the runners'.

A connection that breaks (a restarted server, ``pg_terminate_backend``, a
network blip) costs no job its outcome: every operation is idempotent and is
tried again on a new connection (:data:`RECONNECT_PAUSES`). A claim whose
commit may have happened before the break recognises its own row.
"""

# Table names are interpolated into SQL: they are the checked prefix
# ([a-z_][a-z0-9_]*) plus a fixed suffix; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import sniffio

from ._journal import (
    CLAIMED,
    DEFAULT_LEASE,
    IN_FLIGHT,
    SCHEMA_VERSION,
    Claim,
    JournalEntry,
    JournalError,
    body_text,
    check_identity,
    check_prefix,
    decide,
    int64,
    optional_text,
    redact_url,
    ref_text,
    text,
    unresolved_problems,
)
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

_NOW = "extract(epoch from clock_timestamp())::float8"
_COLUMNS = (
    "job_id, status, run_token, ref, http_status, api_id, attempts, error, updated_at, "
    "url, payload, note, lease_until"
)


def _pg(value: str | None) -> str | None:
    """PostgreSQL's text cannot hold NUL: stored as the escape ``\\x00``."""
    return None if value is None else value.replace("\0", "\\x00")


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
    return conninfo, check_prefix(redact_url(url), prefix)


class PostgresJournal:
    """A job journal in PostgreSQL tables; see the module's docstring.

    One connection per journal, used by one operation at a time (each a
    short transaction); open it with :meth:`open`.
    """

    def __init__(
        self,
        name: str,
        prefix: str,
        connection: psycopg.AsyncConnection[Any],
        lease: float,
        readonly: bool,
        connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
    ) -> None:
        self.name = name
        self.prefix = prefix
        self.run_token = uuid.uuid4().hex
        self.lease = lease
        self.readonly = readonly
        self.held: set[str] = set()
        self._db = connection
        #: Idle connections; up to POOL_SIZE, so that commits (each waits for
        #: the database's disk) overlap instead of queueing on one connection.
        self._free = [connection]
        self._opened = [connection]
        self._slots = anyio.Semaphore(1 if readonly else POOL_SIZE)
        self._connect = connect
        self._jobs = f"{prefix}_jobs"
        self._meta = f"{prefix}_meta"
        self._exists = True
        #: Jobs whose claim is being made now: a second claim of one of them
        #: by this run is a duplicate, whatever a retried claim finds.
        self._claiming: set[str] = set()
        self.dialect = Dialect(
            param="%s",
            seconds="float8",
            now=_NOW,
            tables={
                "jobs": self._jobs,
                "campaigns": f"{prefix}_campaigns",
                "campaign_jobs": f"{prefix}_campaign_jobs",
            },
        )

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
        for pause in (*RECONNECT_PAUSES, None):
            try:
                connection = await connect()
            except psycopg.Error as exc:
                raise JournalError(name, f"cannot open journal {name}: {_said(exc, url)}") from None
            journal = cls(name, prefix, connection, lease, readonly, connect)
            try:
                await journal._prepare(auth_id, base_url, create=create)
            except psycopg.OperationalError as exc:  # the connection broke: a new one
                await connection.close()
                if pause is None:
                    raise JournalError(
                        name, f"journal {name} cannot be used: {_said(exc, url)}"
                    ) from None
                _log.warning("journal %s: %s; opening it again", name, _said(exc, url))
                await anyio.sleep(pause)
                continue
            except psycopg.Error as exc:
                await connection.close()
                raise JournalError(
                    name, f"journal {name} cannot be used: {_said(exc, url)}"
                ) from None
            except BaseException:
                await connection.close()
                raise
            return journal
        raise AssertionError("unreachable")  # pragma: no cover

    async def _prepare(self, auth_id: str | None, base_url: str | None, *, create: bool) -> None:
        db = self._db
        async with db.transaction():
            if not self.readonly:
                # Two runners starting together must not both create the tables.
                await db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._jobs,))
            cursor = await db.execute(
                "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
                (self._jobs, self._meta),
            )
            row = await cursor.fetchone()
            assert row is not None
            jobs_exist, meta_exists = row
            if jobs_exist != meta_exists:
                raise JournalError(
                    self.name,
                    f"{self.name}: table {self._jobs} or "
                    f"{self._meta} exists without the other: not a "
                    f"plivo-phlo journal",
                )
            self._exists = bool(jobs_exist)
            if not self._exists:
                if not create:
                    raise JournalError(
                        self.name,
                        f"no journal at {self.name} (no table {self._jobs})",
                        missing=True,
                    )
                if self.readonly:
                    return
                await self._create()
                self._exists = True
            meta = await self._read_meta()
            schema = meta.get("schema")
            if schema != str(SCHEMA_VERSION):
                if schema is not None and schema.isdigit() and int(schema) > SCHEMA_VERSION:
                    raise JournalError(
                        self.name,
                        f"journal {self.name} was written by a newer version "
                        f"(schema {schema}); this version reads schema {SCHEMA_VERSION}",
                    )
                raise JournalError(
                    self.name, f"{self.name} is not a plivo-phlo journal (schema {schema!r})"
                )
            check_identity(self.name, meta, auth_id, base_url)
            if self.readonly:
                return
            for key, value in (("auth_id", auth_id), ("base_url", base_url)):
                if value is not None and key not in meta:
                    await db.execute(
                        f"INSERT INTO {self._meta} VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        (key, value),
                    )

    async def _create(self) -> None:
        db = self._db
        await db.execute(
            f"CREATE TABLE {self._jobs} (job_id text PRIMARY KEY, status text NOT NULL, "
            "run_token text NOT NULL, ref text, http_status bigint, api_id text, "
            "attempts bigint NOT NULL DEFAULT 0, error text, updated_at float8 NOT NULL, "
            "url text, payload text, note text, lease_until float8, prior text)"
        )
        await db.execute(f"CREATE INDEX {self._jobs}_status ON {self._jobs} (status)")
        await db.execute(f"CREATE TABLE {self._meta} (key text PRIMARY KEY, value text NOT NULL)")
        await db.execute(f"INSERT INTO {self._meta} VALUES ('schema', %s)", (str(SCHEMA_VERSION),))

    async def _read_meta(self) -> dict[str, str]:
        cursor = await self._db.execute(f"SELECT key, value FROM {self._meta}")
        return {str(key): str(value) for key, value in await cursor.fetchall()}

    # -- the runner's ----------------------------------------------------------------
    async def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim:
        key = _pg(text(job_id))
        assert key is not None
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
        cursor = await db.execute(
            f"INSERT INTO {self._jobs} (job_id, status, run_token, ref, attempts, "
            f"updated_at, lease_until) VALUES (%s, %s, %s, %s, 0, {_NOW}, "
            f"{_NOW} + %s) ON CONFLICT (job_id) DO NOTHING RETURNING job_id",
            (key, CLAIMED, self.run_token, _pg(ref_text(ref)), self.lease),
        )
        if await cursor.fetchone() is not None:
            return Claim("claimed")
        cursor = await db.execute(
            f"SELECT {_COLUMNS}, prior, {_NOW} FROM {self._jobs} WHERE job_id=%s FOR UPDATE",
            (key,),
        )
        found = await cursor.fetchone()
        assert found is not None  # rows are only deleted by their owner
        row = JournalEntry(*found[:-2])
        claim, write = decide(
            row, self.run_token, float(found[-1]), retry_failed, found[-2], in_doubt
        )
        if write == "take":
            await db.execute(
                f"UPDATE {self._jobs} SET prior=CASE WHEN status=%s THEN prior "
                f"ELSE status END, status=%s, run_token=%s, ref=%s, "
                f"lease_until={_NOW} + %s WHERE job_id=%s",
                (CLAIMED, CLAIMED, self.run_token, _pg(ref_text(ref)), self.lease, key),
            )
        elif write == "adopt":
            await db.execute(
                f"UPDATE {self._jobs} SET run_token=%s, status=%s, "
                "lease_until=NULL, prior=NULL WHERE job_id=%s",
                (self.run_token, claim.status, key),
            )
        return claim

    async def get(self, job_id: str) -> JournalEntry | None:
        return await self._run(
            "read",
            job_id,
            f"SELECT {_COLUMNS} FROM {self._jobs} WHERE job_id=%s",
            (_pg(text(job_id)),),
        )

    async def start(self, job_id: str, ref: Any, *, url: str | None, payload: bytes | None) -> bool:
        changed = await self._write(
            "record the start of",
            job_id,
            f"UPDATE {self._jobs} SET status=%s, ref=%s, http_status=NULL, api_id=NULL, "
            f"attempts=0, error=NULL, updated_at={_NOW}, url=%s, payload=%s, note=NULL, "
            f"prior=NULL, lease_until={_NOW} + %s WHERE job_id=%s AND run_token=%s "
            "AND status IN (%s, %s)",
            (
                IN_FLIGHT,
                _pg(ref_text(ref)),
                _pg(optional_text(url)),
                _pg(body_text(payload)),
                self.lease,
                _pg(text(job_id)),
                self.run_token,
                CLAIMED,
                IN_FLIGHT,  # its own start, tried again after a broken connection
            ),
        )
        return changed == 1

    async def unsent(self, job_id: str) -> None:
        await self._write(
            "record the failed sending of",
            job_id,
            f"UPDATE {self._jobs} SET status=%s, lease_until={_NOW} + %s "
            "WHERE job_id=%s AND run_token=%s AND status=%s",
            (CLAIMED, self.lease, _pg(text(job_id)), self.run_token, IN_FLIGHT),
        )

    async def release(self, job_id: str) -> None:
        key = _pg(text(job_id))
        await self._write(
            "release",
            job_id,
            f"DELETE FROM {self._jobs} WHERE job_id=%s AND run_token=%s AND status=%s "
            "AND prior IS NULL",
            (key, self.run_token, CLAIMED),
        )
        await self._write(
            "release",
            job_id,
            f"UPDATE {self._jobs} SET status=prior, prior=NULL, lease_until=NULL "
            "WHERE job_id=%s AND run_token=%s AND status=%s",
            (key, self.run_token, CLAIMED),
        )
        self.held.discard(key or "")

    async def finish(
        self,
        job_id: str,
        status: str,
        *,
        ref: Any,
        http_status: int | None,
        api_id: str | None,
        attempts: int,
        error: str | None,
    ) -> None:
        key = _pg(text(job_id))
        await self._write(
            "record the outcome of",
            job_id,
            f"INSERT INTO {self._jobs} (job_id, status, run_token, ref, http_status, api_id, "
            f"attempts, error, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {_NOW}) "
            "ON CONFLICT (job_id) DO UPDATE SET status=excluded.status, "
            "run_token=excluded.run_token, ref=excluded.ref, "
            "http_status=excluded.http_status, api_id=excluded.api_id, "
            "attempts=excluded.attempts, error=excluded.error, "
            "updated_at=excluded.updated_at, note=NULL, lease_until=NULL, prior=NULL",
            (
                key,
                status,
                self.run_token,
                _pg(ref_text(ref)),
                int64(http_status),
                _pg(optional_text(api_id)),
                int64(attempts),
                _pg(optional_text(error)),
            ),
        )
        self.held.discard(key or "")

    async def renew(self) -> None:
        held = list(self.held)
        if held:
            await self._write(
                "renew the claims of",
                f"{len(held)} jobs",
                f"UPDATE {self._jobs} SET lease_until={_NOW} + %s WHERE job_id = ANY(%s) "
                "AND run_token=%s AND status IN (%s, %s)",
                (self.lease, held, self.run_token, CLAIMED, IN_FLIGHT),
            )

    # -- the operator's ------------------------------------------------------------------
    async def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        import psycopg

        if not self._exists:
            return []
        query = f"SELECT {_COLUMNS} FROM {self._jobs}"
        args: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status = ANY(%s)"
            args = ([status] if isinstance(status, str) else list(status),)

        async def attempt() -> list[JournalEntry]:
            async with self._connection() as db:
                cursor = await db.execute(query + " ORDER BY updated_at, job_id", args)
                return [JournalEntry(*row) for row in await cursor.fetchall()]

        try:
            return await self._retrying(None, "", attempt)
        except psycopg.Error as exc:
            raise JournalError(
                self.name, f"journal {self.name} cannot be read: {_said(exc)}"
            ) from None

    async def counts(self) -> dict[str, int]:
        import psycopg

        if not self._exists:
            return {}

        async def attempt() -> dict[str, int]:
            async with self._connection() as db:
                cursor = await db.execute(
                    f"SELECT status, count(*) FROM {self._jobs} GROUP BY status"
                )
                return {str(status): int(count) for status, count in await cursor.fetchall()}

        try:
            return await self._retrying(None, "", attempt)
        except psycopg.Error as exc:
            raise JournalError(
                self.name, f"journal {self.name} cannot be read: {_said(exc)}"
            ) from None

    async def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
        import psycopg

        ids = list(dict.fromkeys(job_ids))
        keys = [_pg(job_id) for job_id in ids]
        try:
            async with self._connection() as db, db.transaction():
                cursor = await db.execute(
                    f"SELECT job_id, status, lease_until, {_NOW} FROM {self._jobs} "
                    "WHERE job_id = ANY(%s) FOR UPDATE",
                    (keys,),
                )
                rows = await cursor.fetchall()
                found = {str(job_id): (str(value), lease) for job_id, value, lease, _ in rows}
                unresolved_problems(self.name, found, ids, float(rows[0][3]) if rows else 0.0)
                await db.execute(
                    f"UPDATE {self._jobs} SET status=%s, note=%s, updated_at={_NOW}, "
                    "lease_until=NULL WHERE job_id = ANY(%s)",
                    (status, _pg(note), keys),
                )
        except psycopg.Error as exc:
            raise JournalError(
                self.name, f"journal {self.name}: cannot update: {_said(exc)}"
            ) from None
        return ids

    async def aclose(self) -> None:
        """Release the claims this run still holds, then disconnect."""
        import psycopg

        async def leave() -> None:
            async with self._connection() as db, db.transaction():
                await db.execute(
                    f"DELETE FROM {self._jobs} WHERE run_token=%s AND status=%s AND prior IS NULL",
                    (self.run_token, CLAIMED),
                )
                await db.execute(
                    f"UPDATE {self._jobs} SET status=prior, prior=NULL, "
                    "lease_until=NULL WHERE run_token=%s AND status=%s",
                    (self.run_token, CLAIMED),
                )
                # Its jobs in flight have no owner any more: unknown at once.
                await db.execute(
                    f"UPDATE {self._jobs} SET lease_until=NULL WHERE run_token=%s AND status=%s",
                    (self.run_token, IN_FLIGHT),
                )

        try:
            if not self.readonly and self._exists:
                with anyio.CancelScope(shield=True):
                    await self._retrying(None, "", leave)
        except psycopg.Error as exc:
            raise JournalError(
                self.name, f"journal {self.name} could not be closed cleanly: {_said(exc)}"
            ) from None
        finally:
            with anyio.CancelScope(shield=True):
                for connection in self._opened:
                    await connection.close()

    async def transact(self, work: Callable[[Sql], Awaitable[_T]], *, write: bool = True) -> _T:
        import psycopg

        async def attempt() -> _T:
            async with self._connection() as db, db.transaction():
                return await work(_Statements(db, self.dialect))

        try:
            return await self._retrying(None, "", attempt)
        except psycopg.Error as exc:
            raise JournalError(self.name, f"journal {self.name}: {_said(exc)}") from None

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
                if broken or db.info.transaction_status != 0:  # not idle: drop it
                    self._opened.remove(db)
                    with anyio.CancelScope(shield=True):
                        await db.close()
                    if broken:  # the idle ones were likely cut off with it
                        await self._drop_idle()
                    raise
                self._free.append(db)
                raise
            self._free.append(db)

    async def _drop_idle(self) -> None:
        idle, self._free = self._free, []
        with anyio.CancelScope(shield=True):
            for db in idle:
                self._opened.remove(db)
                await db.close()

    async def _retrying(
        self, what: str | None, job_id: str, attempt: Callable[[], Awaitable[_T]]
    ) -> _T:
        """``attempt()``, tried again on a new connection while the database
        cannot be reached (every operation here is idempotent). ``what``:
        raise a JournalError naming the job; None: let psycopg's error out."""
        import psycopg

        for pause in (*RECONNECT_PAUSES, None):
            try:
                return await attempt()
            except psycopg.OperationalError as exc:
                if pause is None:
                    if what is None:
                        raise
                    raise self._failure(what, job_id, exc) from None
                _log.warning(
                    "journal %s: %s; trying again on a new connection", self.name, _said(exc)
                )
                await anyio.sleep(pause)
            except psycopg.Error as exc:
                if what is None:
                    raise
                raise self._failure(what, job_id, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write(self, what: str, job_id: str, sql: str, args: tuple[Any, ...]) -> int:
        async def attempt() -> int:
            async with self._connection() as db:
                cursor = await db.execute(sql, args)
                return cursor.rowcount

        return await self._retrying(what, job_id, attempt)

    async def _run(
        self, what: str, job_id: str, sql: str, args: tuple[Any, ...]
    ) -> JournalEntry | None:
        async def attempt() -> tuple[Any, ...] | None:
            async with self._connection() as db:
                cursor = await db.execute(sql, args)
                return await cursor.fetchone()

        row = await self._retrying(what, job_id, attempt)
        return None if row is None else JournalEntry(*row)

    def _failure(self, what: str, job_id: str, exc: Exception) -> JournalError:
        return JournalError(
            self.name,
            f"journal {self.name}: could not {what} job {safe_str(job_id)}: "
            f"{type(exc).__name__}: {_said(exc)}",
        )


class _Statements:
    """:class:`~._manifest.Sql` over one psycopg connection in a transaction."""

    def __init__(self, db: psycopg.AsyncConnection[Any], dialect: Dialect) -> None:
        self._db = db
        self.dialect = dialect

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Never prepared: a plan made while the manifest's table was empty
        # (a sequential scan) made a 100,000-job manifest quadratic.
        cursor = await self._db.execute(
            self.dialect.render(sql), tuple(_pg_args(args)), prepare=False
        )
        return list(await cursor.fetchall())

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        await self._db.execute(self.dialect.render(sql), tuple(_pg_args(args)), prepare=False)

    async def table_exists(self, name: str) -> bool:
        cursor = await self._db.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (self.dialect.tables[name],)
        )
        row = await cursor.fetchone()
        return bool(row and row[0])


def _pg_args(args: Sequence[Any]) -> list[Any]:
    return [_pg(value) if isinstance(value, str) else value for value in args]


def _said(exc: Exception, url: str | None = None) -> str:
    """The driver's message on one line, never with the URL's password."""
    message = " ".join(str(exc).split())
    if url is not None:
        password = urlsplit(url).password
        if password:
            message = message.replace(password, "***")
    return message
