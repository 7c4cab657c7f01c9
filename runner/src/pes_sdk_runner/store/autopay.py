"""The store's autopay (автоплатёж): saved methods, consents and charges.

Migration 0014 made the tables; :class:`AutopaySql` is their SQL, mixed into
:class:`~pes_sdk_runner.store.sql.SqlStore`. What is charged, when, and what the client is
told is :mod:`pes_sdk_runner.autopay`'s business; the store keeps two promises that must
hold in any number of processes:

* **consents are append-only**: a change or a cancellation is a new version; the latest
  one is in force, and the history says exactly what the client agreed to and when;
* **one charge per consent and period** (``UNIQUE (consent_id, period)``), and a charge
  is claimed for charging only while its consent is in force and within its monthly
  limit, both weighed in the claim's transaction (:meth:`AutopaySql.claim_charge`): the
  claim and a cancellation take the same lock (:meth:`Dialect.lock_key`), so after
  :meth:`AutopaySql.cancel_consent` returns, no charge of that consent can start.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.gateways.models import SavedMethod
from pes_sdk.money import amount as to_amount
from pes_sdk.money import from_kopecks, to_kopecks

if TYPE_CHECKING:
    from pes_sdk_runner.store.dialect import Dialect

__all__ = [
    "OVER_LIMIT_REASON",
    "AutopayRequest",
    "AutopaySql",
    "Charge",
    "ChargeState",
    "Consent",
    "ConsentRule",
    "ConsentStatus",
    "month_of",
]


class ConsentRule(enum.StrEnum):
    """When an autopay consent charges (``autopay_consents.rule``)."""

    #: the whole amount due, when a new period's registry of the account arrives
    ON_REGISTRY = "on_registry"
    #: the amount due on a day of the month (1 to 28: every month has it)
    DAY_OF_MONTH = "day_of_month"


class ConsentStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class ChargeState(enum.StrEnum):
    """Where one consent's charge for one period stands (``autopay_charges.state``)."""

    NOTICED = "noticed"  #: the client was told; it may be charged from ``due_at``
    CHARGING = "charging"  #: claimed: attempts go to the acquirer
    PAID = "paid"  #: an attempt went through
    FAILED = "failed"  #: every attempt declined, or the method is gone: the client told
    CANCELLED = "cancelled"  #: the consent was cancelled before the charge started
    OVER_LIMIT = "over_limit"  #: the amount due exceeds the consent's monthly limit
    NOTHING_DUE = "nothing_due"  #: paid otherwise before the charge was due

    @property
    def is_final(self) -> bool:
        return self not in (ChargeState.NOTICED, ChargeState.CHARGING)


def _aware(_: object, attribute: attrs.Attribute[Any], value: dt.datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{attribute.name} must carry a time zone")


@attrs.frozen
class Consent:
    """One version of a client's autopay consent (согласие на автоплатёж)."""

    consent_id: uuid.UUID
    version: int
    client_id: str
    partner_inn: str
    account: str
    rule: ConsentRule
    day: int | None
    monthly_limit: Decimal = attrs.field(converter=to_amount)
    method: SavedMethod
    #: the exact text the client agreed to, and its version (configuration's ``[autopay]``)
    text: str
    text_version: str
    status: ConsentStatus
    agreed_at: dt.datetime = attrs.field(validator=_aware)

    def __attrs_post_init__(self) -> None:
        if self.rule is ConsentRule.DAY_OF_MONTH:
            if self.day is None or not 1 <= self.day <= 28:
                raise ValueError("a day-of-month consent names a day from 1 to 28")
        elif self.day is not None:
            raise ValueError("a consent that charges on the registry names no day")
        if self.monthly_limit <= 0:
            raise ValueError("a consent's monthly limit is positive")

    @property
    def active(self) -> bool:
        return self.status is ConsentStatus.ACTIVE


@attrs.frozen
class Charge:
    """One consent's charge for one period."""

    charge_id: uuid.UUID
    consent_id: uuid.UUID
    consent_version: int
    client_id: str
    partner_inn: str
    account: str
    period: str
    amount: Decimal = attrs.field(converter=to_amount)
    noticed_at: dt.datetime = attrs.field(validator=_aware)
    due_at: dt.datetime = attrs.field(validator=_aware)
    state: ChargeState = ChargeState.NOTICED
    attempts: int = 0
    order_id: uuid.UUID | None = None
    reason: str | None = None
    #: when the next round of its workflow may run (None: from ``due_at``)
    next_at: dt.datetime | None = None
    #: the rounds its workflow has ended waiting
    round: int = 0
    #: the attempt the next round sends after a decline (0: none decided)
    next_attempt: int = 0


@attrs.frozen
class AutopayRequest:
    """What a client agreed to when paying with "Подключить автоплатёж" ticked: the consent
    it becomes once the acquirer tells the method it saved on that payment."""

    order_id: uuid.UUID
    client_id: str
    partner_inn: str
    account: str
    rule: ConsentRule
    day: int | None
    monthly_limit: Decimal = attrs.field(converter=to_amount)
    text: str
    text_version: str
    agreed_at: dt.datetime = attrs.field(validator=_aware)

    def consent(self, method: SavedMethod) -> Consent:
        """Version 1 of the consent, with the method saved (its id derives from the
        order's: learning the method twice makes the same consent)."""
        return Consent(
            consent_id_of(self.order_id),
            1,
            self.client_id,
            self.partner_inn,
            self.account,
            self.rule,
            self.day,
            self.monthly_limit,
            method,
            self.text,
            self.text_version,
            ConsentStatus.ACTIVE,
            self.agreed_at,
        )


def consent_id_of(order_id: uuid.UUID) -> uuid.UUID:
    """The consent made from the request of payment ``order_id``."""
    return uuid.uuid5(order_id, "autopay-consent")


#: Why a charge ended ``over_limit`` (``autopay_charges.reason``).
OVER_LIMIT_REASON = "over the monthly limit"


def month_of(at: dt.datetime, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of the calendar month of ``at`` in ``zone``: the window of a
    consent's monthly limit."""
    local = at.astimezone(zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + dt.timedelta(days=days)


class AutopaySql:
    """The autopay tables in the store's SQL (a mixin of ``SqlStore``)."""

    if TYPE_CHECKING:  # what SqlStore provides
        dialect: Dialect

        def _tx(self) -> AbstractContextManager[Any]: ...
        def _read(self) -> AbstractContextManager[Any]: ...
        def _x(self, cur: Any, query: str, params: Sequence[Any] = ()) -> Any: ...

    # -- saved methods and requests ------------------------------------------------------

    def request_autopay(self, request: AutopayRequest) -> None:
        """Keep what the client agreed to on payment ``request.order_id`` (written when the
        payment is booked; a repeat: no-op). It becomes a consent in the transaction that
        records the payment paid with a saved method (:meth:`_learn_method`)."""
        # the rules of a consent, checked now rather than when it comes into force
        request.consent(SavedMethod("check", "check"))
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO autopay_requests (order_id, client_id, partner_inn, account, rule,"
                " day, monthly_limit, text, text_version, agreed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                (
                    str(request.order_id),
                    request.client_id,
                    request.partner_inn,
                    request.account,
                    str(request.rule),
                    request.day,
                    to_kopecks(request.monthly_limit),
                    request.text,
                    request.text_version,
                    self.dialect.ts_in(request.agreed_at),
                ),
            )

    def _learn_method(
        self, cur: Any, order_id: uuid.UUID, method: SavedMethod, at: dt.datetime
    ) -> None:
        """Inside the transaction that records a paid payment: keep the method the acquirer
        saved and bring the payment's autopay request, if any, into force."""
        self._x(
            cur,
            "INSERT INTO saved_methods (order_id, gateway, method_id, customer_key, title,"
            " learned_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
            (
                str(order_id),
                method.gateway,
                method.method_id,
                method.customer_key,
                method.title,
                self.dialect.ts_in(at),
            ),
        )
        row = self._x(
            cur,
            "SELECT order_id, client_id, partner_inn, account, rule, day, monthly_limit, text,"
            " text_version, agreed_at FROM autopay_requests WHERE order_id = ?",
            (str(order_id),),
        ).fetchone()
        if row is None:
            return
        request = AutopayRequest(
            uuid.UUID(row[0]),
            row[1],
            row[2],
            row[3],
            ConsentRule(row[4]),
            int(row[5]) if row[5] is not None else None,
            from_kopecks(int(row[6])),
            row[7],
            row[8],
            self.dialect.ts_out(row[9]),
        )
        consent = request.consent(method)
        if self._latest(cur, consent.consent_id) is None:
            self._insert_consent(cur, consent)

    def record_saved_method(
        self, order_id: uuid.UUID, method: SavedMethod, now: dt.datetime | None = None
    ) -> None:
        """Keep the method an acquirer saved on payment ``order_id`` and bring its autopay
        request into force (a repeat: no-op). The payments book does it itself when it
        records the payment paid; this is for a method learned otherwise."""
        with self._tx() as cur:
            self._learn_method(cur, order_id, method, now or dt.datetime.now(dt.UTC))

    def saved_method(self, order_id: uuid.UUID) -> SavedMethod | None:
        with self._read() as cur:
            row = self._x(
                cur,
                "SELECT gateway, method_id, customer_key, title FROM saved_methods"
                " WHERE order_id = ?",
                (str(order_id),),
            ).fetchone()
        return SavedMethod(row[0], row[1], row[2], row[3]) if row is not None else None

    # -- consents --------------------------------------------------------------------------

    _CONSENT = (
        "SELECT consent_id, version, client_id, partner_inn, account, rule, day, monthly_limit,"
        " gateway, method_id, customer_key, method_title, text, text_version, status, agreed_at"
        " FROM autopay_consents"
    )

    def _consent(self, r: Sequence[Any]) -> Consent:
        return Consent(
            uuid.UUID(r[0]),
            int(r[1]),
            r[2],
            r[3],
            r[4],
            ConsentRule(r[5]),
            int(r[6]) if r[6] is not None else None,
            from_kopecks(int(r[7])),
            SavedMethod(r[8], r[9], r[10], r[11]),
            r[12],
            r[13],
            ConsentStatus(r[14]),
            self.dialect.ts_out(r[15]),
        )

    def _insert_consent(self, cur: Any, c: Consent) -> None:
        self._x(
            cur,
            "INSERT INTO autopay_consents (consent_id, version, client_id, partner_inn, account,"
            " rule, day, monthly_limit, gateway, method_id, customer_key, method_title, text,"
            " text_version, status, agreed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(c.consent_id),
                c.version,
                c.client_id,
                c.partner_inn,
                c.account,
                str(c.rule),
                c.day,
                to_kopecks(c.monthly_limit),
                c.method.gateway,
                c.method.method_id,
                c.method.customer_key,
                c.method.title,
                c.text,
                c.text_version,
                str(c.status),
                self.dialect.ts_in(c.agreed_at),
            ),
        )

    def _latest(self, cur: Any, consent_id: uuid.UUID) -> Consent | None:
        row = self._x(
            cur,
            self._CONSENT + " WHERE consent_id = ? ORDER BY version DESC LIMIT 1",
            (str(consent_id),),
        ).fetchone()
        return self._consent(row) if row is not None else None

    def add_consent(self, consent: Consent) -> Consent:
        """Store version 1 of a new consent (``consent.version`` must be 1)."""
        if consent.version != 1:
            raise ValueError("a new consent is version 1")
        with self._tx() as cur:
            self._insert_consent(cur, consent)
        return consent

    def amend_consent(self, consent_id: uuid.UUID, **changes: Any) -> Consent:
        """A new version of the consent with ``changes`` (a new limit, rule, method, or the
        text agreed to again, with ``agreed_at``); ``KeyError`` if there is none, and
        ``ValueError`` once it is cancelled (a cancelled consent is ended: agree anew)."""
        with self._tx() as cur:
            self.dialect.lock_key(cur, f"autopay-consent:{consent_id}")
            latest = self._latest(cur, consent_id)
            if latest is None:
                raise KeyError(f"no consent {consent_id}")
            if not latest.active:
                raise ValueError(f"consent {consent_id} is cancelled")
            new = attrs.evolve(latest, version=latest.version + 1, **changes)
            self._insert_consent(cur, new)
        return new

    def cancel_consent(
        self, consent_id: uuid.UUID, now: dt.datetime | None = None
    ) -> tuple[Consent, list[Charge]]:
        """End the consent at once: a cancelled version, and every charge of it not yet
        started cancelled in the same transaction. Returns the version in force after it
        (the earlier one if it was already cancelled) and the charges it stopped; a charge
        already ``charging`` is not among them (it started before the cancellation)."""
        at = now or dt.datetime.now(dt.UTC)
        with self._tx() as cur:
            self.dialect.lock_key(cur, f"autopay-consent:{consent_id}")
            latest = self._latest(cur, consent_id)
            if latest is None:
                raise KeyError(f"no consent {consent_id}")
            if not latest.active:
                return latest, []
            new = attrs.evolve(
                latest, version=latest.version + 1, status=ConsentStatus.CANCELLED, agreed_at=at
            )
            self._insert_consent(cur, new)
            stopped = [
                self._charge(r)
                for r in self._x(
                    cur,
                    self._CHARGE + " WHERE consent_id = ? AND state = ?",
                    (str(consent_id), str(ChargeState.NOTICED)),
                ).fetchall()
            ]
            self._x(
                cur,
                "UPDATE autopay_charges SET state = ?, reason = ?, updated_at = ?"
                " WHERE consent_id = ? AND state = ?",
                (
                    str(ChargeState.CANCELLED),
                    "consent cancelled",
                    self.dialect.ts_in(at),
                    str(consent_id),
                    str(ChargeState.NOTICED),
                ),
            )
        return new, [attrs.evolve(c, state=ChargeState.CANCELLED) for c in stopped]

    def consent(self, consent_id: uuid.UUID) -> Consent | None:
        """The version in force (the latest), or None."""
        with self._read() as cur:
            return self._latest(cur, consent_id)

    def consent_history(self, consent_id: uuid.UUID) -> list[Consent]:
        """Every version, oldest first."""
        with self._read() as cur:
            rows = self._x(
                cur, self._CONSENT + " WHERE consent_id = ? ORDER BY version", (str(consent_id),)
            ).fetchall()
        return [self._consent(r) for r in rows]

    _LATEST = (
        " WHERE version = (SELECT MAX(version) FROM autopay_consents l"
        " WHERE l.consent_id = autopay_consents.consent_id)"
    )

    def consents_of(self, client_id: str) -> list[Consent]:
        """The client's consents as they stand (latest versions, cancelled ones too)."""
        with self._read() as cur:
            rows = self._x(
                cur,
                self._CONSENT + self._LATEST + " AND client_id = ? ORDER BY agreed_at",
                (client_id,),
            ).fetchall()
        return [self._consent(r) for r in rows]

    def active_consents(
        self,
        *,
        partner_inn: str | None = None,
        account: str | None = None,
        rule: ConsentRule | None = None,
        day: int | None = None,
    ) -> list[Consent]:
        """Consents in force, narrowed by account, rule or day."""
        where, params = [" AND status = ?"], [str(ConsentStatus.ACTIVE)]
        for column, value in (
            ("partner_inn", partner_inn),
            ("account", account),
            ("rule", str(rule) if rule is not None else None),
            ("day", day),
        ):
            if value is not None:
                where.append(f" AND {column} = ?")
                params.append(value)  # type: ignore[arg-type]
        with self._read() as cur:
            rows = self._x(
                cur, self._CONSENT + self._LATEST + "".join(where) + " ORDER BY consent_id", params
            ).fetchall()
        return [self._consent(r) for r in rows]

    # -- charges ---------------------------------------------------------------------------

    _CHARGE = (
        "SELECT charge_id, consent_id, consent_version, client_id, partner_inn, account,"
        " period, amount, noticed_at, due_at, state, attempts, order_id, reason,"
        " next_at, round, next_attempt FROM autopay_charges"
    )

    def _charge(self, r: Sequence[Any]) -> Charge:
        ts = self.dialect.ts_out
        return Charge(
            uuid.UUID(r[0]),
            uuid.UUID(r[1]),
            int(r[2]),
            r[3],
            r[4],
            r[5],
            r[6],
            from_kopecks(int(r[7])),
            ts(r[8]),
            ts(r[9]),
            ChargeState(r[10]),
            int(r[11]),
            uuid.UUID(r[12]) if r[12] is not None else None,
            r[13],
            ts(r[14]) if r[14] is not None else None,
            int(r[15]),
            int(r[16]),
        )

    def plan_charge(self, charge: Charge) -> tuple[Charge, bool]:
        """Store a planned charge (its notice sent or about to be); the one already
        planned for the same consent and period wins. Returns the stored charge and
        whether it is the one given (False: planned before, by this or another run)."""
        with self._tx() as cur:
            inserted = self._x(
                cur,
                "INSERT INTO autopay_charges (charge_id, consent_id, consent_version, client_id,"
                " partner_inn, account, period, amount, noticed_at, due_at, state, attempts,"
                " order_id, reason, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (consent_id, period) DO NOTHING RETURNING charge_id",
                (
                    str(charge.charge_id),
                    str(charge.consent_id),
                    charge.consent_version,
                    charge.client_id,
                    charge.partner_inn,
                    charge.account,
                    charge.period,
                    to_kopecks(charge.amount),
                    self.dialect.ts_in(charge.noticed_at),
                    self.dialect.ts_in(charge.due_at),
                    str(charge.state),
                    charge.attempts,
                    str(charge.order_id) if charge.order_id is not None else None,
                    charge.reason,
                    self.dialect.ts_in(charge.noticed_at),
                ),
            ).fetchone()
            row = self._x(
                cur,
                self._CHARGE + " WHERE consent_id = ? AND period = ?",
                (str(charge.consent_id), charge.period),
            ).fetchone()
        return self._charge(row), inserted is not None

    def charge(self, charge_id: uuid.UUID) -> Charge | None:
        with self._read() as cur:
            row = self._x(cur, self._CHARGE + " WHERE charge_id = ?", (str(charge_id),)).fetchone()
        return self._charge(row) if row is not None else None

    def charges_of(self, client_id: str, limit: int = 100) -> list[Charge]:
        """The client's charges, the latest first (the cabinet's history)."""
        with self._read() as cur:
            rows = self._x(
                cur,
                self._CHARGE + f" WHERE client_id = ? ORDER BY due_at DESC LIMIT {int(limit)}",
                (client_id,),
            ).fetchall()
        return [self._charge(r) for r in rows]

    def unfinished_charges(self, due_before: dt.datetime, limit: int = 10_000) -> list[uuid.UUID]:
        """Charges not yet ended (noticed or charging) due before ``due_before``: what the
        tick's sweep makes sure has a workflow (a crash between planning a charge and
        queueing its workflow leaves one without)."""
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT charge_id FROM autopay_charges WHERE state IN (?, ?) AND due_at < ?"
                f" ORDER BY due_at LIMIT {int(limit)}",
                (
                    str(ChargeState.NOTICED),
                    str(ChargeState.CHARGING),
                    self.dialect.ts_in(due_before),
                ),
            ).fetchall()
        return [uuid.UUID(r[0]) for r in rows]

    def ready_charges(self, now: dt.datetime, limit: int = 10_000) -> list[tuple[uuid.UUID, int]]:
        """Unfinished charges whose next round may run at ``now`` (due, and any wait
        over), with the round: the tick's autopay stage queues a workflow for each."""
        at = self.dialect.ts_in(now)
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT charge_id, round FROM autopay_charges WHERE state IN (?, ?)"
                " AND due_at <= ? AND (next_at IS NULL OR next_at <= ?)"
                f" ORDER BY due_at LIMIT {int(limit)}",
                (str(ChargeState.NOTICED), str(ChargeState.CHARGING), at, at),
            ).fetchall()
        return [(uuid.UUID(r[0]), int(r[1])) for r in rows]

    def defer_charge(
        self, charge_id: uuid.UUID, round_: int, at: dt.datetime, next_attempt: int = 0
    ) -> bool:
        """End round ``round_`` of a charge's workflow waiting until ``at`` (the next
        round sends ``next_attempt`` after a decline). A repeat of the same round, or a
        final charge, changes nothing: False."""
        with self._tx() as cur:
            done = self._x(
                cur,
                "UPDATE autopay_charges SET next_at = ?, round = round + 1, next_attempt = ?,"
                " updated_at = ? WHERE charge_id = ? AND round = ? AND state IN (?, ?)"
                " RETURNING charge_id",
                (
                    self.dialect.ts_in(at),
                    next_attempt,
                    self.dialect.ts_in(dt.datetime.now(dt.UTC)),
                    str(charge_id),
                    round_,
                    str(ChargeState.NOTICED),
                    str(ChargeState.CHARGING),
                ),
            ).fetchone()
        return done is not None

    def claim_charge(
        self,
        charge_id: uuid.UUID,
        now: dt.datetime | None = None,
        *,
        amount: Decimal | None = None,
        zone: dt.tzinfo = dt.UTC,
    ) -> Charge | None:
        """Move a noticed charge to ``charging`` if it is due, its consent is in force and
        ``amount`` (default: the amount its notice said) keeps the consent's month within
        its limit; over the limit, it ends ``over_limit`` instead. All of it in one
        transaction under the consent's lock, so

        * a cancellation either came first and the claim fails, or comes after and finds
          the charge started;
        * a charge is ``charging`` only once its limit was checked: a run that dies right
          after the claim leaves nothing unchecked for the next run to send;
        * two charges of one consent claimed at once each count the other (the month's
          sum is read under the lock the other's claim took).

        The month is the calendar month of the charge's ``due_at`` in ``zone`` (the
        service's); it counts the consent's other charges paid or being charged
        (:meth:`charged_in`). A charge already ``charging`` is returned as it is (its run was
        interrupted and resumes); None: it may not be charged (nor was it ended here)."""
        at = now or dt.datetime.now(dt.UTC)
        with self._tx() as cur:
            row = self._x(cur, self._CHARGE + " WHERE charge_id = ?", (str(charge_id),)).fetchone()
            if row is None:
                return None
            charge = self._charge(row)
            if charge.state is ChargeState.CHARGING:
                return charge
            if charge.state is not ChargeState.NOTICED or charge.due_at > at:
                return None
            self.dialect.lock_key(cur, f"autopay-consent:{charge.consent_id}")
            consent = self._latest(cur, charge.consent_id)
            if consent is None or not consent.active:
                return None
            month = month_of(charge.due_at, zone)
            taken = self._charged_in(cur, charge.consent_id, *month, charge_id)
            wanted = charge.amount if amount is None else amount
            # nothing to take passes any limit (the charge then ends ``nothing_due``)
            over = wanted > 0 and taken + wanted > consent.monthly_limit
            state = ChargeState.OVER_LIMIT if over else ChargeState.CHARGING
            claimed = self._x(
                cur,
                "UPDATE autopay_charges SET state = ?, reason = ?, updated_at = ?"
                " WHERE charge_id = ? AND state = ? RETURNING charge_id",
                (
                    str(state),
                    OVER_LIMIT_REASON if over else None,
                    self.dialect.ts_in(at),
                    str(charge_id),
                    str(ChargeState.NOTICED),
                ),
            ).fetchone()
        if not claimed:
            return None
        return attrs.evolve(charge, state=state, reason=OVER_LIMIT_REASON if over else None)

    def begin_attempt(
        self,
        charge_id: uuid.UUID,
        attempt: int,
        order_id: uuid.UUID,
        now: dt.datetime | None = None,
    ) -> bool:
        """Record that attempt ``attempt`` of a charging charge goes to the acquirer as
        payment ``order_id``, if its consent is still in force (under the consent's lock:
        a cancellation between two attempts stops the next one, and the charge ends
        ``cancelled``). True: send it (also for the same attempt again, resumed)."""
        at = now or dt.datetime.now(dt.UTC)
        with self._tx() as cur:
            row = self._x(cur, self._CHARGE + " WHERE charge_id = ?", (str(charge_id),)).fetchone()
            if row is None:
                return False
            charge = self._charge(row)
            if charge.state is not ChargeState.CHARGING:
                return False
            if charge.attempts == attempt and charge.order_id == order_id:
                return True  # this attempt was begun: its run resumes it
            if charge.attempts != attempt - 1:
                return False
            self.dialect.lock_key(cur, f"autopay-consent:{charge.consent_id}")
            consent = self._latest(cur, charge.consent_id)
            if consent is None or not consent.active:
                self._x(
                    cur,
                    "UPDATE autopay_charges SET state = ?, reason = ?, updated_at = ?"
                    " WHERE charge_id = ? AND state = ?",
                    (
                        str(ChargeState.CANCELLED),
                        "consent cancelled",
                        self.dialect.ts_in(at),
                        str(charge_id),
                        str(ChargeState.CHARGING),
                    ),
                )
                return False
            updated = self._x(
                cur,
                "UPDATE autopay_charges SET attempts = ?, order_id = ?, updated_at = ?"
                " WHERE charge_id = ? AND state = ? AND attempts = ? RETURNING charge_id",
                (
                    attempt,
                    str(order_id),
                    self.dialect.ts_in(at),
                    str(charge_id),
                    str(ChargeState.CHARGING),
                    attempt - 1,
                ),
            ).fetchone()
        return updated is not None

    def end_charge(
        self,
        charge_id: uuid.UUID,
        state: ChargeState,
        reason: str | None = None,
        now: dt.datetime | None = None,
    ) -> Charge | None:
        """Move a charge to a final ``state`` (from noticed or charging); a charge already
        final stays as it is. Returns the charge as stored after it."""
        if not state.is_final:
            raise ValueError(f"{state} is not a final state of a charge")
        at = self.dialect.ts_in(now or dt.datetime.now(dt.UTC))
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE autopay_charges SET state = ?, reason = ?, updated_at = ?"
                " WHERE charge_id = ? AND state IN (?, ?)",
                (
                    str(state),
                    reason,
                    at,
                    str(charge_id),
                    str(ChargeState.NOTICED),
                    str(ChargeState.CHARGING),
                ),
            )
            row = self._x(cur, self._CHARGE + " WHERE charge_id = ?", (str(charge_id),)).fetchone()
        return self._charge(row) if row is not None else None

    def charged_in(
        self,
        consent_id: uuid.UUID,
        since: dt.datetime,
        until: dt.datetime,
        *,
        besides: uuid.UUID | None = None,
    ) -> Decimal:
        """What the consent's charges with ``due_at`` in ``[since, until)`` took or may
        take: the paid ones and those being charged now, but for the charge ``besides``
        (the monthly limit counts them when a charge is claimed: :meth:`claim_charge`)."""
        with self._read() as cur:
            return self._charged_in(cur, consent_id, since, until, besides)

    def _charged_in(
        self,
        cur: Any,
        consent_id: uuid.UUID,
        since: dt.datetime,
        until: dt.datetime,
        besides: uuid.UUID | None,
    ) -> Decimal:
        row = self._x(
            cur,
            "SELECT COALESCE(SUM(amount), 0) FROM autopay_charges"
            " WHERE consent_id = ? AND state IN (?, ?) AND due_at >= ? AND due_at < ?"
            " AND charge_id <> ?",
            (
                str(consent_id),
                str(ChargeState.PAID),
                str(ChargeState.CHARGING),
                self.dialect.ts_in(since),
                self.dialect.ts_in(until),
                str(besides) if besides is not None else "",
            ),
        ).fetchone()
        return from_kopecks(int(row[0]))
