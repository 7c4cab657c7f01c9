"""The store's typed errors: all of them are :class:`pes_sdk.errors.PesError`."""

from __future__ import annotations

import datetime as dt

from pes_sdk.errors import PesError

__all__ = [
    "MigrationError",
    "ReadingRefused",
    "RegistryConflict",
    "RegistryOutOfOrder",
    "SchemaTooNew",
    "StoreError",
    "StoreUnavailable",
]


class StoreError(PesError):
    """The store refused an operation or cannot work with its database."""


class StoreUnavailable(StoreError):
    """The store's database server cannot be reached, or dropped the connection (a
    restart, a failover, a network cut, no answer within the connect timeout).

    Transient: the call failed, and the next call opens a new connection. A transaction it
    was in was rolled back, unless the connection was lost during its commit: then it may
    have committed, so the caller repeats it (every write of the store may be repeated:
    Idempotency-Keys, the processor's idempotent moves). The API answers it with
    ``503 store-unreachable``.
    """


class MigrationError(StoreError):
    """A migration failed, or an applied migration's file has changed since."""


class SchemaTooNew(MigrationError):
    """The database was migrated by a newer runner than this one: refusing to touch it."""


class RegistryConflict(StoreError):
    """A debt registry repeats the number of one already received, with other content."""

    def __init__(self, partner_inn: str, period: str, number: int, message: str) -> None:
        self.partner_inn = partner_inn
        self.period = period
        self.number = number
        super().__init__(message)


class RegistryOutOfOrder(StoreError):
    """A payment registry for a day before the partner's last closed day: numbers follow days."""

    def __init__(self, partner_inn: str, day: dt.date, last: dt.date) -> None:
        self.partner_inn = partner_inn
        self.day = day
        self.last = last
        super().__init__(
            f"partner {partner_inn}: {day:%d.%m.%Y} cannot take a registry number: a later"
            f" day, {last:%d.%m.%Y}, is closed, and numbers follow the days"
        )


class ReadingRefused(StoreError):
    """A meter reading contradicts the meter's other readings (a value went backwards).

    ``code`` is stable (``value-decreased``, ``value-above-later``, ``tariffs-changed``);
    ``field`` names the value at fault as the API reports it (``reading.values[0]``).
    """

    def __init__(self, code: str, message: str, field: str) -> None:
        self.code = code
        self.field = field
        super().__init__(message)
