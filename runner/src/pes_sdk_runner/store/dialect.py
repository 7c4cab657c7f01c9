"""Every difference between SQLite and PostgreSQL, in one place.

The store's SQL is written once, with ``?`` placeholders and the column-type tokens of the
migration files; a :class:`Dialect` turns it into what its database runs and owns the few
operations that differ: connecting, starting a write transaction, timestamps in and out,
locks, running a migration script, and bulk inserts.
"""

from __future__ import annotations

import abc
import datetime as dt
import fcntl
import os
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any, ClassVar

from pes_sdk_runner.store.errors import StoreError, StoreUnavailable

__all__ = ["CONNECT_TIMEOUT", "Dialect", "PostgresDialect", "SqliteDialect", "dialect_for"]

#: Seconds a new PostgreSQL connection may take to be established, unless the store's URL
#: sets its own (``?connect_timeout=5``, libpq's parameter). Without one a connect to a
#: server that accepts the TCP connection and never answers (a host half-dead in a
#: failover, a black-holed address) would hang the calling thread for good.
CONNECT_TIMEOUT = 10

_BLOCK = re.compile(r"^-- @(\w+):begin\n(.*?)^-- @\1:end\n", re.M | re.S)


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"a timestamp must carry a time zone, not {value!r}")
    return value.astimezone(dt.UTC)


class Dialect(abc.ABC):
    """One database's way of running the store's SQL."""

    name: str
    #: column-type tokens of the migration files
    types: ClassVar[dict[str, str]]
    #: the exceptions of a broken constraint (unique, check, trigger)
    integrity_errors: tuple[type[Exception], ...]
    #: what ends a ``SELECT`` that locks the rows it reads until the transaction ends, so
    #: that their other writers, in any process, wait ("" where the write transaction
    #: already excludes every other writer)
    row_lock: ClassVar[str] = ""

    def __init__(self, url: str) -> None:
        self.url = url

    @abc.abstractmethod
    def connect(self) -> Any:
        """A new connection in autocommit mode (transactions are begun explicitly)."""

    def sql(self, query: str) -> str:
        """The query with this database's placeholders."""
        return query

    @abc.abstractmethod
    def begin(self, cur: Any) -> None:
        """Start a write transaction."""

    @abc.abstractmethod
    def ts_in(self, value: dt.datetime) -> Any:
        """A timestamp as a query parameter."""

    @abc.abstractmethod
    def ts_out(self, value: Any) -> dt.datetime:
        """A timestamp read back, as an aware UTC datetime."""

    def after_bulk_load(self, cur: Any, table: str) -> None:  # noqa: B027 - optional hook
        """Bring the planner's statistics of ``table`` up to date after many rows came in."""

    def lock_key(self, cur: Any, key: str) -> None:  # noqa: B027 - optional hook
        """Serialise writers on ``key`` until the transaction ends (no-op where the write
        transaction already excludes every other writer)."""

    @abc.abstractmethod
    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """Hold a lock on ``key`` that every process on this database, and every thread of
        each, respects while the block runs; a process that dies holding it loses it. It is
        not a transaction: the block may take its time (an acquirer's answer) without
        holding writers up."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Close what the dialect keeps open besides the store's connection."""

    def migration_sql(self, text: str) -> str:
        """A migration file for this database: its blocks chosen, its tokens replaced."""

        def keep(m: re.Match[str]) -> str:
            return m.group(2) if m.group(1) == self.name else ""

        text = _BLOCK.sub(keep, text)
        for token, typ in self.types.items():
            text = text.replace(f"@{token}@", typ)
        return text

    @abc.abstractmethod
    def run_script(self, cur: Any, script: str) -> None:
        """Run a migration script inside the current transaction."""

    @abc.abstractmethod
    def bulk_insert(
        self, cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert many rows in the current transaction, the fastest way the database has."""


class SqliteDialect(Dialect):
    """stdlib sqlite3: WAL, ``synchronous=FULL``, foreign keys on, a busy timeout."""

    name = "sqlite"
    types: ClassVar[dict[str, str]] = {
        "ID": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "TS": "TEXT",
        "MONEY": "INTEGER",
        "BLOB": "BLOB",
    }
    integrity_errors = (sqlite3.IntegrityError,)
    busy_timeout_ms = 30_000

    def __init__(self, url: str) -> None:
        super().__init__(url)
        if not url.startswith("sqlite:///"):
            raise StoreError(f"not a SQLite URL (sqlite:///path/to/file.db): {url!r}")
        self.path = url[len("sqlite:///") :]
        if not self.path:
            raise StoreError(f"the SQLite URL names no file: {url!r}")

    def connect(self) -> sqlite3.Connection:
        # isolation_level=None: the module issues no BEGIN of its own; we begin explicitly.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        self._wal(conn)
        conn.execute("PRAGMA synchronous = FULL")  # a commit survives a power cut
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode (once: the mode is kept in the file).

        Switching the mode needs the file to itself, and SQLite answers "database is
        locked" at once, without waiting out the busy timeout, while another connection
        holds it: several runners opening a new file together (one migrating it) met
        that. A file already in WAL mode needs no switch; a new one is tried again, within
        the busy timeout."""
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def begin(self, cur: Any) -> None:
        # IMMEDIATE takes the write lock now: two writers wait for each other (busy
        # timeout) instead of failing at their first write with a deadlock error.
        cur.execute("BEGIN IMMEDIATE")

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        # A byte-range lock of the file beside the database, one byte per key's hash: the
        # kernel drops it with the process. One descriptor per file for the process's
        # lifetime: closing any descriptor of a file drops every lock the process has on it.
        # The kernel's lock belongs to the process, so a second thread would "take" it at
        # once (and drop it under the first): the process's threads take turns first, per
        # byte (two keys of one hash share their byte's lock in the process as well).
        path = f"{self.path}-locks"
        fd = _lock_file(path)
        offset = zlib.crc32(key.encode())
        with _THREAD_LOCKS.hold((path, offset)):
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, offset)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)

    def ts_in(self, value: dt.datetime) -> str:
        # One fixed width, so that timestamps compare correctly as text.
        return _aware(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")

    def ts_out(self, value: Any) -> dt.datetime:
        return dt.datetime.fromisoformat(value)

    def run_script(self, cur: Any, script: str) -> None:
        # executescript would COMMIT first; split into statements (triggers included).
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                cur.execute(statement)
                statement = ""
        if statement.strip() and not all(
            ln.strip().startswith("--") or not ln.strip() for ln in statement.splitlines()
        ):
            raise StoreError(f"incomplete SQL statement at the end of a migration: {statement!r}")

    def bulk_insert(
        self, cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        marks = ", ".join("?" for _ in columns)
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class PostgresDialect(Dialect):
    """psycopg 3 (the ``postgres`` extra); the session runs in UTC."""

    name = "postgresql"
    types: ClassVar[dict[str, str]] = {
        "ID": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "TS": "TIMESTAMPTZ",
        "MONEY": "BIGINT",
        "BLOB": "BYTEA",
    }
    # NO KEY: rows that only refer to a locked row (a payment's lines, its refund requests)
    # are not held up.
    row_lock: ClassVar[str] = " FOR NO KEY UPDATE"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        try:
            import psycopg
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise StoreError(
                "PostgreSQL needs psycopg 3, the runner's 'postgres' extra: "
                "pip install 'psycopg[binary]>=3.1'"
            ) from None
        self._psycopg = psycopg
        self.integrity_errors = (psycopg.IntegrityError,)
        #: idle sessions for :meth:`exclusive`, each holding no lock
        self._lock_sessions: list[Any] = []
        self._lock_sessions_guard = threading.Lock()
        try:
            given = "connect_timeout" in psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:  # not a URL libpq can read
            raise StoreError(f"store URL: {exc}") from None
        self._connect_options: dict[str, Any] = (
            {} if given else {"connect_timeout": CONNECT_TIMEOUT}
        )

    def connect(self) -> Any:
        """A new session, or :class:`StoreUnavailable` when the server refuses it, is
        starting or stopping, or does not answer within the connect timeout."""
        try:
            conn = self._psycopg.connect(self.url, autocommit=True, **self._connect_options)
        except self._psycopg.OperationalError as exc:
            # libpq's reason names the host and port, never the password.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"the store's PostgreSQL server: {reason}") from exc
        try:
            conn.execute("SET TIME ZONE 'UTC'")
        except self._psycopg.OperationalError as exc:
            conn.close()
            raise StoreUnavailable(
                f"the store's PostgreSQL server dropped a new session ({type(exc).__name__})"
            ) from exc
        return conn

    def sql(self, query: str) -> str:
        return _percent(query)

    def begin(self, cur: Any) -> None:
        cur.execute("BEGIN")

    def ts_in(self, value: dt.datetime) -> dt.datetime:
        return _aware(value)

    def ts_out(self, value: Any) -> dt.datetime:
        assert isinstance(value, dt.datetime)
        return value.astimezone(dt.UTC)

    def after_bulk_load(self, cur: Any, table: str) -> None:
        # Until autovacuum's ANALYZE comes round (up to a minute), an address look-up
        # after a large ingest took 9 ms instead of 0.2 ms: the planner, without the new
        # rows' statistics, intersected the address index with the registry's rows
        # (docs/performance.md). SQLite's planner does not need it for these indexes.
        cur.execute(f"ANALYZE {table}")

    def lock_key(self, cur: Any, key: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        # A session advisory lock on a connection of its own, outside any transaction:
        # unlocking, closing the connection or the process dying releases it. The session
        # is kept for the next lock: a new one cost ~10 ms, 300 partners' closes 3 s.
        conn = self._locked_session(key)
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
            except Exception:
                conn.close()  # its end releases the lock
            else:
                with self._lock_sessions_guard:
                    if len(self._lock_sessions) < _IDLE_LOCK_SESSIONS:
                        self._lock_sessions.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()

    def _locked_session(self, key: str) -> Any:
        """A session (kept, or new) that holds the lock on ``key``."""
        while True:
            with self._lock_sessions_guard:
                kept = self._lock_sessions.pop() if self._lock_sessions else None
            conn = kept if kept is not None else self.connect()
            try:
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            except self._psycopg.OperationalError as exc:
                lost = bool(conn.broken)
                conn.close()
                if kept is None:
                    if lost:  # ended as soon as opened: the server is going away
                        raise StoreUnavailable(
                            f"the store's PostgreSQL server ended a new session"
                            f" ({type(exc).__name__})"
                        ) from exc
                    raise
                continue  # a kept session the server dropped (a restart): take a new one
            except BaseException:
                conn.close()  # interrupted while waiting: the lock may be granted to it
                raise
            return conn

    def close(self) -> None:
        with self._lock_sessions_guard:
            idle, self._lock_sessions = self._lock_sessions, []
        for conn in idle:
            conn.close()

    def run_script(self, cur: Any, script: str) -> None:
        # Without parameters the simple protocol runs many statements (and $$ bodies).
        cur.execute(script)

    def bulk_insert(
        self, cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


#: Idle sessions a PostgreSQL store keeps for :meth:`PostgresDialect.exclusive`.
_IDLE_LOCK_SESSIONS = 4

_LOCK_FILES: dict[str, int] = {}
_LOCK_FILES_GUARD = threading.Lock()


class _KeyLocks:
    """One thread lock per key while some thread wants it (kept only that long: the keys,
    e.g. one per refunded payment, are not bounded)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[object, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def hold(self, key: object) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if not users[0]:
                    del self._locks[key]


_THREAD_LOCKS = _KeyLocks()


def _lock_file(path: str) -> int:
    """The process's one descriptor of a lock file (opened, and created, once)."""
    with _LOCK_FILES_GUARD:
        fd = _LOCK_FILES.get(path)
        if fd is None:
            fd = _LOCK_FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return fd


@lru_cache(maxsize=256)
def _percent(query: str) -> str:
    # The store's SQL has no literal ``?`` or ``%``: every ``?`` is a placeholder.
    return query.replace("?", "%s")


def dialect_for(url: str) -> Dialect:
    """The dialect of a store URL: ``sqlite:///…`` or ``postgresql://…``."""
    if url.startswith("sqlite:"):
        return SqliteDialect(url)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDialect(url)
    raise StoreError(f"unknown store URL {url!r}: use sqlite:///path or postgresql://…")
