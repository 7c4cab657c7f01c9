"""The runner's store: one interface (:class:`Store`), SQLite by default, PostgreSQL too.

>>> store = open_store("sqlite:///runner.db")  # doctest: +SKIP
"""

from __future__ import annotations

from pes_sdk_runner.store.base import (
    Acceptance,
    DebtRegistryInfo,
    DeliveryInfo,
    DeliveryStatus,
    IngestResult,
    LedgerEntry,
    LedgerKind,
    LedgerTotals,
    PaymentRegistryInfo,
    RegistryOutcome,
    ServiceBalance,
    Store,
)
from pes_sdk_runner.store.errors import MigrationError, RegistryConflict, SchemaTooNew, StoreError
from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "Acceptance",
    "DebtRegistryInfo",
    "DeliveryInfo",
    "DeliveryStatus",
    "IngestResult",
    "LedgerEntry",
    "LedgerKind",
    "LedgerTotals",
    "MigrationError",
    "PaymentRegistryInfo",
    "RegistryConflict",
    "RegistryOutcome",
    "SchemaTooNew",
    "ServiceBalance",
    "SqlStore",
    "Store",
    "StoreError",
    "open_store",
]

DEFAULT_URL = "sqlite:///pes-runner.db"


def open_store(url: str = DEFAULT_URL, *, migrate: bool = True) -> SqlStore:
    """Open the store at ``url`` (``sqlite:///file.db`` or ``postgresql://…``) and migrate it."""
    if url.startswith(("postgresql://", "postgres://")):
        from pes_sdk_runner.store.postgres import PostgresStore

        return PostgresStore(url, migrate=migrate)
    from pes_sdk_runner.store.sqlite import SqliteStore

    return SqliteStore(url, migrate=migrate)
