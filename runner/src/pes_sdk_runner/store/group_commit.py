"""Group commit for the SQLite store (opt-in): many durable commits share one fsync.

Why: with ``synchronous=FULL`` every commit syncs the WAL itself, one fsync per commit,
while the store's lock (and often the caller's) is held, so concurrent writers queue up
behind each other's fsyncs. With group commit the connection commits with
``synchronous=NORMAL`` (the WAL is written, not synced) and the commit is then made
durable by an fsync of the WAL file. One fsync covers every commit written before it
began, so writers that wait at the same time share it.

**Durability.** A commit counts as durable only once an fsync of the WAL that *began after
the commit returned* has finished (each commit takes a ticket when it returns; an fsync
makes durable exactly the tickets issued before it began). By default the store waits for
that in every write method before returning, so for its callers nothing changes but the
sharing. Inside :meth:`GroupCommit.deferred` (``SqliteStore.deferred_durability()``) the
current thread's waits are put off to the end of the block, where one wait covers them
all: a caller that holds a lock of its own around its commits (the payment processor
does) then waits after releasing it, and other threads' commits join the same fsync. The
caller must answer (acknowledge) only after the block has ended.

Why an fsync of the ``-wal`` file is enough: in WAL mode a transaction is on disk once the
frames it wrote to the WAL before COMMIT returned are, and ``fsync`` flushes every written
page of a file whichever descriptor wrote it. At ``synchronous=NORMAL`` SQLite syncs the
WAL and the database itself around each checkpoint, before WAL frames are reused. The WAL
file is reopened if it was replaced (checked by inode before each fsync).

Other connections see a commit as soon as it returns, before it is durable: a reader may
see a state that a power cut would undo. The acknowledgement that matters (a webhook's
``200``) waits.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from pes_sdk_runner.store.dialect import SqliteDialect

__all__ = ["GroupCommit", "GroupCommitDialect"]


class GroupCommitDialect(SqliteDialect):
    """SQLite with ``synchronous=NORMAL``: commits are synced by a :class:`GroupCommit`."""

    def connect(self) -> sqlite3.Connection:
        conn = super().connect()
        conn.execute("PRAGMA synchronous = NORMAL")  # the group's fsync makes commits durable
        return conn


class _Deferral(threading.local):
    depth = 0
    owed = 0  #: the highest ticket this thread has not yet waited for
    last = 0  #: the ticket of this thread's most recent commit


class GroupCommit:
    """Shared fsyncs of one SQLite WAL file, handed out by ticket.

    :param wal_path: the database's ``-wal`` file (it must exist: open the database in
        WAL mode and make one commit first).
    :param fsync: the function that syncs a file descriptor (``os.fsync``).
    """

    def __init__(self, wal_path: Path | str, *, fsync: Callable[[int], None] = os.fsync) -> None:
        self.path = Path(wal_path)
        self._fsync = fsync
        self._fd = os.open(self.path, os.O_RDONLY)
        self._cond = threading.Condition()
        self._issued = 0
        self._durable = 0
        self._syncing = False
        self._syncs = 0
        self._closed = False
        self._local = _Deferral()

    @property
    def issued(self) -> int:
        """Tickets handed out so far: commits that have returned."""
        with self._cond:
            return self._issued

    @property
    def durable(self) -> int:
        """Every ticket up to this one is on disk."""
        with self._cond:
            return self._durable

    @property
    def syncs(self) -> int:
        """fsyncs made so far."""
        with self._cond:
            return self._syncs

    def last_ticket(self) -> int:
        """The ticket of the current thread's most recent commit (0 if none)."""
        return self._local.last

    def committed(self) -> int:
        """Record a commit that has just returned; wait for it unless deferred. Its ticket."""
        with self._cond:
            self._issued += 1
            ticket = self._issued
        local = self._local
        local.last = ticket
        if local.depth:
            local.owed = max(local.owed, ticket)
        else:
            self.wait(ticket)
        return ticket

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Put off this thread's waits to the end of the block (also when it raises).

        Nested blocks wait once, at the end of the outermost.
        """
        local = self._local
        local.depth += 1
        try:
            yield
        finally:
            local.depth -= 1
            if not local.depth and local.owed:
                owed, local.owed = local.owed, 0
                self.wait(owed)

    def wait(self, ticket: int) -> None:
        """Return once ``ticket`` is durable: join an fsync that began after it, or make one.

        Whoever finds no fsync under way makes the next one for everybody waiting
        (leader and followers); an fsync error is raised to its maker, and a follower then
        tries again itself.
        """
        with self._cond:
            while True:
                if self._durable >= ticket:
                    return
                if self._closed:
                    raise OSError(f"group commit of {self.path} is closed")
                if not self._syncing:
                    self._syncing = True
                    target = self._issued  # every ticket issued before the fsync begins
                    break
                self._cond.wait()
        synced = False
        try:
            self._sync()
            synced = True
        finally:
            with self._cond:
                self._syncing = False
                if synced:
                    self._durable = max(self._durable, target)
                    self._syncs += 1
                self._cond.notify_all()

    def _sync(self) -> None:
        try:
            replaced = os.fstat(self._fd).st_ino != os.stat(self.path).st_ino
        except FileNotFoundError:
            replaced = False  # removed at a checkpoint on close: what it held is in the database
        if replaced:
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDONLY)
        self._fsync(self._fd)

    def close(self) -> None:
        """Stop: waiting threads get an error; the descriptor is closed."""
        with self._cond:
            while self._syncing:  # never close the descriptor under a running fsync
                self._cond.wait()
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            os.close(self._fd)
