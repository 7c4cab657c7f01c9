"""The PostgreSQL store (psycopg 3; install ``pes-sdk-runner[postgres]``)."""

from __future__ import annotations

from pes_sdk_runner.store.dialect import PostgresDialect
from pes_sdk_runner.store.sql import SqlStore

__all__ = ["PostgresStore"]


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database: ``PostgresStore("postgresql://u@host/db")``.

    The schema goes where the connection's ``search_path`` points (``?options=-csearch_path%3Dx``
    in the URL selects a schema).
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        super().__init__(PostgresDialect(url), migrate=migrate)
