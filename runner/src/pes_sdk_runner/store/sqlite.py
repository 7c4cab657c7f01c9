"""The default store: one SQLite file (stdlib ``sqlite3``, WAL, ``synchronous=FULL``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pes_sdk_runner.store.dialect import SqliteDialect
from pes_sdk_runner.store.group_commit import GroupCommit, GroupCommitDialect
from pes_sdk_runner.store.sql import SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    """A store in a SQLite file: ``SqliteStore("sqlite:///var/pes/runner.db")``.

    ``group_commit=True`` (opt-in) makes concurrent commits share fsyncs, durability kept:
    see :mod:`pes_sdk_runner.store.group_commit` and :meth:`deferred_durability`.
    """

    def __init__(self, url: str, *, migrate: bool = True, group_commit: bool = False) -> None:
        self._group: GroupCommit | None = None
        dialect = GroupCommitDialect(url) if group_commit else SqliteDialect(url)
        super().__init__(dialect, migrate=migrate)
        # -- group commit hook -------------------------------------------------------------
        if group_commit:
            with self._tx():
                pass  # the WAL file exists once a write transaction has run
            self._group = GroupCommit(f"{dialect.path}-wal")
            self._group.committed()  # what the migration wrote is synced before any use

    @classmethod
    def at(cls, path: Path | str, *, migrate: bool = True) -> SqliteStore:
        """A store in the file at ``path``."""
        return cls(f"sqlite:///{path}", migrate=migrate)

    @property
    def group_commit(self) -> GroupCommit | None:
        """The shared fsyncs of a store opened with ``group_commit=True``."""
        return self._group

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:  # no other thread in a transaction: a depth is this thread's
            nested = self._depth > 0
            with super()._tx() as cur:
                yield cur
        if self._group is not None and not nested:
            self._group.committed()  # after COMMIT returned: durable before we return

    def deferred_durability(self) -> AbstractContextManager[None]:
        """Wait for this thread's commits at the end of the block, not in each write.

        For a caller that commits under a lock of its own: enter the block before taking
        the lock, and acknowledge only after the block has ended (it returns when every
        commit made in it is on disk). Without group commit, commits are durable when they
        return and the block does nothing.
        """
        if self._group is None:
            return contextlib.nullcontext()
        return self._group.deferred()

    def close(self) -> None:
        super().close()
        if self._group is not None:
            self._group.close()
