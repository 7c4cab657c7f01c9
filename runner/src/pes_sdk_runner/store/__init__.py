"""The runner's store: one interface (:class:`Store`), SQLite by default, PostgreSQL too.

>>> store = open_store("sqlite:///runner.db")  # doctest: +SKIP
"""

from __future__ import annotations

from pes_sdk_runner.store.base import (
    Acceptance,
    DebtRegistryInfo,
    DecreaseReason,
    DeliveryInfo,
    DeliveryStatus,
    House,
    IngestResult,
    Lease,
    LedgerEntry,
    LedgerKind,
    LedgerTotals,
    PaymentRegistryInfo,
    ProcessBeat,
    RefundClaim,
    RegistryOutcome,
    ServiceBalance,
    Store,
    StoredReading,
)
from pes_sdk_runner.store.errors import (
    MigrationError,
    ReadingRefused,
    RegistryConflict,
    RegistryOutOfOrder,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
)
from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "Acceptance",
    "DebtRegistryInfo",
    "DecreaseReason",
    "DeliveryInfo",
    "DeliveryStatus",
    "House",
    "IngestResult",
    "Lease",
    "LedgerEntry",
    "LedgerKind",
    "LedgerTotals",
    "MigrationError",
    "PaymentRegistryInfo",
    "ProcessBeat",
    "ReadingRefused",
    "RefundClaim",
    "RegistryConflict",
    "RegistryOutOfOrder",
    "RegistryOutcome",
    "SchemaTooNew",
    "ServiceBalance",
    "SqlStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredReading",
    "open_store",
]

DEFAULT_URL = "sqlite:///pes-runner.db"


def open_store(
    url: str = DEFAULT_URL, *, migrate: bool = True, group_commit: bool = True
) -> SqlStore:
    """Open the store at ``url`` (``sqlite:///file.db`` or ``postgresql://…``) and migrate it.

    ``group_commit`` (SQLite; on by default): concurrent commits share fsyncs, each still
    durable before its write method returns (:mod:`pes_sdk_runner.store.group_commit`);
    PostgreSQL groups its commits itself.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from pes_sdk_runner.store.postgres import PostgresStore

        return PostgresStore(url, migrate=migrate)
    from pes_sdk_runner.store.sqlite import SqliteStore

    return SqliteStore(url, migrate=migrate, group_commit=group_commit)
