"""The store behind one interface: :class:`Store`, and the values it reads and writes.

Two implementations share their SQL through the dialect layer (:mod:`.dialect`):
:class:`~pes_sdk_runner.store.sqlite.SqliteStore` (the default, a SQLite file) and
:class:`~pes_sdk_runner.store.postgres.PostgresStore`. Open either with
:func:`pes_sdk_runner.store.open_store` and a URL.

Money crosses this interface as :class:`~decimal.Decimal` with two places; in SQL it is
integer kopecks. Timestamps are aware datetimes in UTC; a naive one is refused.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from pes_sdk.addresses import parse_address
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import Partner
from pes_sdk.models.readings import MeterReading
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk_runner.store.campaigns import CampaignStore
from pes_sdk_runner.store.notify import NotificationStore

__all__ = [
    "Acceptance",
    "Cabinet",
    "CabinetSession",
    "DebtRegistryInfo",
    "DecreaseReason",
    "DeliveryInfo",
    "DeliveryStatus",
    "House",
    "IngestResult",
    "LedgerEntry",
    "LedgerKind",
    "LedgerTotals",
    "LinkedAccount",
    "LoginAttempt",
    "PaymentRegistryInfo",
    "RateLimit",
    "RefundClaim",
    "RegistryOutcome",
    "ServiceBalance",
    "Store",
    "StoredReading",
]


class RegistryOutcome(enum.StrEnum):
    """What became of a debt registry handed to :meth:`Store.ingest_debt_registry`."""

    ACTIVATED = "activated"  #: it is now the partner's registry for its period
    DUPLICATE = "duplicate"  #: the same number and content was already received: no-op
    STALE = "stale"  #: a newer registry for the period is active: recorded as superseded


@attrs.frozen
class DebtRegistryInfo:
    """A debt registry as the store recorded it (its records are in the ``debts`` table)."""

    id: int
    partner_inn: str
    period: Period
    number: int
    received_at: dt.datetime
    sha256: str
    count: int
    total: Decimal
    active: bool


@attrs.frozen
class IngestResult:
    outcome: RegistryOutcome
    registry: DebtRegistryInfo
    #: the registry this one replaced (``ACTIVATED`` only), or ``None``
    replaced: DebtRegistryInfo | None = None


@attrs.frozen
class ServiceBalance:
    """One partner service at an address or on an account, with what is left to pay.

    ``balance = debt − (credits − refunds)`` in the ledger on this account and service since
    the registry was received. Negative means overpaid (an advance). ``service`` is the
    service's name (its key on the account) and ``service_code`` the partner's code of it,
    both as the debt registry gave them.
    """

    partner_inn: str
    account: str
    service: str
    house_id: str | None  #: None: the registry gave no address; found by account only
    premises: str
    debt: Decimal
    paid: Decimal
    registry_id: int
    registry_period: Period
    registry_number: int
    period: Period | None = None
    service_code: str = ""

    @property
    def balance(self) -> Decimal:
        return self.debt - self.paid

    @property
    def due(self) -> Decimal:
        """What the client can be asked to pay now: the balance, or zero."""
        return self.balance if self.balance > 0 else ZERO


@attrs.frozen
class House:
    """One house of the house directory (справочник домов): its GUID and address.

    ``house_key``, ``street_key`` and ``street_type`` are those of
    :func:`pes_sdk.addresses.parse_address` of the address (:meth:`from_address`); the
    directory is searched by them when a registry writes the address as text.
    """

    guid: str  #: ГАР OBJECTGUID / ФИАС HOUSEGUID, lower case
    address: str  #: as the source wrote it, or as composed from ГАР
    house_key: str
    street_key: str
    street_type: str = ""
    source: str = "csv"  #: ``gar`` or ``csv``

    @classmethod
    def from_address(cls, guid: str, address: str, source: str = "csv") -> House:
        """The house at ``address`` text, keyed by :func:`~pes_sdk.addresses.parse_address`."""
        parsed = parse_address(address)
        return cls(guid.lower(), address, parsed.key, parsed.street_key, parsed.street_type, source)


@attrs.frozen
class Acceptance:
    """A client's confirmed link to a partner service (галочка-акцепт)."""

    client_id: str
    partner_inn: str
    account: str
    service: str = ""
    house_id: str | None = None
    premises: str = ""
    accepted_at: dt.datetime | None = None  #: set by the store when ``None``


class LedgerKind(enum.StrEnum):
    """What moved. Amounts are positive; the kind gives the direction."""

    CREDIT = "credit"  #: a client paid a line: the service owes it to the partner
    REFUND = "refund"  #: money given back to the client
    FEE = "fee"  #: the service's commission (with VAT) withheld
    TRANSFER = "transfer"  #: money sent to the partner's bank account


@attrs.frozen
class LedgerEntry:
    """One ledger movement. ``ref`` makes an append idempotent: the same ref is kept once."""

    kind: LedgerKind
    partner_inn: str
    amount: Decimal
    service: str = ""
    account: str | None = None
    order_id: uuid.UUID | None = None
    registry_id: int | None = None
    ref: str | None = None
    memo: str = ""
    at: dt.datetime | None = None  #: set by the store when ``None``
    id: int | None = None  #: set by the store


@attrs.frozen
class LedgerTotals:
    """Sums of the ledger; ``owed`` is what the service still owes the partner."""

    credits: Decimal = ZERO
    refunds: Decimal = ZERO
    fees: Decimal = ZERO
    transfers: Decimal = ZERO

    @property
    def owed(self) -> Decimal:
        return self.credits - self.refunds - self.fees - self.transfers


@attrs.frozen
class PaymentRegistryInfo:
    """A payment registry (реестр оплат) recorded with its gapless number."""

    id: int
    partner_inn: str
    number: int
    day: dt.date
    created_at: dt.datetime
    count: int
    amount: Decimal
    fee: Decimal
    transfer: Decimal
    #: False when the day was already closed and this is the registry recorded then
    new: bool = True


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  #: not yet handed over (or the last attempt failed; retry)
    DELIVERED = "delivered"  #: handed over; waiting for the partner's acknowledgement
    ACKNOWLEDGED = "acknowledged"  #: the partner confirmed receipt: done
    FAILED = "failed"  #: attempts exhausted; an operator must look


@attrs.frozen
class DeliveryInfo:
    id: int
    registry_id: int
    channel: str
    target: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    acknowledged_at: dt.datetime | None = None


@attrs.frozen
class RefundClaim:
    """An operator's refund request by its Idempotency-Key, and the refund it became.

    ``refund_no`` is the processor's refund number of the payment (its key ends in
    ``-r<refund_no>``): the request is done once the payment's ``refund_count`` reaches it.
    """

    order_id: uuid.UUID
    key: str
    request: str  #: the canonical request (JSON): a key reused for another one is refused
    refund_no: int
    new: bool = True  #: False when the key was claimed before


@attrs.frozen
class Lease:
    """Who holds a named lease in the store (one holder at a time), and until when.

    Taken with :meth:`Store.take_lease`; it is the caller's while ``owner`` is its own.
    """

    name: str
    owner: str
    expires_at: dt.datetime  #: aware, UTC: from then on another owner may take it


@attrs.frozen
class ProcessBeat:
    """A runner process as its heartbeats leave it in the store
    (:class:`pes_sdk_runner.heartbeat.Heartbeat`; ``pes runner status`` reads them)."""

    id: str  #: random per start of a process (pids are reused)
    role: str  #: "serve" or "worker"
    host: str
    pid: int
    version: str  #: the runner's version
    started_at: dt.datetime  #: aware, UTC
    beat_at: dt.datetime  #: aware, UTC: its last heartbeat


@attrs.frozen
class Cabinet:
    """A client cabinet (личный кабинет): one per phone, created at its first login."""

    id: int
    phone: str  #: E.164, personal data: never logged
    created_at: dt.datetime


@attrs.frozen
class LoginAttempt:
    """A login code sent to a phone, as the store keeps it (the code only as its HMAC)."""

    id: str
    phone: str
    code_hash: str
    client_ip: str
    created_at: dt.datetime
    expires_at: dt.datetime
    tries: int = 0
    used_at: dt.datetime | None = None


@attrs.frozen
class RateLimit:
    """At most ``count`` login attempts with ``column`` (``phone`` or ``client_ip``) equal
    to ``value`` made within ``window`` before now."""

    column: str
    value: str
    window: dt.timedelta
    count: int

    def __attrs_post_init__(self) -> None:
        if self.column not in ("phone", "client_ip"):
            raise ValueError(f"a login limit is by phone or client_ip, not {self.column!r}")


@attrs.frozen
class CabinetSession:
    """A session of a cabinet (the token only as its HMAC)."""

    token_hash: str
    cabinet_id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None = None


@attrs.frozen
class LinkedAccount:
    """A partner's account a cabinet proved it holds."""

    cabinet_id: int
    partner_inn: str
    account: str
    linked_at: dt.datetime


class DecreaseReason(enum.StrEnum):
    """Why a meter value may be lower than the previous one (otherwise it is refused)."""

    ROLLOVER = "rollover"  #: the meter passed its digit capacity and started from zero
    REPLACED = "replaced"  #: a new meter with the same number was installed


@attrs.frozen
class StoredReading:
    """A meter reading (показание прибора учёта) as the store keeps it: append-only.

    For one meter and date the newest reading counts; the ones it corrected are
    ``superseded``. ``client_id`` is the app-scoped client that sent it.
    """

    id: int
    client_id: str
    partner_inn: str
    reading: MeterReading
    received_at: dt.datetime
    decrease: DecreaseReason | None = None
    superseded: bool = False
    new: bool = True  #: False when the same reading was already recorded (a repeat)


@runtime_checkable
class Store(NotificationStore, CampaignStore, Protocol):
    """Everything the runner keeps, behind one interface (SQLite or PostgreSQL).

    It is also the processor's book: :class:`pes_sdk.gateways.processor.PaymentStore`
    (``add``, ``get``, ``put``, iteration), so ``PaymentProcessor(gw, store=store)`` runs
    on SQL. Every method is one transaction; a failed one changes nothing.
    """

    url: str

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, in order; return their versions.

        Idempotent. Raises :class:`~.errors.SchemaTooNew` when the database knows a
        migration this code does not, and :class:`~.errors.MigrationError` when an applied
        migration's file has changed.
        """
        ...

    def schema_version(self) -> int:
        """The newest migration applied (0 for an empty database)."""
        ...

    def close(self) -> None: ...

    def reads_together(self) -> AbstractContextManager[None]:
        """Make this thread's reads in the block one turn at the store: another thread's
        call waits for the block's end instead of coming between each of them.

        For a page that reads a few things at once: under many requests, each read
        waiting its turn again costs more than the read. Keep the block to reads; no
        network calls or long work in it."""
        ...

    def deferred_durability(self) -> AbstractContextManager[None]:
        """Put off this thread's waits for durable commits to the end of the block.

        For a caller that commits under a lock of its own (the payment processor): enter
        the block before taking the lock and answer only after it ended, so commits of
        other threads share one fsync (SQLite group commit). A no-op elsewhere.
        """
        ...

    # -- partners ---------------------------------------------------------------------------

    def upsert_partners(self, partners: Iterable[Partner]) -> None:
        """Insert or replace partners by ИНН (the configuration is the source of truth)."""
        ...

    def partners(self) -> list[Partner]: ...

    # -- debt registries ----------------------------------------------------------------------

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
        """Stream a partner's debt registry into the store, in one transaction.

        ``records`` is consumed once, in batches of ``batch_size``: memory stays bounded
        whatever the registry's size. The rule, decided by ``number`` for the same partner
        and period: a higher number replaces the active registry (its debts are removed);
        a lower one is recorded as superseded and changes nothing (``STALE``); the same
        number with the same ``sha256`` is a no-op (``DUPLICATE``); the same number with
        another ``sha256`` raises :class:`~.errors.RegistryConflict`.
        """
        ...

    def debt_registries(self, partner_inn: str) -> list[DebtRegistryInfo]:
        """The partner's debt registries, newest period and number first."""
        ...

    def find_services(self, house_id: str, premises: str) -> list[ServiceBalance]:
        """Every partner service at an address, from each partner's newest active registry.

        ``premises`` is matched by :func:`pes_sdk.premises.matching_key`, so ``кв. 12А``
        finds ``12a``.
        """
        ...

    def find_by_account(self, partner_inn: str, account: str) -> list[ServiceBalance]:
        """The partner's services on a personal account, as :meth:`find_services`."""
        ...

    def find_by_accounts(
        self, accounts: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[ServiceBalance]]:
        """:meth:`find_by_account` of each (partner ИНН, account) at once (one query for a
        few): every account asked for is a key, with ``[]`` when it has no services."""
        ...

    def find_services_at(self, places: Iterable[tuple[str, str]]) -> list[ServiceBalance]:
        """:meth:`find_services` of each (house GUID, premises) at once, in one list (one
        query for a few; an address named twice, as the same matching key, counts once)."""
        ...

    def account_charges(self, partner_inn: str, account: str) -> list[ServiceBalance]:
        """What each of the partner's active debt registries (one per period) charged on the
        account, newest registry period first; ``paid`` as :meth:`find_services` counts it
        since that registry was received."""
        ...

    def debts_without_house(self) -> dict[str, int]:
        """Per partner ИНН, how many active debts have no house (found by account only)."""
        ...

    # -- the house directory (справочник домов) ------------------------------------------------

    def upsert_houses(self, houses: Iterable[House]) -> int:
        """Insert or replace houses by GUID, in one transaction; return how many.

        Idempotent: importing the same directory again changes nothing but ``updated_at``.
        """
        ...

    def houses_by_key(self, house_key: str) -> list[House]:
        """The houses whose :attr:`House.house_key` is ``house_key`` (any number of them)."""
        ...

    def houses_by_street_key(self, street_key: str) -> list[House]:
        """The houses whose :attr:`House.street_key` is ``street_key``."""
        ...

    def house_address(self, guid: str) -> str | None:
        """The address of the house ``guid`` in the directory, for the cabinet; or None."""
        ...

    def house_count(self) -> int:
        """How many houses the directory holds."""
        ...

    # -- acceptances --------------------------------------------------------------------------

    def record_acceptance(self, acceptance: Acceptance) -> Acceptance:
        """Record a client's tick; a repeat returns the first one unchanged."""
        ...

    def acceptances(self, client_id: str) -> list[Acceptance]:
        """The client's ticks that count now (withdrawn ones are not among them)."""
        ...

    def withdraw_acceptance(
        self,
        client_id: str,
        partner_inn: str,
        account: str,
        service: str,
        at: dt.datetime | None = None,
    ) -> bool:
        """Withdraw the client's tick of exactly ``service`` on the account (``""``: the
        account-wide one): it counts no more, and it is kept, with ``at`` (now by default),
        among :meth:`withdrawn_acceptances`. Ticking again records a new one. False when
        there was no such tick."""
        ...

    def withdrawn_acceptances(self, client_id: str) -> list[tuple[Acceptance, dt.datetime]]:
        """The client's withdrawn ticks, oldest first, each with when it was withdrawn."""
        ...

    # -- payments (the processor's PaymentStore) ------------------------------------------------

    def add(self, entry: PaymentEntry) -> None:
        """Store a new entry; ``KeyError`` if its order id is taken."""
        ...

    def get(self, order_id: uuid.UUID) -> PaymentEntry | None: ...

    def get_many(self, order_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PaymentEntry]:
        """The entries of ``order_ids`` by order id, in a few queries (the unknown left out)."""
        ...

    def put(self, entry: PaymentEntry) -> None:
        """Replace the entry with the same order id (``KeyError`` if there is none).

        A paid entry's ledger credits (as :meth:`credit_payment`) are appended in the same
        transaction, so no crash can leave a payment recorded as paid but not credited.
        They are booked at the entry's ``paid_at`` (the acquirer's capture time), kept
        between the payment's creation and now (:func:`~.sql.booking_time`), and the
        payment keeps that time as its ``paid_at``.
        """
        ...

    def __iter__(self) -> Iterator[PaymentEntry]: ...

    def unsettled_payments(
        self,
        *,
        updated_before: dt.datetime,
        created_since: dt.datetime,
        limit: int = 500,
        checked_before: dt.datetime | None = None,
        fresh_since: dt.datetime | None = None,
    ) -> list[uuid.UUID]:
        """Payments still ``created`` or ``pending``, unchanged since ``updated_before``.

        Only those created since ``created_since`` (older ones have expired at the
        acquirer), at most ``limit``: the scheduler asks the acquirer about them, the
        backstop for webhooks that never arrived. Those never asked about come first, then
        the least recently asked (:meth:`record_payment_checks`), then the least recently
        updated: passes of ``limit`` take every waiting payment in turn, however many wait.

        ``checked_before``: a payment asked about at that time or later is left out, unless
        it was created since ``fresh_since`` (the backstop asks old payments less often).
        """
        ...

    def record_payment_checks(self, order_ids: Iterable[uuid.UUID], at: dt.datetime) -> None:
        """Record that the acquirer was asked about ``order_ids`` at ``at``: their turn in
        :meth:`unsettled_payments` moves behind every payment asked about earlier."""
        ...

    def waiting_payments(self, created_since: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How many payments created since ``created_since`` still wait (``created`` or
        ``pending``), and when the oldest of them was created (None: none waits)."""
        ...

    def record_payment_app(self, order_id: uuid.UUID, app_id: str) -> str:
        """Record the client app that creates a payment; return the app on record.

        The first app recorded for an order keeps it (a repeat is a no-op), so a caller
        compares the answer with its own id.
        """
        ...

    def payments_of_app(self, app_id: str, limit: int = 200) -> list[PaymentEntry]:
        """The newest ``limit`` payments the app (a cabinet: ``cabinet:<id>``) created,
        newest first."""
        ...

    def payment_app(self, order_id: uuid.UUID) -> str | None:
        """The app that created the payment (``None``: unknown, e.g. made before 0002)."""
        ...

    def claim_refund(
        self, order_id: uuid.UUID, key: str, request: str, refund_no: int
    ) -> RefundClaim:
        """Record an operator's refund request under its key, or return the one recorded."""
        ...

    def refund_claim(self, order_id: uuid.UUID, key: str) -> RefundClaim | None:
        """The refund request recorded under ``key``, if any."""
        ...

    def release_refund_claim(self, order_id: uuid.UUID, key: str) -> None:
        """Forget a claim whose refund was refused before it reached the acquirer."""
        ...

    # -- leases and locks --------------------------------------------------------------------------

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """A lock on ``key`` across every process on the store (and every thread of each)
        while the block runs, lost with its process; not a transaction (see
        :meth:`Dialect.exclusive
        <pes_sdk_runner.store.dialect.Dialect.exclusive>`)."""
        ...

    def take_lease(
        self, name: str, owner: str, ttl: dt.timedelta, *, replacing: str | None = None
    ) -> Lease:
        """Take or renew the lease ``name`` for ``owner`` until now + ``ttl``, unless another
        owner holds it unexpired (``replacing``: or unless that owner holds it, known dead);
        return the holder after the attempt (compare its owner). One statement: two
        processes asking at once cannot both get it."""
        ...

    def lease(self, name: str) -> Lease | None:
        """The lease ``name`` as the store has it (perhaps expired), or None if none is held."""
        ...

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it."""
        ...

    # -- processes (heartbeats) ----------------------------------------------------------------

    def beat(self, process: ProcessBeat) -> None:
        """Write this process's row (insert it, or renew its ``beat_at``). One statement."""
        ...

    def end_process(self, process_id: str) -> None:
        """Delete a process's row: it stopped cleanly."""
        ...

    def processes(self) -> list[ProcessBeat]:
        """Every process with a row, alive or not, by role and start."""
        ...

    def forget_processes(self, beat_before: dt.datetime) -> int:
        """Delete the rows whose last beat is older than ``beat_before``; return how many."""
        ...

    # -- ledger --------------------------------------------------------------------------------

    def ledger_append(self, entries: Sequence[LedgerEntry]) -> int:
        """Append entries in one transaction; return how many were new (by ``ref``)."""
        ...

    def credit_payment(self, entry: PaymentEntry, at: dt.datetime | None = None) -> int:
        """Append one credit per basket line of a paid payment (idempotent by order id).

        :meth:`put` already does this for a paid entry; this books credits at a given time
        (repairs, back-filled data, benchmarks; by default as :meth:`put` would) and costs
        nothing when they are there.
        """
        ...

    def ledger_entries(
        self,
        partner_inn: str | None = None,
        *,
        kind: LedgerKind | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[LedgerEntry]:
        """Entries in append order, optionally of one ``kind`` and within ``[since, until)``.

        The window is served by the ``(partner_inn, at)`` index: closing a day reads that
        day's entries, not the partner's whole history.
        """
        ...

    def ledger_totals(
        self,
        partner_inn: str | None = None,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> LedgerTotals:
        """Sums by kind over ``[since, until)``; derived every time, never stored."""
        ...

    def open_credits(
        self,
        partner_inn: str,
        *,
        until: dt.datetime | None = None,
        legacy_until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """The partner's ledger credits that no payment registry carries yet, oldest first.

        Only those before ``until``, whatever their age: a credit booked into a day already
        closed (captured before its cut-off, confirmed after the close) is still open and
        goes into the next registry. Credits booked before migration 0003 are carried by
        the registries of that time by their window: those before ``legacy_until`` (the end
        of the partner's last closed day) are left out. ``limit``: the oldest few only.
        """
        ...

    def registry_credits(self, registry_id: int) -> list[LedgerEntry]:
        """The ledger credits a payment registry carries, in time order (then ledger id)."""
        ...

    # -- payment registries ------------------------------------------------------------------

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
        """Record the day's payment registry under the partner's next gapless number.

        The counter and the registry are written in one transaction, so concurrent closers
        never share or skip a number. A day already closed returns its registry
        (``new=False``) and takes no number: a re-run of a day close is idempotent. A day
        before the partner's last closed day raises :class:`~.errors.RegistryOutOfOrder`:
        numbers follow the days. ``credits`` are the ids of the open ledger credits the
        registry carries (:meth:`open_credits`), taken in the same transaction; if another
        registry took one of them first, :class:`~.errors.StoreError` and nothing is kept.
        """
        ...

    def payment_registries(self, partner_inn: str) -> list[PaymentRegistryInfo]: ...

    # -- deliveries --------------------------------------------------------------------------

    def open_delivery(self, registry_id: int, channel: str, target: str) -> DeliveryInfo:
        """The delivery of a registry through a channel, created ``pending`` if new."""
        ...

    def record_delivery_attempt(self, delivery_id: int, error: str | None = None) -> DeliveryInfo:
        """Count an attempt: ``delivered`` without ``error``, else ``pending`` with it."""
        ...

    def fail_delivery(self, delivery_id: int, error: str) -> DeliveryInfo:
        """Give up on a delivery (bounded retries exhausted)."""
        ...

    def acknowledge_delivery(self, delivery_id: int, at: dt.datetime | None = None) -> DeliveryInfo:
        """The partner confirmed receipt; repeating it keeps the first time."""
        ...

    def deliveries(self, status: DeliveryStatus | None = None) -> list[DeliveryInfo]: ...

    # -- client cabinets --------------------------------------------------------------------
    # Times come from the caller (the cabinet's clock), aware UTC.

    def add_login_attempt(
        self, attempt: LoginAttempt, limits: Sequence[RateLimit]
    ) -> dt.datetime | None:
        """Record the attempt unless one of ``limits`` is reached at its ``created_at``;
        return None when recorded, else the earliest time the limits let another through.
        The count and the insert are one transaction, taken in turns by every process on
        the store: two requests at once cannot both slip under a limit. Attempts older
        than a day are deleted in it (no limit looks further back)."""
        ...

    def try_login_attempt(
        self, attempt_id: str, now: dt.datetime, max_tries: int
    ) -> LoginAttempt | None:
        """Count one try of the attempt and return it (``tries`` counted), or None when it
        does not exist, has expired, was used or has had ``max_tries`` tries already."""
        ...

    def use_login_attempt(
        self, attempt_id: str, now: dt.datetime, token_hash: str
    ) -> Cabinet | None:
        """Mark the attempt used and open a session ``token_hash`` for its phone's cabinet
        (created now if the phone has none), in one transaction; None when the attempt was
        used already (or is gone): a code opens one session."""
        ...

    def cabinet(self, cabinet_id: int) -> Cabinet | None: ...

    def cabinet_by_phone(self, phone: str) -> Cabinet | None: ...

    def session(self, token_hash: str) -> CabinetSession | None:
        """The session as stored (perhaps ended or timed out), or None."""
        ...

    def touch_session(self, token_hash: str, now: dt.datetime) -> None:
        """Note that the session was used ``now`` (its idle timeout starts again)."""
        ...

    def end_session(self, token_hash: str, now: dt.datetime) -> None:
        """End the session (a repeat keeps the first end)."""
        ...

    def delete_cabinet(self, cabinet_id: int) -> bool:
        """Delete the cabinet with its phone, sessions, linked accounts, link attempts, the
        login attempts of its phone and its acceptances (client ``cabinet:<id>``); False
        when there was none. Payments and readings stay (they are the partners' records,
        and name the cabinet by its id, not its phone)."""
        ...

    def link_account(
        self, cabinet_id: int, partner_inn: str, account: str, now: dt.datetime
    ) -> LinkedAccount:
        """Link the account to the cabinet (a repeat returns the first link)."""
        ...

    def unlink_account(self, cabinet_id: int, partner_inn: str, account: str) -> bool:
        """Unlink the account; False when it was not linked."""
        ...

    def linked_accounts(self, cabinet_id: int) -> list[LinkedAccount]:
        """The cabinet's accounts, in the order they were linked."""
        ...

    def begin_link_attempt(
        self, cabinet_id: int, now: dt.datetime, window: dt.timedelta, limit: int
    ) -> int | dt.datetime:
        """Record a link attempt, counted as failed until :meth:`link_attempt_succeeded`,
        unless the cabinet already failed ``limit`` times within ``window`` before ``now``:
        then the earliest time another may be made. The count and the insert are one
        transaction taken in turns by every process on the store, so a burst of guesses at
        once cannot slip past the limit. Returns the attempt's id."""
        ...

    def link_attempt_succeeded(self, attempt_id: int) -> None:
        """The attempt proved the account: it no longer counts against the limit."""
        ...

    # -- meter readings ----------------------------------------------------------------------

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
        """Append a reading (and its photo, whose sha256 must be ``reading.photo``'s).

        In one transaction with the meter's other readings: a value below the meter's
        previous date or above its next date raises
        :class:`~.errors.ReadingRefused` unless ``decrease`` says why. Readings of the same
        date are corrections and are not compared with each other. A reading equal to the
        newest one of its meter and date is a repeat: it is returned with ``new=False``.
        """
        ...

    def readings(self, partner_inn: str, account: str) -> list[StoredReading]:
        """Every reading on an account, newest date first (then newest received first)."""
        ...

    def readings_received(
        self, partner_inn: str, since: dt.datetime, until: dt.datetime
    ) -> list[StoredReading]:
        """The partner's readings received in ``[since, until)`` that count, oldest first (id).

        A reading counts unless a later one of its meter and date (a correction) was
        received before ``until``: the partner gets one value per meter and date, the last
        one sent that day. Whether a reading is superseded is judged at ``until``, not now,
        so that the list of an ended window never changes and a re-run of a day's close
        writes the same file; a correction received after ``until`` belongs to its own
        window and goes out with that day's readings.
        """
        ...

    def reading_photo(self, sha256: str) -> tuple[str, bytes] | None:
        """A stored photo: its media type and bytes."""
        ...
