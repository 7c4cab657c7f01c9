"""The store's SQL, written once for SQLite and PostgreSQL (differences: :mod:`.dialect`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from itertools import islice
from typing import Any

import attrs

from pes_sdk.gateways.models import Confirmation, PaymentState, RefundRequest
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.readings import MeterReading, MeterType, Photo
from pes_sdk.period import Period
from pes_sdk.premises import matching_key
from pes_sdk.serialization import make_converter, structure
from pes_sdk_runner.crashpoints import crashpoint
from pes_sdk_runner.store import migrate as _migrate
from pes_sdk_runner.store.autopay import AutopaySql
from pes_sdk_runner.store.base import (
    Acceptance,
    Cabinet,
    CabinetSession,
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
    LinkedAccount,
    LoginAttempt,
    PaymentRegistryInfo,
    ProcessBeat,
    RateLimit,
    RefundClaim,
    RegistryOutcome,
    ServiceBalance,
    StoredReading,
)
from pes_sdk_runner.store.bills import BillsSql
from pes_sdk_runner.store.campaigns import CampaignsSql
from pes_sdk_runner.store.dialect import Dialect
from pes_sdk_runner.store.errors import (
    ReadingRefused,
    RegistryConflict,
    RegistryOutOfOrder,
    StoreError,
    StoreUnavailable,
)
from pes_sdk_runner.store.notify import NotificationsSql
from pes_sdk_runner.store.receipts import FiscalReceiptsSql

__all__ = ["SqlStore", "booking_time", "from_kopecks", "to_kopecks"]

_CONVERTER = make_converter()


def to_kopecks(amount: Decimal) -> int:
    """Exact integer kopecks of a two-place amount (refuses fractions of a kopeck)."""
    scaled = amount.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has fractions of a kopeck")
    return int(scaled)


def from_kopecks(value: int) -> Decimal:
    return Decimal(int(value)).scaleb(-2).quantize(Decimal("0.01"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _period(text: str | None) -> Period | None:
    return Period.parse(text) if text else None


def booking_time(entry: PaymentEntry, now: dt.datetime) -> dt.datetime:
    """When a paid entry's ledger credits are booked: its ``paid_at``, within bounds.

    The acquirer's capture time decides the partner-day, but its clock is not ours: the time
    is kept between the payment's creation and ``now`` (a capture is neither before its
    payment nor in the future). An entry without ``paid_at`` is booked at ``now``.
    """
    if entry.paid_at is None:
        return now
    return max(entry.payment.created_at.astimezone(dt.UTC), min(entry.paid_at, now))


_DEBT_COLUMNS = (
    "registry_id",
    "partner_inn",
    "account",
    "service",
    "house_id",
    "premises",
    "premises_key",
    "amount",
    "period",
    "service_code",
)

_REGISTRY_COLUMNS = (
    "id, partner_inn, period, number, received_at, sha256, record_count, total, status"
)

# Paid on an account and service since a registry: credits less refunds in the ledger.
_BALANCE = """
SELECT d.partner_inn, d.account, d.service, d.house_id, d.premises, d.amount, d.period,
       r.id, r.period, r.number, d.service_code,
       COALESCE((SELECT SUM(CASE WHEN l.kind = 'credit' THEN l.amount ELSE -l.amount END)
                   FROM ledger l
                  WHERE l.partner_inn = d.partner_inn AND l.account = d.account
                    AND l.service = d.service AND l.kind IN ('credit', 'refund')
                    AND l.at >= r.received_at), 0)
  FROM debts d
  JOIN debt_registries r ON r.id = d.registry_id
 WHERE {where}
   AND r.status = 'active'
   AND r.period = (SELECT MAX(r2.period) FROM debt_registries r2
                    WHERE r2.partner_inn = r.partner_inn AND r2.status = 'active')
 ORDER BY d.partner_inn, d.service, d.account
"""

#: Every period's active registry, not only the newest (a client's charges history).
_CHARGES = _BALANCE.replace(
    """   AND r.period = (SELECT MAX(r2.period) FROM debt_registries r2
                    WHERE r2.partner_inn = r.partner_inn AND r2.status = 'active')
 ORDER BY d.partner_inn, d.service, d.account""",
    " ORDER BY r.period DESC, d.service",
)
assert _CHARGES != _BALANCE


#: The most (partner, account) or (house, premises) pairs one look-up query names.
_PAIRS_PER_QUERY = 100

#: How long login attempts are kept: the longest window of a login limit (a day).
_LOGIN_KEPT = dt.timedelta(days=1)

#: The most ledger rows one INSERT carries: ten parameters a row keeps a statement well
#: under SQLite's oldest limit of 999 parameters.
_LEDGER_ROWS_PER_INSERT = 50

#: From this many records an ingest refreshes the planner's statistics of ``debts``
#: (``Dialect.after_bulk_load``): small registries do not change them much.
_LARGE_INGEST = 10_000


@functools.lru_cache(maxsize=256)
def _partner(data: str) -> Partner:
    """A partner from its stored JSON. Remembered by the text: every payment page reads the
    partners, their rows seldom change, and a Partner is immutable (one object may serve
    every reader); changed text is another key."""
    return structure(json.loads(data), Partner)


def _lost(conn: Any) -> bool:
    """Whether the server dropped ``conn``: psycopg marks a connection it lost as broken
    (and closed); sqlite3's have neither."""
    return bool(getattr(conn, "broken", False)) or getattr(conn, "closed", False) is True


def _unavailable(exc: BaseException, *, committing: bool = False) -> StoreUnavailable:
    # The driver's message is not repeated: a failed statement's text may carry values.
    outcome = "its commit may or may not have happened" if committing else "the call failed"
    return StoreUnavailable(
        f"the connection to the store's database was lost ({type(exc).__name__}):"
        f" {outcome}; the next call reconnects"
    )


class SqlStore(NotificationsSql, CampaignsSql, AutopaySql, FiscalReceiptsSql, BillsSql):
    """The :class:`~pes_sdk_runner.store.base.Store` on a SQL database through a dialect.

    One connection per store, guarded by a lock: the processor's webhook and polling
    threads may share a store. Open one store per process or thread for parallel writers.
    """

    def __init__(self, dialect: Dialect, *, migrate: bool = True) -> None:
        self.dialect = dialect
        self.url = dialect.url
        self._conn = dialect.connect()
        self._closed = False
        self._lock = threading.RLock()
        #: how deep in :meth:`_tx` the thread holding the lock is (0: no transaction)
        self._depth = 0
        #: what runs once the outermost transaction has committed
        self._on_commit: list[Callable[[], object]] = []
        #: the payments rows :meth:`locked` read with their lock, by order id, while its
        #: block runs and no :meth:`put` has changed them (:meth:`get` and :meth:`put` use
        #: them instead of asking again)
        self._held: dict[str, Sequence[Any]] = {}
        if migrate:
            self.migrate()

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        """A write transaction: committed on success, rolled back on any error.

        Inside another (:meth:`locked`) it is part of that one: the outermost commits."""
        with self._lock:
            if not self._depth:
                self._reconnect_if_lost()
            cur = self._conn.cursor()
            if self._depth:
                self._depth += 1
                try:
                    yield cur
                finally:
                    self._depth -= 1
                return
            try:
                self.dialect.begin(cur)
            except Exception as exc:
                # An idle session the server ended (a restart, a failover) fails at its
                # first statement, often this one.
                if self._dropped():
                    raise _unavailable(exc) from exc
                raise
            self._depth = 1
            try:
                yield cur
            except BaseException as exc:
                self._depth = 0
                self._on_commit.clear()
                if self._dropped():  # the server rolled it back as the session ended
                    if isinstance(exc, Exception):
                        raise _unavailable(exc) from exc
                    raise
                cur.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                cur.execute("COMMIT")
            except Exception as exc:
                self._on_commit.clear()
                if self._dropped():
                    # Lost during the commit: committed or not, the caller cannot know.
                    # Every write of the store may be repeated (Idempotency-Keys, the
                    # processor's moves): the caller's retry finds out.
                    raise _unavailable(exc, committing=True) from exc
                raise
            done, self._on_commit = self._on_commit, []
            for fn in done:
                fn()

    def _after_commit(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` once the current transaction has committed (now, outside of one)."""
        if self._depth:
            self._on_commit.append(fn)
        else:
            fn()

    @contextlib.contextmanager
    def locked(self, order_id: uuid.UUID) -> Iterator[None]:
        """One transaction in which this payment's entry is read and written by no other
        process: the processor's read-modify-writes of an entry (a webhook in one API
        process, a refund or a status query in another) take turns instead of one
        overwriting the other's change with what it read before it. PostgreSQL: a row
        lock of the transaction on the payment (``FOR NO KEY UPDATE``); SQLite: the write
        lock that every write transaction takes. Keep the block short: no network calls
        in it.

        The statement that locks the row reads it too: :meth:`get` and :meth:`put` of
        this payment in the block take it from there instead of asking again (a round
        trip each on PostgreSQL). No other writer can change the row before the block
        ends; this store's own :meth:`put` forgets it."""
        key = str(order_id)
        with self._tx() as cur:
            # The payment's own row, not a key derived from it: every writer of the row,
            # whichever path it comes by, waits for the block (and no two payments share
            # a lock, as two hashes may).
            row = self._x(
                cur, self._ENTRY + " WHERE order_id = ?" + self.dialect.row_lock, (key,)
            ).fetchone()
            if row is not None:
                self._held[key] = row
            try:
                yield
            finally:
                # Forgotten whatever happens: a nested block of the same payment ends first
                # and takes the outer one's row with it (read again, if needed).
                self._held.pop(key, None)

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._lock:
            if self._depth:
                yield self._conn.cursor()
                return
            self._reconnect_if_lost()
            try:
                yield self._conn.cursor()
            except Exception as exc:
                if self._dropped():
                    raise _unavailable(exc) from exc
                raise

    def _dropped(self) -> bool:
        """The server dropped this store's connection (not: the store was closed)."""
        return not self._closed and _lost(self._conn)

    def _reconnect_if_lost(self) -> None:
        """Open a new connection when the server dropped this one (a failover, a restart,
        an administrator's ``pg_terminate_backend``): the call that met the loss failed,
        the next ones work again without restarting the process. Never inside a
        transaction: its work died with the connection and must fail as a whole."""
        if self._closed:  # closed on purpose: calls must fail, not open it again
            return
        conn = self._conn
        if _lost(conn):
            with contextlib.suppress(Exception):
                conn.close()
            # StoreUnavailable while the server is away: the next call tries again
            self._conn = self.dialect.connect()

    def _x(self, cur: Any, query: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self.dialect.sql(query), params)
        return cur

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()
        self.dialect.close()

    @contextlib.contextmanager
    def reads_together(self) -> Iterator[None]:
        with self._lock:  # reentrant: the block's own reads take it again at once
            yield

    def deferred_durability(self) -> AbstractContextManager[None]:
        """Wait for this thread's commits at the end of the block instead of in each write.

        Only a SQLite store with group commit defers (see ``SqliteStore``); elsewhere a
        commit is durable when it returns and the block changes nothing.
        """
        return contextlib.nullcontext()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- schema ----------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        with self._lock:
            return _migrate.migrate(self.dialect, self._conn)

    def schema_version(self) -> int:
        with self._lock:
            if not self._depth:  # /healthz asks this: it must see the store come back
                self._reconnect_if_lost()
            return _migrate.schema_version(self._conn)

    # -- partners --------------------------------------------------------------------------

    def upsert_partners(self, partners: Iterable[Partner]) -> None:
        now = self.dialect.ts_in(_now())
        rows = [
            (p.inn, p.kpp, p.name, json.dumps(_CONVERTER.unstructure(p), ensure_ascii=False), now)
            for p in partners
        ]
        with self._tx() as cur:
            cur.executemany(
                self.dialect.sql(
                    "INSERT INTO partners (inn, kpp, name, data, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (inn) DO UPDATE SET kpp = excluded.kpp, name = excluded.name,"
                    " data = excluded.data, updated_at = excluded.updated_at"
                ),
                rows,
            )

    def partners(self) -> list[Partner]:
        with self._read() as cur:
            rows = self._x(cur, "SELECT data FROM partners ORDER BY inn").fetchall()
        return [_partner(data) for (data,) in rows]

    # -- debt registries -------------------------------------------------------------------

    def _registry(self, row: Sequence[Any]) -> DebtRegistryInfo:
        return DebtRegistryInfo(
            int(row[0]),
            row[1],
            Period.parse(row[2]),
            int(row[3]),
            self.dialect.ts_out(row[4]),
            row[5],
            int(row[6]),
            from_kopecks(row[7]),
            row[8] == "active",
        )

    def ingest_debt_registry(
        self,
        partner_inn: str,
        period: Period,
        number: int,
        records: Iterable[DebtRecord],
        *,
        sha256: str,
        received_at: dt.datetime | None = None,
        batch_size: int = 5000,
    ) -> IngestResult:
        if number < 1:
            raise ValueError(f"a registry number is 1 or more, not {number}")
        received = self.dialect.ts_in(received_at or _now())
        per = str(period)
        with self._tx() as cur:
            # one partner's registries at a time (SQLite's write lock already does this)
            self.dialect.lock_key(cur, f"debt_registry:{partner_inn}:{per}")
            same = self._x(
                cur,
                f"SELECT {_REGISTRY_COLUMNS} FROM debt_registries"
                " WHERE partner_inn = ? AND period = ? AND number = ?",
                (partner_inn, per, number),
            ).fetchone()
            if same is not None:
                known = self._registry(same)
                if known.sha256 == sha256:
                    return IngestResult(RegistryOutcome.DUPLICATE, known)
                raise RegistryConflict(
                    partner_inn,
                    per,
                    number,
                    f"debt registry {number} of {partner_inn} for {per} was already received"
                    f" with other content (sha256 {known.sha256[:12]}…, now {sha256[:12]}…)",
                )
            row = self._x(
                cur,
                f"SELECT {_REGISTRY_COLUMNS} FROM debt_registries"
                " WHERE partner_inn = ? AND period = ? AND status = 'active'",
                (partner_inn, per),
            ).fetchone()
            active = self._registry(row) if row is not None else None
            if active is not None and active.number > number:
                # An older registry never overwrites a newer: kept for the record only.
                count, total = 0, 0
                for rec in records:
                    count += 1
                    total += to_kopecks(rec.amount)
                new_id = self._insert_registry(
                    cur, partner_inn, per, number, received, sha256, count, total, "superseded"
                )
                info = self._registry_by_id(cur, new_id)
                return IngestResult(RegistryOutcome.STALE, info)
            if active is not None:
                self._x(
                    cur,
                    "UPDATE debt_registries SET status = 'superseded' WHERE id = ?",
                    (active.id,),
                )
                self._x(cur, "DELETE FROM debts WHERE registry_id = ?", (active.id,))
            new_id = self._insert_registry(
                cur, partner_inn, per, number, received, sha256, 0, 0, "active"
            )
            count, total = self._insert_debts(cur, new_id, partner_inn, records, batch_size)
            self._x(
                cur,
                "UPDATE debt_registries SET record_count = ?, total = ? WHERE id = ?",
                (count, total, new_id),
            )
            if count >= _LARGE_INGEST:
                self.dialect.after_bulk_load(cur, "debts")
            info = self._registry_by_id(cur, new_id)
        replaced = attrs.evolve(active, active=False) if active is not None else None
        return IngestResult(RegistryOutcome.ACTIVATED, info, replaced)

    def _insert_registry(
        self,
        cur: Any,
        partner_inn: str,
        period: str,
        number: int,
        received: Any,
        sha256: str,
        count: int,
        total: int,
        status: str,
    ) -> int:
        row = self._x(
            cur,
            "INSERT INTO debt_registries (partner_inn, period, number, received_at, sha256,"
            " record_count, total, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (partner_inn, period, number, received, sha256, count, total, status),
        ).fetchone()
        return int(row[0])

    def _registry_by_id(self, cur: Any, registry_id: int) -> DebtRegistryInfo:
        row = self._x(
            cur, f"SELECT {_REGISTRY_COLUMNS} FROM debt_registries WHERE id = ?", (registry_id,)
        ).fetchone()
        return self._registry(row)

    def _insert_debts(
        self,
        cur: Any,
        registry_id: int,
        partner_inn: str,
        records: Iterable[DebtRecord],
        batch_size: int,
    ) -> tuple[int, int]:
        count = 0
        total = 0
        it = iter(records)
        while True:
            batch = []
            for rec in islice(it, batch_size):
                text = rec.premises.text
                kopecks = int(rec.amount.scaleb(2))  # DebtRecord amounts have two places
                total += kopecks
                batch.append(
                    (
                        registry_id,
                        partner_inn,
                        rec.account,
                        rec.service,
                        rec.house_id,
                        text,
                        matching_key(text),
                        kopecks,
                        str(rec.period) if rec.period is not None else None,
                        rec.service_code,
                    )
                )
            if not batch:
                return count, total
            count += len(batch)
            self.dialect.bulk_insert(cur, "debts", _DEBT_COLUMNS, batch)
            crashpoint("ingest.mid-registry")

    def debt_registries(self, partner_inn: str) -> list[DebtRegistryInfo]:
        with self._read() as cur:
            rows = self._x(
                cur,
                f"SELECT {_REGISTRY_COLUMNS} FROM debt_registries WHERE partner_inn = ?"
                " ORDER BY period DESC, number DESC",
                (partner_inn,),
            ).fetchall()
        return [self._registry(r) for r in rows]

    def _balances(
        self, where: str, params: Sequence[Any], query: str = _BALANCE
    ) -> list[ServiceBalance]:
        with self._read() as cur:
            rows = self._x(cur, query.format(where=where), params).fetchall()
        return [
            ServiceBalance(
                partner_inn=r[0],
                account=r[1],
                service=r[2],
                house_id=r[3],
                premises=r[4],
                debt=from_kopecks(r[5]),
                period=_period(r[6]),
                registry_id=int(r[7]),
                registry_period=Period.parse(r[8]),
                registry_number=int(r[9]),
                service_code=r[10],
                paid=from_kopecks(r[11]),
            )
            for r in rows
        ]

    def find_services(self, house_id: str, premises: str) -> list[ServiceBalance]:
        return self._balances(
            "d.house_id = ? AND d.premises_key = ?", (house_id.lower(), matching_key(premises))
        )

    def find_by_account(self, partner_inn: str, account: str) -> list[ServiceBalance]:
        return self._balances("d.partner_inn = ? AND d.account = ?", (partner_inn, account))

    def find_by_accounts(
        self, accounts: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[ServiceBalance]]:
        wanted = list(dict.fromkeys(accounts))
        found: dict[tuple[str, str], list[ServiceBalance]] = {a: [] for a in wanted}
        # An OR of equalities, not row values: both dialects use the (partner, account)
        # index for each term; chunked so a long list stays within parameter limits.
        for start in range(0, len(wanted), _PAIRS_PER_QUERY):
            chunk = wanted[start : start + _PAIRS_PER_QUERY]
            where = " OR ".join(["(d.partner_inn = ? AND d.account = ?)"] * len(chunk))
            for s in self._balances(f"({where})", [v for pair in chunk for v in pair]):
                found[(s.partner_inn, s.account)].append(s)
        return found

    def find_services_at(self, places: Iterable[tuple[str, str]]) -> list[ServiceBalance]:
        wanted = list(dict.fromkeys((h.lower(), matching_key(p)) for h, p in places))
        found: list[ServiceBalance] = []
        for start in range(0, len(wanted), _PAIRS_PER_QUERY):
            chunk = wanted[start : start + _PAIRS_PER_QUERY]
            where = " OR ".join(["(d.house_id = ? AND d.premises_key = ?)"] * len(chunk))
            found += self._balances(f"({where})", [v for pair in chunk for v in pair])
        return found

    def account_charges(self, partner_inn: str, account: str) -> list[ServiceBalance]:
        return self._balances(
            "d.partner_inn = ? AND d.account = ?", (partner_inn, account), _CHARGES
        )

    def debts_without_house(self) -> dict[str, int]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT partner_inn, COUNT(*) FROM debts WHERE house_id IS NULL"
                " GROUP BY partner_inn ORDER BY partner_inn",
            ).fetchall()
        return {inn: int(n) for inn, n in rows}

    # -- the house directory -----------------------------------------------------------------

    def upsert_houses(self, houses: Iterable[House]) -> int:
        now = self.dialect.ts_in(_now())
        rows = [
            (h.guid.lower(), h.address, h.house_key, h.street_key, h.street_type, h.source, now)
            for h in houses
        ]
        if not rows:
            return 0
        with self._tx() as cur:
            cur.executemany(
                self.dialect.sql(
                    "INSERT INTO houses (guid, address, house_key, street_key, street_type,"
                    " source, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (guid) DO UPDATE SET address = excluded.address,"
                    " house_key = excluded.house_key, street_key = excluded.street_key,"
                    " street_type = excluded.street_type, source = excluded.source,"
                    " updated_at = excluded.updated_at"
                ),
                rows,
            )
        return len(rows)

    def _houses(self, where: str, value: str) -> list[House]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT guid, address, house_key, street_key, street_type, source FROM houses"
                f" WHERE {where} = ? ORDER BY guid",
                (value,),
            ).fetchall()
        return [House(*r) for r in rows]

    def houses_by_key(self, house_key: str) -> list[House]:
        return self._houses("house_key", house_key)

    def houses_by_street_key(self, street_key: str) -> list[House]:
        return self._houses("street_key", street_key)

    def house_address(self, guid: str) -> str | None:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT address FROM houses WHERE guid = ?", (guid.lower(),)
            ).fetchone()
        return str(row[0]) if row is not None else None

    def house_count(self) -> int:
        with self._read() as cur:
            row = self._x(cur, "SELECT COUNT(*) FROM houses").fetchone()
        return int(row[0])

    # -- acceptances -----------------------------------------------------------------------

    def _acceptance(self, r: Sequence[Any]) -> Acceptance:
        return Acceptance(r[0], r[1], r[2], r[3], r[4], r[5], self.dialect.ts_out(r[6]))

    def record_acceptance(self, acceptance: Acceptance) -> Acceptance:
        a = acceptance
        at = self.dialect.ts_in(a.accepted_at or _now())
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO acceptances (client_id, partner_inn, account, service, house_id,"
                " premises, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (client_id, partner_inn, account, service) DO NOTHING",
                (a.client_id, a.partner_inn, a.account, a.service, a.house_id, a.premises, at),
            )
            row = self._x(
                cur,
                "SELECT client_id, partner_inn, account, service, house_id, premises,"
                " accepted_at FROM acceptances WHERE client_id = ? AND partner_inn = ?"
                " AND account = ? AND service = ?",
                (a.client_id, a.partner_inn, a.account, a.service),
            ).fetchone()
        return self._acceptance(row)

    def acceptances(self, client_id: str) -> list[Acceptance]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT client_id, partner_inn, account, service, house_id, premises,"
                " accepted_at FROM acceptances WHERE client_id = ? ORDER BY id",
                (client_id,),
            ).fetchall()
        return [self._acceptance(r) for r in rows]

    def withdraw_acceptance(
        self,
        client_id: str,
        partner_inn: str,
        account: str,
        service: str,
        at: dt.datetime | None = None,
    ) -> bool:
        key = (client_id, partner_inn, account, service)
        with self._tx() as cur:
            # Kept, then removed, in one transaction: consent given and taken back is a
            # record; the unique tick's place is free for a new one.
            self._x(
                cur,
                "INSERT INTO acceptance_withdrawals (client_id, partner_inn, account, service,"
                " house_id, premises, accepted_at, withdrawn_at) SELECT client_id, partner_inn,"
                " account, service, house_id, premises, accepted_at, ? FROM acceptances"
                " WHERE client_id = ? AND partner_inn = ? AND account = ? AND service = ?",
                (self.dialect.ts_in(at or _now()), *key),
            )
            deleted = self._x(
                cur,
                "DELETE FROM acceptances WHERE client_id = ? AND partner_inn = ?"
                " AND account = ? AND service = ?",
                key,
            ).rowcount
        return bool(deleted)

    def withdrawn_acceptances(self, client_id: str) -> list[tuple[Acceptance, dt.datetime]]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT client_id, partner_inn, account, service, house_id, premises,"
                " accepted_at, withdrawn_at FROM acceptance_withdrawals WHERE client_id = ?"
                " ORDER BY id",
                (client_id,),
            ).fetchall()
        return [(self._acceptance(r), self.dialect.ts_out(r[7])) for r in rows]

    # -- payments: the processor's PaymentStore ----------------------------------------------

    def _payment_row(
        self, e: PaymentEntry, now: Any, paid_at: dt.datetime | None = None
    ) -> tuple[Any, ...]:
        pending = None
        if e.pending_refund is not None:
            pending = json.dumps([e.pending_refund[0], _CONVERTER.unstructure(e.pending_refund[1])])
        conf = None
        if e.confirmation is not None:
            conf = json.dumps(_CONVERTER.unstructure(e.confirmation), ensure_ascii=False)
        return (
            e.idempotency_key,
            str(e.payment.method),
            str(e.state),
            to_kopecks(e.payment.total),
            to_kopecks(e.refunded),
            e.gateway_payment_id,
            conf,
            pending,
            e.refund_count,
            self.dialect.ts_in(paid_at) if paid_at is not None else None,
            now,
            str(e.order_id),
        )

    def _line_refunds(self, e: PaymentEntry) -> list[int]:
        refunded = list(e.line_refunded) + [Decimal(0)] * (
            len(e.payment.lines) - len(e.line_refunded)
        )
        return [to_kopecks(v) for v in refunded]

    def add(self, entry: PaymentEntry) -> None:
        moment = _now()
        now = self.dialect.ts_in(moment)
        p = entry.payment
        paid_at = booking_time(entry, moment) if entry.paid_at is not None else None
        with self._tx() as cur:
            # The database decides who books an order id first: another process may insert
            # it between a look and an insert (its transaction commits or rolls back, and
            # this insert waits for it), so the look is the insert itself.
            if not self._x(
                cur,
                "INSERT INTO payments (idempotency_key, method, state, total, refunded,"
                " gateway_payment_id, confirmation, pending_refund, refund_count, paid_at,"
                " updated_at, order_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
                (
                    *self._payment_row(entry, now, paid_at),
                    self.dialect.ts_in(p.created_at),
                ),
            ).fetchone():
                raise KeyError(f"payment {entry.order_id} is already in the book")
            refunds = self._line_refunds(entry)
            cur.executemany(
                self.dialect.sql(
                    "INSERT INTO payment_lines (order_id, line_no, partner_inn, account, service,"
                    " house_id, premises, period, amount, client_fee, refunded, service_code)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                [
                    (
                        str(entry.order_id),
                        i,
                        ln.partner_inn,
                        ln.account,
                        ln.service,
                        ln.house_id,
                        ln.premises.text,
                        str(ln.period) if ln.period is not None else None,
                        to_kopecks(ln.amount),
                        to_kopecks(ln.client_fee),
                        refunds[i],
                        ln.service_code,
                    )
                    for i, ln in enumerate(p.lines)
                ],
            )

    def put(self, entry: PaymentEntry) -> None:
        moment = _now()
        now = self.dialect.ts_in(moment)
        with self._tx() as cur:
            held = self._held.pop(str(entry.order_id), None)  # changed here: read it again
            known = (
                (held[4], held[10])  # _ENTRY's refunded, paid_at
                if held is not None
                else self._x(
                    cur,
                    "SELECT refunded, paid_at FROM payments WHERE order_id = ?",
                    (str(entry.order_id),),
                ).fetchone()
            )
            if known is None:
                raise KeyError(f"payment {entry.order_id} is not in the book")
            paid_at = None
            if entry.state.is_paid:
                # Taken once, on the first paid put; later puts (refunds) keep it.
                paid_at = (
                    self.dialect.ts_out(known[1])
                    if known[1] is not None
                    else booking_time(entry, moment)
                )
            self._x(
                cur,
                "UPDATE payments SET idempotency_key = ?, method = ?, state = ?, total = ?,"
                " refunded = ?, gateway_payment_id = ?, confirmation = ?, pending_refund = ?,"
                " refund_count = ?, paid_at = ?, updated_at = ? WHERE order_id = ?",
                self._payment_row(entry, now, paid_at),
            )
            line_refunds = self._line_refunds(entry)
            if any(line_refunds):
                # Lines are added with nothing refunded and refunds only grow: while the
                # entry has none, its line rows are as they were added (most puts).
                cur.executemany(
                    self.dialect.sql(
                        "UPDATE payment_lines SET refunded = ? WHERE order_id = ? AND line_no = ?"
                    ),
                    [(k, str(entry.order_id), i) for i, k in enumerate(line_refunds)],
                )
            if entry.state.is_paid:
                # The credit is booked in the transaction that records the payment as paid:
                # a crash between the two would leave a paid payment that no registry
                # carries, and a repeated webhook is a duplicate that credits nothing. It is
                # booked at the capture time: the day a bank statement shows it on.
                self._append_all(cur, _credits(entry, paid_at))
                if entry.saved_method is not None:
                    # the consent comes into force with the payment that saved its method
                    self._learn_method(cur, entry.order_id, entry.saved_method, moment)
                crashpoint("payment.paid-before-commit")
            grown = to_kopecks(entry.refunded) - int(known[0])
            if grown > 0:
                # Likewise the refund: the entry's refunded sum and its ledger move together.
                self._append(cur, self._refunds(cur, entry, from_kopecks(grown), None))
        if entry.state.is_paid:
            # Once committed (inside ``locked``, when its transaction ends), before the
            # processor's on_credit runs.
            self._after_commit(lambda: crashpoint("payment.paid-committed"))

    _ENTRY = (
        "SELECT order_id, idempotency_key, method, state, refunded, gateway_payment_id,"
        " confirmation, pending_refund, refund_count, created_at, paid_at FROM payments"
    )
    _LINES = (
        "SELECT order_id, line_no, partner_inn, account, service, house_id, premises, period,"
        " amount, client_fee, refunded, service_code FROM payment_lines"
    )

    def _entries(self, rows: list[Any], lines: list[Any]) -> list[PaymentEntry]:
        by_order: dict[str, list[Any]] = {}
        for ln in lines:
            by_order.setdefault(ln[0], []).append(ln)
        out = []
        for r in rows:
            mine = sorted(by_order.get(r[0], []), key=lambda ln: ln[1])
            payment = Payment(
                uuid.UUID(r[0]),
                self.dialect.ts_out(r[9]),
                PaymentMethod(r[2]),
                [
                    PaymentLine(
                        ln[2],
                        ln[3],
                        from_kopecks(ln[8]),
                        service=ln[4],
                        house_id=ln[5],
                        premises=ln[6],
                        period=_period(ln[7]),
                        client_fee=from_kopecks(ln[9]),
                        service_code=ln[11],
                    )
                    for ln in mine
                ],
            )
            pending = None
            if r[7] is not None:
                key, request = json.loads(r[7])
                pending = (key, structure(request, RefundRequest))
            out.append(
                PaymentEntry(
                    payment,
                    r[1],
                    state=PaymentState(r[3]),
                    gateway_payment_id=r[5],
                    refunded=from_kopecks(r[4]),
                    line_refunded=tuple(from_kopecks(ln[10]) for ln in mine),
                    confirmation=(
                        structure(json.loads(r[6]), Confirmation) if r[6] is not None else None
                    ),
                    pending_refund=pending,
                    refund_count=int(r[8]),
                    paid_at=self.dialect.ts_out(r[10]) if r[10] is not None else None,
                )
            )
        return out

    def get(self, order_id: uuid.UUID) -> PaymentEntry | None:
        key = str(order_id)
        with self._read() as cur:
            # Under the payment's lock (:meth:`locked`) its row is the one the lock read.
            # Its lines are read now, after the lock was granted: read with the lock, they
            # would be as they were when the statement began, and a writer the lock waited
            # for (a refund of a line) may have changed them since.
            held = self._held.get(key)
            rows = (
                [held]
                if held is not None
                else self._x(cur, self._ENTRY + " WHERE order_id = ?", (key,)).fetchall()
            )
            lines = self._x(cur, self._LINES + " WHERE order_id = ?", (key,)).fetchall()
        found = self._entries(rows, lines)
        return found[0] if found else None

    def get_many(self, order_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PaymentEntry]:
        # Two queries per 500 ids, not two per payment: a day's close looks up every
        # credited line's payment (tens of thousands), a round trip each on PostgreSQL.
        wanted = sorted({str(o) for o in order_ids})
        rows: list[Any] = []
        lines: list[Any] = []
        with self._read() as cur:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                rows += self._x(
                    cur, self._ENTRY + f" WHERE order_id IN ({marks})", chunk
                ).fetchall()
                lines += self._x(
                    cur, self._LINES + f" WHERE order_id IN ({marks})", chunk
                ).fetchall()
        return {e.payment.payment_id: e for e in self._entries(rows, lines)}

    def __iter__(self) -> Iterator[PaymentEntry]:
        # A snapshot, like MemoryPaymentStore's: the book may change while it is iterated.
        with self._read() as cur:
            rows = self._x(cur, self._ENTRY + " ORDER BY created_at, order_id").fetchall()
            lines = self._x(cur, self._LINES).fetchall()
        return iter(self._entries(rows, lines))

    def unsettled_payments(
        self,
        *,
        updated_before: dt.datetime,
        created_since: dt.datetime,
        limit: int = 500,
        checked_before: dt.datetime | None = None,
        fresh_since: dt.datetime | None = None,
    ) -> list[uuid.UUID]:
        # The states are literals, not parameters: only then may the planners (SQLite's
        # always, PostgreSQL's generic plans) use the partial index payments_waiting, whose
        # order is the one asked for.
        sql = (
            "SELECT order_id FROM payments WHERE state IN ('created', 'pending')"
            " AND updated_at < ? AND created_at >= ?"
        )
        args: list[Any] = [self.dialect.ts_in(updated_before), self.dialect.ts_in(created_since)]
        if checked_before is not None:
            # Asked recently: left for a later pass, unless still fresh (asked every pass).
            sql += " AND (checked_at IS NULL OR checked_at < ?"
            args.append(self.dialect.ts_in(checked_before))
            if fresh_since is not None:
                sql += " OR created_at >= ?"
                args.append(self.dialect.ts_in(fresh_since))
            sql += ")"
        # Never asked first, then the longest unasked: an unchanged answer does not touch
        # updated_at, so ordering by it alone would ask the same payments every pass.
        sql += " ORDER BY checked_at NULLS FIRST, updated_at, order_id LIMIT ?"
        with self._read() as cur:
            rows = self._x(cur, sql, (*args, limit)).fetchall()
        return [uuid.UUID(r[0]) for r in rows]

    def record_payment_checks(self, order_ids: Iterable[uuid.UUID], at: dt.datetime) -> None:
        wanted = sorted({str(o) for o in order_ids})
        with self._tx() as cur:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                self._x(
                    cur,
                    f"UPDATE payments SET checked_at = ? WHERE order_id IN ({marks})",
                    (self.dialect.ts_in(at), *chunk),
                )

    def waiting_payments(self, created_since: dt.datetime) -> tuple[int, dt.datetime | None]:
        states = (str(PaymentState.CREATED), str(PaymentState.PENDING))
        with self._read() as cur:
            count, oldest = self._x(
                cur,
                "SELECT COUNT(*), MIN(created_at) FROM payments WHERE state IN (?, ?)"
                " AND created_at >= ?",
                (*states, self.dialect.ts_in(created_since)),
            ).fetchone()
        return int(count), None if oldest is None else self.dialect.ts_out(oldest)

    def record_payment_app(self, order_id: uuid.UUID, app_id: str) -> str:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO payment_apps (order_id, app_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (order_id) DO NOTHING",
                (str(order_id), app_id, self.dialect.ts_in(_now())),
            )
            row = self._x(
                cur, "SELECT app_id FROM payment_apps WHERE order_id = ?", (str(order_id),)
            ).fetchone()
        return str(row[0])

    def payments_of_app(self, app_id: str, limit: int = 200) -> list[PaymentEntry]:
        with self._read() as cur:
            rows = self._x(
                cur,
                self._ENTRY + " WHERE order_id IN (SELECT order_id FROM payment_apps"
                " WHERE app_id = ?) ORDER BY created_at DESC, order_id LIMIT ?",
                (app_id, limit),
            ).fetchall()
            ids = [r[0] for r in rows]
            lines = []
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                lines += self._x(
                    cur, self._LINES + f" WHERE order_id IN ({marks})", chunk
                ).fetchall()
        return self._entries(rows, lines)

    def payment_app(self, order_id: uuid.UUID) -> str | None:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT app_id FROM payment_apps WHERE order_id = ?", (str(order_id),)
            ).fetchone()
        return None if row is None else str(row[0])

    def claim_refund(
        self, order_id: uuid.UUID, key: str, request: str, refund_no: int
    ) -> RefundClaim:
        with self._tx() as cur:
            inserted = self._x(
                cur,
                "INSERT INTO refund_requests (order_id, request_key, request, refund_no,"
                " created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (order_id, request_key) DO NOTHING RETURNING refund_no",
                (str(order_id), key, request, refund_no, self.dialect.ts_in(_now())),
            ).fetchone()
            row = self._x(
                cur,
                "SELECT request, refund_no FROM refund_requests"
                " WHERE order_id = ? AND request_key = ?",
                (str(order_id), key),
            ).fetchone()
        return RefundClaim(order_id, key, row[0], int(row[1]), new=inserted is not None)

    def refund_claim(self, order_id: uuid.UUID, key: str) -> RefundClaim | None:
        with self._read() as cur:
            row = self._x(
                cur,
                "SELECT request, refund_no FROM refund_requests"
                " WHERE order_id = ? AND request_key = ?",
                (str(order_id), key),
            ).fetchone()
        return None if row is None else RefundClaim(order_id, key, row[0], int(row[1]), new=False)

    def release_refund_claim(self, order_id: uuid.UUID, key: str) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "DELETE FROM refund_requests WHERE order_id = ? AND request_key = ?",
                (str(order_id), key),
            )

    # -- leases ----------------------------------------------------------------------------

    def take_lease(
        self, name: str, owner: str, ttl: dt.timedelta, *, replacing: str | None = None
    ) -> Lease:
        moment = _now()
        now, until = self.dialect.ts_in(moment), self.dialect.ts_in(moment + ttl)
        with self._tx() as cur:
            # One upsert: the row (PostgreSQL: its lock; SQLite: the write lock) decides
            # between two takers, and the condition keeps a live holder's lease.
            self._x(
                cur,
                "INSERT INTO leases (name, owner, taken_at, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " taken_at = CASE WHEN leases.owner = excluded.owner THEN leases.taken_at"
                " ELSE excluded.taken_at END, expires_at = excluded.expires_at"
                " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?"
                " OR leases.owner = ?",
                (name, owner, now, until, now, replacing),
            )
            row = self._x(
                cur, "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
        return Lease(name, str(row[0]), self.dialect.ts_out(row[1]))

    def lease(self, name: str) -> Lease | None:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else Lease(name, str(row[0]), self.dialect.ts_out(row[1]))

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        return self.dialect.exclusive(key)

    def release_lease(self, name: str, owner: str) -> None:
        with self._tx() as cur:
            self._x(cur, "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    # -- processes (heartbeats) ------------------------------------------------------------

    def beat(self, process: ProcessBeat) -> None:
        p = process
        ts = self.dialect.ts_in
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO processes (id, role, host, pid, version, started_at, beat_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
                (p.id, p.role, p.host, p.pid, p.version, ts(p.started_at), ts(p.beat_at)),
            )

    def end_process(self, process_id: str) -> None:
        with self._tx() as cur:
            self._x(cur, "DELETE FROM processes WHERE id = ?", (process_id,))

    def processes(self) -> list[ProcessBeat]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT id, role, host, pid, version, started_at, beat_at FROM processes"
                " ORDER BY role, started_at, id",
            ).fetchall()
        out = self.dialect.ts_out
        return [
            ProcessBeat(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), out(r[5]), out(r[6]))
            for r in rows
        ]

    def forget_processes(self, beat_before: dt.datetime) -> int:
        with self._tx() as cur:
            cur = self._x(
                cur, "DELETE FROM processes WHERE beat_at < ?", (self.dialect.ts_in(beat_before),)
            )
            return max(int(cur.rowcount), 0)

    # -- client cabinets -------------------------------------------------------------------

    def add_login_attempt(
        self, attempt: LoginAttempt, limits: Sequence[RateLimit]
    ) -> dt.datetime | None:
        a = attempt
        ts = self.dialect.ts_in
        with self._tx() as cur:
            # Every process takes its turn here (PostgreSQL: this lock; SQLite: the write
            # lock every write transaction holds), so the counts read are the counts.
            self.dialect.lock_key(cur, "pes_sdk_runner.login_attempts")
            self._x(
                cur,
                "DELETE FROM login_attempts WHERE created_at < ?",
                (ts(a.created_at - _LOGIN_KEPT),),
            )
            retry_at: dt.datetime | None = None
            for limit in limits:
                rows = self._x(
                    cur,
                    f"SELECT created_at FROM login_attempts WHERE {limit.column} = ?"
                    " AND created_at > ? ORDER BY created_at DESC LIMIT ?",
                    (limit.value, ts(a.created_at - limit.window), limit.count),
                ).fetchall()
                if len(rows) >= limit.count:
                    # Free again once the oldest of the last `count` leaves the window.
                    free = self.dialect.ts_out(rows[-1][0]) + limit.window
                    retry_at = free if retry_at is None else max(retry_at, free)
            if retry_at is not None:
                return retry_at
            self._x(
                cur,
                "INSERT INTO login_attempts (id, phone, code_hash, client_ip, created_at,"
                " expires_at, tries) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (a.id, a.phone, a.code_hash, a.client_ip, ts(a.created_at), ts(a.expires_at)),
            )
        return None

    def _login_attempt(self, r: Sequence[Any]) -> LoginAttempt:
        out = self.dialect.ts_out
        return LoginAttempt(
            r[0], r[1], r[2], r[3], out(r[4]), out(r[5]), int(r[6]),
            None if r[7] is None else out(r[7]),
        )  # fmt: skip

    def try_login_attempt(
        self, attempt_id: str, now: dt.datetime, max_tries: int
    ) -> LoginAttempt | None:
        with self._tx() as cur:
            # One statement: two tries at once are both counted, never one lost.
            row = self._x(
                cur,
                "UPDATE login_attempts SET tries = tries + 1 WHERE id = ? AND used_at IS NULL"
                " AND expires_at > ? AND tries < ? RETURNING id, phone, code_hash, client_ip,"
                " created_at, expires_at, tries, used_at",
                (attempt_id, self.dialect.ts_in(now), max_tries),
            ).fetchone()
        return None if row is None else self._login_attempt(row)

    def use_login_attempt(
        self, attempt_id: str, now: dt.datetime, token_hash: str
    ) -> Cabinet | None:
        at = self.dialect.ts_in(now)
        with self._tx() as cur:
            row = self._x(
                cur,
                "UPDATE login_attempts SET used_at = ? WHERE id = ? AND used_at IS NULL"
                " RETURNING phone",
                (at, attempt_id),
            ).fetchone()
            if row is None:
                return None
            phone = str(row[0])
            self._x(
                cur,
                "INSERT INTO cabinets (phone, created_at) VALUES (?, ?)"
                " ON CONFLICT (phone) DO NOTHING",
                (phone, at),
            )
            found = self._x(
                cur, "SELECT id, phone, created_at FROM cabinets WHERE phone = ?", (phone,)
            ).fetchone()
            cabinet = self._cabinet(found)
            self._x(
                cur,
                "INSERT INTO cabinet_sessions (token_hash, cabinet_id, created_at,"
                " last_seen_at) VALUES (?, ?, ?, ?)",
                (token_hash, cabinet.id, at, at),
            )
        return cabinet

    def _cabinet(self, r: Sequence[Any]) -> Cabinet:
        return Cabinet(int(r[0]), str(r[1]), self.dialect.ts_out(r[2]))

    def cabinet(self, cabinet_id: int) -> Cabinet | None:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT id, phone, created_at FROM cabinets WHERE id = ?", (cabinet_id,)
            ).fetchone()
        return None if row is None else self._cabinet(row)

    def cabinet_by_phone(self, phone: str) -> Cabinet | None:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT id, phone, created_at FROM cabinets WHERE phone = ?", (phone,)
            ).fetchone()
        return None if row is None else self._cabinet(row)

    def session(self, token_hash: str) -> CabinetSession | None:
        with self._read() as cur:
            row = self._x(
                cur,
                "SELECT token_hash, cabinet_id, created_at, last_seen_at, ended_at"
                " FROM cabinet_sessions WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        if row is None:
            return None
        out = self.dialect.ts_out
        ended = None if row[4] is None else out(row[4])
        return CabinetSession(row[0], int(row[1]), out(row[2]), out(row[3]), ended)

    def touch_session(self, token_hash: str, now: dt.datetime) -> None:
        at = self.dialect.ts_in(now)
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE cabinet_sessions SET last_seen_at = ? WHERE token_hash = ?"
                " AND ended_at IS NULL AND last_seen_at < ?",
                (at, token_hash, at),
            )

    def end_session(self, token_hash: str, now: dt.datetime) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE cabinet_sessions SET ended_at = ? WHERE token_hash = ?"
                " AND ended_at IS NULL",
                (self.dialect.ts_in(now), token_hash),
            )

    def delete_cabinet(self, cabinet_id: int) -> bool:
        with self._tx() as cur:
            row = self._x(cur, "SELECT phone FROM cabinets WHERE id = ?", (cabinet_id,)).fetchone()
            if row is None:
                return False
            self._x(cur, "DELETE FROM login_attempts WHERE phone = ?", (row[0],))
            # its push devices, contacts and opt-outs (0011) are personal data too
            for table in (
                "acceptances",
                "acceptance_withdrawals",
                "devices",
                "notification_contacts",
                "notification_preferences",
            ):
                self._x(cur, f"DELETE FROM {table} WHERE client_id = ?", (f"cabinet:{cabinet_id}",))
            # Sessions, links and link attempts go by the foreign keys' ON DELETE CASCADE;
            # named here too, so that no database's settings can leave them behind.
            for table in ("cabinet_sessions", "cabinet_accounts", "link_attempts"):
                self._x(cur, f"DELETE FROM {table} WHERE cabinet_id = ?", (cabinet_id,))
            self._x(cur, "DELETE FROM cabinets WHERE id = ?", (cabinet_id,))
        return True

    def link_account(
        self, cabinet_id: int, partner_inn: str, account: str, now: dt.datetime
    ) -> LinkedAccount:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO cabinet_accounts (cabinet_id, partner_inn, account, linked_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (cabinet_id, partner_inn, account) DO NOTHING",
                (cabinet_id, partner_inn, account, self.dialect.ts_in(now)),
            )
            row = self._x(
                cur,
                "SELECT linked_at FROM cabinet_accounts WHERE cabinet_id = ?"
                " AND partner_inn = ? AND account = ?",
                (cabinet_id, partner_inn, account),
            ).fetchone()
        return LinkedAccount(cabinet_id, partner_inn, account, self.dialect.ts_out(row[0]))

    def unlink_account(self, cabinet_id: int, partner_inn: str, account: str) -> bool:
        with self._tx() as cur:
            gone = self._x(
                cur,
                "DELETE FROM cabinet_accounts WHERE cabinet_id = ? AND partner_inn = ?"
                " AND account = ? RETURNING account",
                (cabinet_id, partner_inn, account),
            ).fetchall()
        return bool(gone)

    def linked_accounts(self, cabinet_id: int) -> list[LinkedAccount]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT partner_inn, account, linked_at FROM cabinet_accounts"
                " WHERE cabinet_id = ? ORDER BY linked_at, partner_inn, account",
                (cabinet_id,),
            ).fetchall()
        return [LinkedAccount(cabinet_id, r[0], r[1], self.dialect.ts_out(r[2])) for r in rows]

    def begin_link_attempt(
        self, cabinet_id: int, now: dt.datetime, window: dt.timedelta, limit: int
    ) -> int | dt.datetime:
        ts = self.dialect.ts_in
        with self._tx() as cur:
            # In turns across processes (PostgreSQL: this lock; SQLite: the write lock every
            # write transaction holds), so the count read is the count.
            self.dialect.lock_key(cur, f"pes_sdk_runner.link_attempts.{cabinet_id}")
            rows = self._x(
                cur,
                "SELECT at FROM link_attempts WHERE cabinet_id = ? AND succeeded = 0"
                " AND at > ? ORDER BY at DESC LIMIT ?",
                (cabinet_id, ts(now - window), limit),
            ).fetchall()
            if len(rows) >= limit:
                # Free again once the oldest of the last `limit` leaves the window.
                return self.dialect.ts_out(rows[-1][0]) + window
            row = self._x(
                cur,
                "INSERT INTO link_attempts (cabinet_id, succeeded, at) VALUES (?, 0, ?)"
                " RETURNING id",
                (cabinet_id, ts(now)),
            ).fetchone()
        return int(row[0])

    def link_attempt_succeeded(self, attempt_id: int) -> None:
        with self._tx() as cur:
            self._x(cur, "UPDATE link_attempts SET succeeded = 1 WHERE id = ?", (attempt_id,))

    # -- ledger ----------------------------------------------------------------------------

    def ledger_append(self, entries: Sequence[LedgerEntry]) -> int:
        with self._tx() as cur:
            return self._append(cur, entries)

    _LEDGER_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    _INSERT_LEDGER = (
        "INSERT INTO ledger (at, kind, partner_inn, account, service, order_id,"
        f" registry_id, amount, ref, memo) VALUES {_LEDGER_ROW}"
        " ON CONFLICT (ref) DO NOTHING"
    )

    def _ledger_row(self, e: LedgerEntry, now: dt.datetime) -> tuple[Any, ...]:
        if e.amount <= 0:
            raise ValueError(f"a ledger amount is positive (the kind gives direction): {e}")
        return (
            self.dialect.ts_in(e.at or now),
            str(e.kind),
            e.partner_inn,
            e.account,
            e.service,
            str(e.order_id) if e.order_id is not None else None,
            e.registry_id,
            to_kopecks(e.amount),
            e.ref,
            e.memo,
        )

    def _append_all(self, cur: Any, entries: Sequence[LedgerEntry]) -> None:
        """As :meth:`_append`, without counting what was new: one multi-row ``INSERT``
        (a payment's credits, one a line), not a statement a row: on PostgreSQL each
        statement costs the server and the client a round trip's work."""
        now = _now()
        rows = [self._ledger_row(e, now) for e in entries]
        for i in range(0, len(rows), _LEDGER_ROWS_PER_INSERT):
            chunk = rows[i : i + _LEDGER_ROWS_PER_INSERT]
            values = ", ".join([self._LEDGER_ROW] * len(chunk))
            self._x(
                cur,
                self._INSERT_LEDGER.replace(self._LEDGER_ROW, values),
                [value for row in chunk for value in row],
            )

    def _append(self, cur: Any, entries: Sequence[LedgerEntry]) -> int:
        """Append inside the caller's transaction; entries whose ref is taken are skipped."""
        now = _now()
        new = 0
        for e in entries:
            row = self._x(
                cur, self._INSERT_LEDGER + " RETURNING id", self._ledger_row(e, now)
            ).fetchone()
            new += row is not None
        return new

    def credit_payment(self, entry: PaymentEntry, at: dt.datetime | None = None) -> int:
        if not entry.state.is_paid:
            raise StoreError(f"payment {entry.order_id} is {entry.state}: nothing to credit")
        return self.ledger_append(_credits(entry, at or booking_time(entry, _now())))

    def _refunds(
        self, cur: Any, entry: PaymentEntry, amount: Decimal, at: dt.datetime | None
    ) -> list[LedgerEntry]:
        """The ledger refunds of ``amount`` given back on ``entry`` (none if booked already)."""
        lines = entry.payment.lines
        rows = self._x(
            cur,
            "SELECT ref, amount FROM ledger WHERE order_id = ? AND kind = 'refund'",
            (str(entry.order_id),),
        ).fetchall()
        done = [0] * len(lines)  # the partner's part refunded so far, per line, in kopecks
        for ref, kopecks in rows:
            if not str(ref).startswith(f"refund:{entry.order_id}:"):
                continue  # appended by hand, not per line: it names no line
            index = int(str(ref).rsplit(":", 1)[1])
            if 0 <= index < len(lines):
                done[index] += int(kopecks)
        pending = entry.pending_refund
        parts: list[tuple[int, Decimal]] = []
        if pending is not None and pending[1].amount == amount:
            key = pending[0]
            parts = [(p.index, p.amount) for p in pending[1].lines]
        else:
            # Not the processor's own refund (the acquirer's dashboard): named by the
            # refunded total it reached, which only grows. Such refunds fill the lines in
            # order, each up to what the processor's refunds left on it; the earlier ones
            # are skipped over first, so each lands where the ones before did not.
            key = f"at-{to_kopecks(entry.refunded)}"
            own = list(entry.line_refunded) + [Decimal(0)] * (len(lines) - len(entry.line_refunded))
            earlier = max(entry.refunded - amount - sum(own, Decimal(0)), Decimal(0))
            left = amount
            for i, ln in enumerate(lines):
                room = max(ln.amount + ln.client_fee - own[i], Decimal(0))
                skipped = min(earlier, room)
                earlier -= skipped
                take = min(left, room - skipped)
                if take > 0:
                    parts.append((i, take))
                    left -= take
        prefix = f"refund:{entry.order_id}:{key}:"
        if any(str(ref).startswith(prefix) for ref, _ in rows):
            return []  # this refund is in the ledger already
        out = []
        for index, part in parts:
            ln = lines[index]
            # The line's amount is given back before its client fee: the fee is the
            # service's own money and never was the partner's, so it is not in the ledger.
            partner_left = to_kopecks(ln.amount) - done[index]
            partner_part = min(to_kopecks(part), max(partner_left, 0))
            if partner_part <= 0:
                continue
            out.append(
                LedgerEntry(
                    LedgerKind.REFUND,
                    ln.partner_inn,
                    from_kopecks(partner_part),
                    service=ln.service,
                    account=ln.account,
                    order_id=entry.order_id,
                    ref=f"{prefix}{index}",
                    memo=f"refund {key} of payment {entry.gateway_payment_id or entry.order_id}",
                    at=at,
                )
            )
        return out

    def ledger_entries(
        self,
        partner_inn: str | None = None,
        *,
        kind: LedgerKind | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[LedgerEntry]:
        where, params = self._ledger_filter(partner_inn, since, until)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind.value)
        query = f"SELECT {self._LEDGER} FROM ledger l WHERE {' AND '.join(where)} ORDER BY l.id"
        with self._read() as cur:
            rows = self._x(cur, query, params).fetchall()
        return [self._ledger_entry(r) for r in rows]

    _LEDGER = (
        "l.kind, l.partner_inn, l.amount, l.service, l.account, l.order_id, l.registry_id,"
        " l.ref, l.memo, l.at, l.id"
    )

    def _ledger_entry(self, r: Sequence[Any]) -> LedgerEntry:
        return LedgerEntry(
            LedgerKind(r[0]),
            r[1],
            from_kopecks(r[2]),
            service=r[3],
            account=r[4],
            order_id=uuid.UUID(r[5]) if r[5] is not None else None,
            registry_id=r[6],
            ref=r[7],
            memo=r[8],
            at=self.dialect.ts_out(r[9]),
            id=int(r[10]),
        )

    def open_credits(
        self,
        partner_inn: str,
        *,
        until: dt.datetime | None = None,
        legacy_until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        where = ["c.partner_inn = ?", "c.registry_id IS NULL"]
        params: list[Any] = [partner_inn]
        if until is not None:
            where.append("c.at < ?")
            params.append(self.dialect.ts_in(until))
        if legacy_until is not None:
            where.append("(NOT c.legacy OR c.at >= ?)")
            params.append(self.dialect.ts_in(legacy_until))
        query = (
            f"SELECT {self._LEDGER} FROM registry_credits c JOIN ledger l ON l.id = c.ledger_id"
            f" WHERE {' AND '.join(where)} ORDER BY c.at, c.ledger_id"
        )
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._read() as cur:
            rows = self._x(cur, query, params).fetchall()
        return [self._ledger_entry(r) for r in rows]

    def registry_credits(self, registry_id: int) -> list[LedgerEntry]:
        query = (
            f"SELECT {self._LEDGER} FROM registry_credits c JOIN ledger l ON l.id = c.ledger_id"
            " WHERE c.registry_id = ? ORDER BY c.at, c.ledger_id"
        )
        with self._read() as cur:
            rows = self._x(cur, query, (registry_id,)).fetchall()
        return [self._ledger_entry(r) for r in rows]

    def _ledger_filter(
        self, partner_inn: str | None, since: dt.datetime | None, until: dt.datetime | None
    ) -> tuple[list[str], list[Any]]:
        """The WHERE terms of a partner's ledger over ``[since, until)``."""
        where, params = ["1 = 1"], []
        if partner_inn is not None:
            where.append("partner_inn = ?")
            params.append(partner_inn)
        if since is not None:
            where.append("at >= ?")
            params.append(self.dialect.ts_in(since))
        if until is not None:
            where.append("at < ?")
            params.append(self.dialect.ts_in(until))
        return where, params

    def ledger_totals(
        self,
        partner_inn: str | None = None,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> LedgerTotals:
        where, params = self._ledger_filter(partner_inn, since, until)
        with self._read() as cur:
            rows = self._x(
                cur,
                f"SELECT kind, SUM(amount) FROM ledger WHERE {' AND '.join(where)} GROUP BY kind",
                params,
            ).fetchall()
        sums = {LedgerKind(k): from_kopecks(v) for k, v in rows}
        return LedgerTotals(
            credits=sums.get(LedgerKind.CREDIT, from_kopecks(0)),
            refunds=sums.get(LedgerKind.REFUND, from_kopecks(0)),
            fees=sums.get(LedgerKind.FEE, from_kopecks(0)),
            transfers=sums.get(LedgerKind.TRANSFER, from_kopecks(0)),
        )

    # -- payment registries -------------------------------------------------------------------

    _PREG = (
        "SELECT id, partner_inn, number, day, created_at, record_count, amount, fee, transfer"
        " FROM payment_registries"
    )

    def _preg(self, r: Sequence[Any], new: bool = True) -> PaymentRegistryInfo:
        return PaymentRegistryInfo(
            int(r[0]),
            r[1],
            int(r[2]),
            dt.date.fromisoformat(r[3]),
            self.dialect.ts_out(r[4]),
            int(r[5]),
            from_kopecks(r[6]),
            from_kopecks(r[7]),
            from_kopecks(r[8]),
            new,
        )

    def record_payment_registry(
        self,
        partner_inn: str,
        day: dt.date,
        *,
        count: int,
        amount: Decimal,
        fee: Decimal,
        transfer: Decimal,
        credits: Sequence[int] = (),
    ) -> PaymentRegistryInfo:
        if amount != fee + transfer:
            raise ValueError(f"amount {amount} != fee {fee} + transfer {transfer}")
        carried = sorted(set(credits))
        if len(carried) != len(credits):
            raise ValueError("a registry carries each ledger credit once")
        with self._tx() as cur:
            # Bump the counter first: its row lock (PostgreSQL) or the write lock (SQLite)
            # makes concurrent closers of one partner take turns, and what follows reads
            # the other's committed registry.
            number = int(
                self._x(
                    cur,
                    "INSERT INTO payment_registry_counters (partner_inn, last_number)"
                    " VALUES (?, 1) ON CONFLICT (partner_inn) DO UPDATE"
                    " SET last_number = payment_registry_counters.last_number + 1"
                    " RETURNING last_number",
                    (partner_inn,),
                ).fetchone()[0]
            )
            existing = self._x(
                cur,
                self._PREG + " WHERE partner_inn = ? AND day = ?",
                (partner_inn, day.isoformat()),
            ).fetchone()
            if existing is not None:
                # The day is closed already: give the number back by undoing the bump.
                self._x(
                    cur,
                    "UPDATE payment_registry_counters SET last_number = last_number - 1"
                    " WHERE partner_inn = ?",
                    (partner_inn,),
                )
                return self._preg(existing, new=False)
            later = self._x(
                cur,
                "SELECT MAX(day) FROM payment_registries WHERE partner_inn = ?",
                (partner_inn,),
            ).fetchone()[0]
            if later is not None and dt.date.fromisoformat(later) > day:
                # Under the counter's lock: two closers of one partner cannot put a number
                # out of day order, whichever commits first (the bump is rolled back).
                raise RegistryOutOfOrder(partner_inn, day, dt.date.fromisoformat(later))
            row = self._x(
                cur,
                "INSERT INTO payment_registries (partner_inn, number, day, created_at,"
                " record_count, amount, fee, transfer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id, partner_inn, number, day, created_at, record_count, amount,"
                " fee, transfer",
                (
                    partner_inn,
                    number,
                    day.isoformat(),
                    self.dialect.ts_in(_now()),
                    count,
                    to_kopecks(amount),
                    to_kopecks(fee),
                    to_kopecks(transfer),
                ),
            ).fetchone()
            registry_id = int(row[0])
            for start in range(0, len(carried), 500):
                chunk = carried[start : start + 500]
                self._x(
                    cur,
                    "UPDATE registry_credits SET registry_id = ? WHERE partner_inn = ?"
                    f" AND registry_id IS NULL AND ledger_id IN ({', '.join('?' * len(chunk))})",
                    (registry_id, partner_inn, *chunk),
                )
            taken = self._x(
                cur, "SELECT COUNT(*) FROM registry_credits WHERE registry_id = ?", (registry_id,)
            ).fetchone()[0]
            if int(taken) != len(carried):
                # Another registry (a concurrent closer) took some of them first: nothing
                # of this one is kept, and the close is tried again on what is left.
                raise StoreError(
                    f"partner {partner_inn}: {len(carried) - int(taken)} of the credits for"
                    f" {day:%d.%m.%Y} are in another registry already or unknown; close again"
                )
            return self._preg(row)

    def payment_registries(self, partner_inn: str) -> list[PaymentRegistryInfo]:
        with self._read() as cur:
            rows = self._x(
                cur, self._PREG + " WHERE partner_inn = ? ORDER BY number", (partner_inn,)
            ).fetchall()
        return [self._preg(r) for r in rows]

    # -- deliveries --------------------------------------------------------------------------

    _DELIVERY = (
        "SELECT id, registry_id, channel, target, status, attempts, last_error, created_at,"
        " updated_at, acknowledged_at FROM deliveries"
    )

    def _delivery(self, r: Sequence[Any]) -> DeliveryInfo:
        ts = self.dialect.ts_out
        return DeliveryInfo(
            int(r[0]),
            int(r[1]),
            r[2],
            r[3],
            DeliveryStatus(r[4]),
            int(r[5]),
            r[6],
            ts(r[7]),
            ts(r[8]),
            ts(r[9]) if r[9] is not None else None,
        )

    def _delivery_by_id(self, cur: Any, delivery_id: int) -> DeliveryInfo:
        row = self._x(cur, self._DELIVERY + " WHERE id = ?", (delivery_id,)).fetchone()
        if row is None:
            raise KeyError(f"no delivery {delivery_id}")
        return self._delivery(row)

    def open_delivery(self, registry_id: int, channel: str, target: str) -> DeliveryInfo:
        now = self.dialect.ts_in(_now())
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO deliveries (registry_id, channel, target, status, attempts,"
                " created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)"
                " ON CONFLICT (registry_id, channel) DO NOTHING",
                (registry_id, channel, target, now, now),
            )
            row = self._x(
                cur,
                self._DELIVERY + " WHERE registry_id = ? AND channel = ?",
                (registry_id, channel),
            ).fetchone()
        return self._delivery(row)

    def record_delivery_attempt(self, delivery_id: int, error: str | None = None) -> DeliveryInfo:
        now = self.dialect.ts_in(_now())
        with self._tx() as cur:
            current = self._delivery_by_id(cur, delivery_id)
            status: DeliveryStatus
            if current.status in (DeliveryStatus.ACKNOWLEDGED, DeliveryStatus.DELIVERED):
                status = current.status  # a late attempt never undoes a delivery
            else:
                status = DeliveryStatus.PENDING if error else DeliveryStatus.DELIVERED
            self._x(
                cur,
                "UPDATE deliveries SET attempts = attempts + 1, status = ?, last_error = ?,"
                " updated_at = ? WHERE id = ?",
                (str(status), error, now, delivery_id),
            )
            return self._delivery_by_id(cur, delivery_id)

    def fail_delivery(self, delivery_id: int, error: str) -> DeliveryInfo:
        now = self.dialect.ts_in(_now())
        with self._tx() as cur:
            self._delivery_by_id(cur, delivery_id)
            self._x(
                cur,
                "UPDATE deliveries SET status = 'failed', last_error = ?, updated_at = ?"
                " WHERE id = ? AND status IN ('pending', 'failed')",
                (error, now, delivery_id),
            )
            return self._delivery_by_id(cur, delivery_id)

    def acknowledge_delivery(self, delivery_id: int, at: dt.datetime | None = None) -> DeliveryInfo:
        when = self.dialect.ts_in(at or _now())
        with self._tx() as cur:
            self._delivery_by_id(cur, delivery_id)
            self._x(
                cur,
                "UPDATE deliveries SET status = 'acknowledged', updated_at = ?,"
                " acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
                (when, when, delivery_id),
            )
            return self._delivery_by_id(cur, delivery_id)

    def deliveries(self, status: DeliveryStatus | None = None) -> list[DeliveryInfo]:
        with self._read() as cur:
            if status is None:
                rows = self._x(cur, self._DELIVERY + " ORDER BY id").fetchall()
            else:
                rows = self._x(
                    cur, self._DELIVERY + " WHERE status = ? ORDER BY id", (str(status),)
                ).fetchall()
        return [self._delivery(r) for r in rows]

    # -- meter readings ----------------------------------------------------------------------

    _READING = (
        "SELECT r.id, r.client_id, r.partner_inn, r.account, r.meter_number, r.meter_type,"
        " r.service, r.house_id, r.meter_values, r.taken_on, r.photo_sha256, p.media_type,"
        " r.decrease_reason, r.received_at FROM meter_readings r"
        " LEFT JOIN reading_photos p ON p.sha256 = r.photo_sha256"
    )

    def _reading(self, r: Sequence[Any], superseded: bool = False) -> StoredReading:
        reading = MeterReading(
            r[3],
            r[4],
            MeterType(int(r[5])),
            tuple(Decimal(v) for v in json.loads(r[8])),
            dt.date.fromisoformat(r[9]),
            house_id=r[7],
            service=r[6],
            photo=Photo(r[10], r[11]) if r[10] is not None else None,
        )
        return StoredReading(
            int(r[0]),
            r[1],
            r[2],
            reading,
            self.dialect.ts_out(r[13]),
            DecreaseReason(r[12]) if r[12] is not None else None,
            superseded,
        )

    def record_reading(
        self,
        client_id: str,
        partner_inn: str,
        reading: MeterReading,
        *,
        photo: bytes | None = None,
        decrease: DecreaseReason | None = None,
        received_at: dt.datetime | None = None,
    ) -> StoredReading:
        if photo is not None:
            digest = hashlib.sha256(photo).hexdigest()
            if reading.photo is None or reading.photo.sha256 != digest:
                raise ValueError("the reading's photo hash is not the sha256 of the photo")
        values = json.dumps([format(v, "f") for v in reading.values])
        r = reading
        with self._tx() as cur:
            # One meter's readings at a time: the comparison and the insert are one step.
            self.dialect.lock_key(cur, f"reading:{partner_inn}:{r.account}:{r.meter_number}")
            rows = self._x(
                cur,
                self._READING + " WHERE r.partner_inn = ? AND r.account = ?"
                " AND r.meter_number = ? ORDER BY r.taken_on, r.id",
                (partner_inn, r.account, r.meter_number),
            ).fetchall()
            newest: dict[dt.date, StoredReading] = {}
            for row in rows:  # in id order within a date: the last one counts
                known = self._reading(row)
                newest[known.reading.taken_on] = known
            same = newest.get(r.taken_on)
            if same is not None and _same_reading(same, reading, decrease):
                return attrs.evolve(same, new=False)
            if decrease is None:
                _check_order(newest, reading)
            if photo is not None:
                assert r.photo is not None
                self._x(
                    cur,
                    "INSERT INTO reading_photos (sha256, media_type, size, data, created_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                    (
                        r.photo.sha256,
                        r.photo.media_type,
                        len(photo),
                        photo,
                        self.dialect.ts_in(_now()),
                    ),
                )
            new_id = self._x(
                cur,
                "INSERT INTO meter_readings (client_id, partner_inn, account, meter_number,"
                " meter_type, service, house_id, meter_values, taken_on, photo_sha256,"
                " decrease_reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (
                    client_id,
                    partner_inn,
                    r.account,
                    r.meter_number,
                    int(r.meter_type),
                    r.service,
                    r.house_id,
                    values,
                    r.taken_on.isoformat(),
                    r.photo.sha256 if r.photo is not None else None,
                    str(decrease) if decrease is not None else None,
                    self.dialect.ts_in(received_at or _now()),
                ),
            ).fetchone()[0]
            row = self._x(cur, self._READING + " WHERE r.id = ?", (int(new_id),)).fetchone()
        return self._reading(row)

    def readings(self, partner_inn: str, account: str) -> list[StoredReading]:
        with self._read() as cur:
            rows = self._x(
                cur,
                self._READING + " WHERE r.partner_inn = ? AND r.account = ?"
                " ORDER BY r.taken_on DESC, r.id DESC",
                (partner_inn, account),
            ).fetchall()
        seen: set[tuple[str, str]] = set()
        out = []
        for row in rows:  # newest first: the first of a meter and date counts
            current = (row[4], row[9])
            out.append(self._reading(row, superseded=current in seen))
            seen.add(current)
        return out

    def readings_received(
        self, partner_inn: str, since: dt.datetime, until: dt.datetime
    ) -> list[StoredReading]:
        end = self.dialect.ts_in(until)
        with self._read() as cur:
            rows = self._x(
                cur,
                self._READING + " WHERE r.partner_inn = ? AND r.received_at >= ?"
                " AND r.received_at < ? AND NOT EXISTS (SELECT 1 FROM meter_readings n"
                " WHERE n.partner_inn = r.partner_inn AND n.account = r.account"
                " AND n.taken_on = r.taken_on AND n.meter_number = r.meter_number"
                " AND n.id > r.id AND n.received_at < ?) ORDER BY r.id",
                (partner_inn, self.dialect.ts_in(since), end, end),
            ).fetchall()
        return [self._reading(row) for row in rows]

    def reading_photo(self, sha256: str) -> tuple[str, bytes] | None:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT media_type, data FROM reading_photos WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))


def _same_reading(
    known: StoredReading, reading: MeterReading, decrease: DecreaseReason | None
) -> bool:
    """A repeat of the newest reading of a meter and date (a retry), not a correction."""
    return known.reading == reading and known.decrease == decrease


def _check_order(newest: dict[dt.date, StoredReading], reading: MeterReading) -> None:
    """Refuse a value below the meter's previous date or above its next one."""
    before = [d for d in newest if d < reading.taken_on]
    after = [d for d in newest if d > reading.taken_on]
    checks = []
    if before:
        checks.append((newest[max(before)].reading, 1))
    if after:
        checks.append((newest[min(after)].reading, -1))
    for other, direction in checks:
        if len(other.values) != len(reading.values):
            raise ReadingRefused(
                "tariffs-changed",
                f"the meter's reading of {other.taken_on} has {len(other.values)} tariff"
                f" values, this one {len(reading.values)}: say decrease=replaced if the"
                " meter was replaced",
                "reading.values",
            )
        for i, (mine, theirs) in enumerate(zip(reading.values, other.values, strict=True)):
            if direction > 0 and mine < theirs:
                raise ReadingRefused(
                    "value-decreased",
                    f"T{i + 1} {mine} is below {theirs} of {other.taken_on}: say decrease="
                    "rollover or decrease=replaced if the meter rolled over or was replaced",
                    f"reading.values[{i}]",
                )
            if direction < 0 and mine > theirs:
                raise ReadingRefused(
                    "value-above-later",
                    f"T{i + 1} {mine} is above {theirs} of the later {other.taken_on}",
                    f"reading.values[{i}]",
                )


def _credits(entry: PaymentEntry, at: dt.datetime | None) -> list[LedgerEntry]:
    """One ledger credit per basket line, keyed ``credit:<order>:<line>`` (appended once)."""
    return [
        LedgerEntry(
            LedgerKind.CREDIT,
            ln.partner_inn,
            ln.amount,
            service=ln.service,
            account=ln.account,
            order_id=entry.order_id,
            ref=f"credit:{entry.order_id}:{i}",
            memo=f"payment {entry.gateway_payment_id or entry.order_id}",
            at=at,
        )
        for i, ln in enumerate(entry.payment.lines)
    ]
