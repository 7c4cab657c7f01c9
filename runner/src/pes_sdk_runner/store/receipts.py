"""The store's e-receipts (электронные чеки) registered on the service's cloud register.

Migration 0015 made ``fiscal_receipts``; :class:`FiscalReceiptsSql` is its SQL, mixed into
:class:`~pes_sdk_runner.store.sql.SqlStore`. What is registered, when, and what the client
is sent is :mod:`pes_sdk_runner.receipts`'s business; the store keeps one promise that
holds in any number of processes: **one row per payment's sale and per refund** (the
primary key: the order id and the refund's number, 0 for the sale), and its
``external_id`` is fixed when the row is written, so every process sends the register the
same key, which the register answers with the one document it has.

The buyer's contact is not kept here (see :mod:`pes_sdk_runner.receipts`).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.fiscal import FiscalAttributes
from pes_sdk.money import amount as to_amount
from pes_sdk.money import from_kopecks, to_kopecks

if TYPE_CHECKING:
    from pes_sdk_runner.store.dialect import Dialect

__all__ = ["FiscalReceipt", "FiscalReceiptsSql", "ReceiptOperation", "ReceiptStatus"]


class ReceiptOperation(enum.StrEnum):
    """What a receipt registers (its ``fiscal_receipts.operation``, ATOL's operation)."""

    SELL = "sell"  #: приход: a paid payment
    SELL_REFUND = "sell_refund"  #: возврат прихода: a refund


class ReceiptStatus(enum.StrEnum):
    """Where one receipt stands at the register."""

    WAIT = "wait"  #: sent or about to be (``uuid`` None until the register answered)
    DONE = "done"  #: registered: the fiscal attributes are known
    FAILED = "failed"  #: refused or not registered: ``error_code`` / ``error_field``


def _aware(_: object, attribute: attrs.Attribute[Any], value: dt.datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{attribute.name} must carry a time zone")


@attrs.frozen
class FiscalReceipt:
    """One payment's receipt as the store has it (the fiscal attributes once ``done``)."""

    order_id: uuid.UUID
    #: 0: the sale's receipt; n: the receipt of the payment's n-th refund
    refund_no: int
    operation: ReceiptOperation
    external_id: str
    register: str
    client_id: str | None
    status: ReceiptStatus
    total: Decimal = attrs.field(converter=to_amount)
    created_at: dt.datetime = attrs.field(validator=_aware)
    updated_at: dt.datetime = attrs.field(validator=_aware)
    uuid: str | None = None
    attributes: FiscalAttributes | None = None
    error_code: str | None = None
    error_field: str | None = None
    attempts: int = 0
    mailed_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    #: a refund's: the amount given back on each payment line (its index), fee included
    parts: Mapping[int, Decimal] = attrs.field(factory=dict)


_COLUMNS = (
    "order_id, refund_no, operation, external_id, register, client_id, status, total, created_at,"
    " updated_at, uuid, fn, fd, fp, shift, number, registered_at, kkt_number, check_url,"
    " error_code, error_field, attempts, mailed_at, parts"
)


class FiscalReceiptsSql:
    """The ``fiscal_receipts`` table in the store's SQL (a mixin of ``SqlStore``)."""

    if TYPE_CHECKING:  # what SqlStore provides
        dialect: Dialect

        def _tx(self) -> AbstractContextManager[Any]: ...
        def _read(self) -> AbstractContextManager[Any]: ...
        def _x(self, cur: Any, query: str, params: Sequence[Any] = ()) -> Any: ...

    def _fiscal_receipt(self, r: Sequence[Any]) -> FiscalReceipt:
        ts = self.dialect.ts_out
        attributes = None
        if r[6] == ReceiptStatus.DONE:
            attributes = FiscalAttributes(
                fn=str(r[11]),
                fd=int(r[12]),
                fp=int(r[13]),
                shift=int(r[14]),
                receipt_number=int(r[15]),
                registered_at=ts(r[16]),
                total=from_kopecks(int(r[7])),
                kkt_registration_number=r[17] or "",
                check_url=r[18],
            )
        return FiscalReceipt(
            order_id=uuid.UUID(r[0]),
            refund_no=int(r[1]),
            operation=ReceiptOperation(r[2]),
            external_id=r[3],
            register=r[4],
            client_id=r[5],
            status=ReceiptStatus(r[6]),
            total=from_kopecks(int(r[7])),
            created_at=ts(r[8]),
            updated_at=ts(r[9]),
            uuid=r[10],
            attributes=attributes,
            error_code=r[19],
            error_field=r[20],
            attempts=int(r[21]),
            mailed_at=ts(r[22]) if r[22] is not None else None,
            parts={int(k): Decimal(v) for k, v in json.loads(r[23]).items()} if r[23] else {},
        )

    def add_fiscal_receipt(
        self,
        order_id: uuid.UUID,
        refund_no: int = 0,
        *,
        external_id: str,
        register: str,
        client_id: str | None,
        total: Decimal,
        now: dt.datetime,
        parts: Mapping[int, Decimal] | None = None,
    ) -> FiscalReceipt:
        """The payment's sale receipt (``refund_no`` 0) or its n-th refund's: written now in
        status ``wait``, or the one already there (a repeat, here or in another process,
        changes nothing)."""
        at = self.dialect.ts_in(now)
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO fiscal_receipts (order_id, refund_no, operation, external_id,"
                " register, client_id, status, total, parts, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'wait', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    str(order_id),
                    refund_no,
                    str(ReceiptOperation.SELL if refund_no == 0 else ReceiptOperation.SELL_REFUND),
                    external_id,
                    register,
                    client_id,
                    to_kopecks(total),
                    json.dumps({str(k): str(v) for k, v in sorted(parts.items())})
                    if parts
                    else None,
                    at,
                    at,
                ),
            )
        found = self.fiscal_receipt(order_id, refund_no)
        assert found is not None
        return found

    def fiscal_receipt(self, order_id: uuid.UUID, refund_no: int = 0) -> FiscalReceipt | None:
        """The payment's sale receipt (``refund_no`` 0) or its n-th refund's, or None."""
        with self._read() as cur:
            row = self._x(
                cur,
                f"SELECT {_COLUMNS} FROM fiscal_receipts WHERE order_id = ? AND refund_no = ?",
                (str(order_id), refund_no),
            ).fetchone()
        return None if row is None else self._fiscal_receipt(row)

    def sent_fiscal_receipt(
        self, order_id: uuid.UUID, refund_no: int, *, uuid: str, now: dt.datetime
    ) -> None:
        """The register took the receipt as document ``uuid`` (a repeat: the same uuid)."""
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE fiscal_receipts SET uuid = ?, attempts = attempts + 1, updated_at = ?"
                " WHERE order_id = ? AND refund_no = ? AND status = 'wait'",
                (uuid, self.dialect.ts_in(now), str(order_id), refund_no),
            )

    def tried_fiscal_receipt(
        self, order_id: uuid.UUID, refund_no: int, *, code: str, now: dt.datetime
    ) -> None:
        """A try that could not say (the register unreachable): counted, still ``wait``."""
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE fiscal_receipts SET attempts = attempts + 1, error_code = ?,"
                " updated_at = ? WHERE order_id = ? AND refund_no = ? AND status = 'wait'",
                (code, self.dialect.ts_in(now), str(order_id), refund_no),
            )

    def done_fiscal_receipt(
        self,
        order_id: uuid.UUID,
        refund_no: int,
        attributes: FiscalAttributes,
        *,
        now: dt.datetime,
    ) -> None:
        """The register registered it: its fiscal attributes (once: a ``done`` row stays)."""
        a = attributes
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE fiscal_receipts SET status = 'done', fn = ?, fd = ?, fp = ?, shift = ?,"
                " number = ?, registered_at = ?, kkt_number = ?, check_url = ?,"
                " error_code = NULL, error_field = NULL, updated_at = ?"
                " WHERE order_id = ? AND refund_no = ? AND status = 'wait'",
                (
                    a.fn,
                    a.fd,
                    a.fp,
                    a.shift,
                    a.receipt_number,
                    self.dialect.ts_in(a.registered_at),
                    a.kkt_registration_number or None,
                    a.check_url,
                    self.dialect.ts_in(now),
                    str(order_id),
                    refund_no,
                ),
            )

    def failed_fiscal_receipt(
        self,
        order_id: uuid.UUID,
        refund_no: int,
        *,
        code: str,
        field: str | None,
        now: dt.datetime,
    ) -> None:
        """The register refused the receipt, or could not register it: kept with why, for
        an operator (a failed row is never sent again by itself)."""
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE fiscal_receipts SET status = 'failed', error_code = ?, error_field = ?,"
                " updated_at = ? WHERE order_id = ? AND refund_no = ? AND status = 'wait'",
                (code, field or None, self.dialect.ts_in(now), str(order_id), refund_no),
            )

    def mailed_fiscal_receipt(
        self, order_id: uuid.UUID, refund_no: int, *, now: dt.datetime
    ) -> None:
        """The client's e-mail of the receipt was queued (the first time counts)."""
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE fiscal_receipts SET mailed_at = ? WHERE order_id = ? AND refund_no = ?"
                " AND mailed_at IS NULL",
                (self.dialect.ts_in(now), str(order_id), refund_no),
            )

    def fiscal_receipts_of(self, client_id: str, limit: int = 200) -> list[FiscalReceipt]:
        """The client's receipts, the newest first (the cabinet's archive)."""
        with self._read() as cur:
            rows = self._x(
                cur,
                f"SELECT {_COLUMNS} FROM fiscal_receipts WHERE client_id = ?"
                f" ORDER BY created_at DESC, order_id LIMIT {int(limit)}",
                (client_id,),
            ).fetchall()
        return [self._fiscal_receipt(r) for r in rows]

    def fiscal_receipts_by_status(
        self, status: ReceiptStatus, limit: int = 500, *, since: dt.datetime | None = None
    ) -> list[FiscalReceipt]:
        """Receipts in ``status``, the longest unchanged first (``failed``: the operator's
        list; ``wait``: what the sweep asks the register about); with ``since``, only those
        that came to it (last changed) at or after that time."""
        query = f"SELECT {_COLUMNS} FROM fiscal_receipts WHERE status = ?"
        params: list[Any] = [str(status)]
        if since is not None:
            query += " AND updated_at >= ?"
            params.append(self.dialect.ts_in(since))
        with self._read() as cur:
            rows = self._x(
                cur,
                f"{query} ORDER BY updated_at, order_id, refund_no LIMIT {int(limit)}",
                params,
            ).fetchall()
        return [self._fiscal_receipt(r) for r in rows]

    def resend_fiscal_receipt(
        self, order_id: uuid.UUID, refund_no: int, *, now: dt.datetime
    ) -> bool:
        """A failed receipt the register holds no document of, back to ``wait`` for the next
        pass to send under its own ``external_id`` (never another: the row keeps it);
        whether it was put back. Only a ``failed`` row without a ``uuid`` changes, once: a
        second call, here or in another process, finds it waiting and changes nothing."""
        with self._tx() as cur:
            changed = self._x(
                cur,
                "UPDATE fiscal_receipts SET status = 'wait', error_code = NULL,"
                " error_field = NULL, updated_at = ? WHERE order_id = ? AND refund_no = ?"
                " AND status = 'failed' AND uuid IS NULL",
                (self.dialect.ts_in(now), str(order_id), refund_no),
            ).rowcount
        return bool(changed)

    def fiscal_receipts_to_mail(self, limit: int = 500) -> list[FiscalReceipt]:
        """Registered receipts whose e-mail to the client is not queued yet, oldest first."""
        with self._read() as cur:
            rows = self._x(
                cur,
                f"SELECT {_COLUMNS} FROM fiscal_receipts WHERE status = 'done'"
                f" AND mailed_at IS NULL ORDER BY updated_at, order_id LIMIT {int(limit)}",
            ).fetchall()
        return [self._fiscal_receipt(r) for r in rows]

    def paid_without_receipt(self, since: dt.datetime, limit: int = 500) -> list[uuid.UUID]:
        """Paid payments created at or after ``since`` that have no sale receipt row yet,
        the oldest first."""
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT p.order_id FROM payments p"
                " WHERE p.state IN ('succeeded', 'partially_refunded', 'refunded')"
                " AND p.created_at >= ? AND NOT EXISTS (SELECT 1 FROM fiscal_receipts r"
                " WHERE r.order_id = p.order_id AND r.refund_no = 0)"
                f" ORDER BY p.created_at, p.order_id LIMIT {int(limit)}",
                (self.dialect.ts_in(since),),
            ).fetchall()
        return [uuid.UUID(r[0]) for r in rows]

    def receipt_contacts(self, prefix: str, limit: int = 1000) -> list[str]:
        """The client ids of the contacts kept for receipts (``prefix``: ``receipt:``)."""
        with self._read() as cur:
            rows = self._x(
                cur,
                # a range on the key rather than LIKE, whose escapes the two databases
                # read differently: the prefix's last character, one higher, bounds it
                "SELECT client_id FROM notification_contacts WHERE client_id >= ?"
                f" AND client_id < ? ORDER BY client_id LIMIT {int(limit)}",
                (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def forget_contact(self, client_id: str) -> bool:
        """Delete the contact kept under ``client_id``; whether there was one."""
        with self._tx() as cur:
            gone = self._x(
                cur, "DELETE FROM notification_contacts WHERE client_id = ?", (client_id,)
            ).rowcount
        return bool(gone)
