"""The default store: one SQLite file (stdlib ``sqlite3``, WAL, ``synchronous=FULL``)."""

from __future__ import annotations

from pathlib import Path

from pes_sdk_runner.store.dialect import SqliteDialect
from pes_sdk_runner.store.sql import SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    """A store in a SQLite file: ``SqliteStore("sqlite:///var/pes/runner.db")``."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        super().__init__(SqliteDialect(url), migrate=migrate)

    @classmethod
    def at(cls, path: Path | str, *, migrate: bool = True) -> SqliteStore:
        """A store in the file at ``path``."""
        return cls(f"sqlite:///{path}", migrate=migrate)
