"""The notifications the runner sends on its own (триггерные уведомления).

Each trigger is a **source** of the notification core (:mod:`pes_sdk_runner.notify`): its
id names what it announces, so the message key (source, client, target), unique in the
store, lets each client have it once whatever the number of processes, runs and restarts.

=========================  =============================================  ===========
trigger                    source                                         kind
=========================  =============================================  ===========
new charges                ``trigger:charges:<ИНН>:<YYYY-MM>``             charges
debt reminder              ``trigger:reminder:<ИНН>:<YYYY-MM>:<offset>``   reminders
meter-reading window       ``trigger:readings:<ИНН>:<YYYY-MM>``            readings
payment confirmed          ``trigger:paid:<order id>``                    payments
autopay: charge coming     ``trigger:autopay:upcoming:<charge id>``       autopay
autopay: charge done       ``trigger:autopay:done:<charge id>``           autopay
autopay: charge failed     ``trigger:autopay:failed:<charge id>``         autopay
=========================  =============================================  ===========

:class:`Triggers` fires them; :func:`plan` says which are due at an instant (the job
engine's ``triggers`` stage, :mod:`pes_sdk_runner.jobs.triggers`, runs both). The texts are
Russian, as clients read them: money as ``1 234,56 руб.``, months as ``за ноябрь 2026``
and dates as ``до 10 декабря``. docs/notifications.md, "Triggers", tells the rest.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.period import Period
from pes_sdk.russian import day_month, month_year, rubles
from pes_sdk_runner.config.triggers import clamp_day
from pes_sdk_runner.ingest.outcome import IngestOutcome, Outcome
from pes_sdk_runner.logs import event
from pes_sdk_runner.notify import Enqueue, Enqueued, Notifier, Recipient, Template
from pes_sdk_runner.store import triggers as queries

if TYPE_CHECKING:
    from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
    from pes_sdk_runner.store import SqlStore

__all__ = [
    "AUTOPAY",
    "CHARGES",
    "PAYMENTS",
    "READINGS",
    "REMINDERS",
    "Due",
    "Triggers",
    "activated",
    "autopay_source",
    "charges_source",
    "day_month",
    "month_year",
    "paid_source",
    "plan",
    "readings_source",
    "reminder_source",
    "rubles",
]

log = logging.getLogger("pes_sdk_runner.triggers")

#: The kinds of message the triggers send (what a client opts out of, what
#: ``[notifications] order`` routes).
CHARGES = "charges"
REMINDERS = "reminders"
READINGS = "readings"
PAYMENTS = "payments"
AUTOPAY = "autopay"

#: A registry received longer ago than this is not announced (a runner started after a
#: long stop does not tell of old charges); the ingest's own run comes within seconds.
CHARGES_WITHIN = dt.timedelta(days=3)
#: Payments paid longer ago than this are not announced by the backstop.
PAID_WITHIN = dt.timedelta(days=1)
#: Clients whose balances one look-up reads (debt reminders).
_BALANCES_AT_ONCE = 200


def _accounts(accounts: list[str]) -> str:
    if len(accounts) == 1:
        return f"по лицевому счёту {accounts[0]}"
    return f"по лицевым счетам {', '.join(accounts)}"


# -- sources -------------------------------------------------------------------------------


def charges_source(partner_inn: str, period: Period) -> str:
    return f"trigger:charges:{partner_inn}:{period}"


def reminder_source(partner_inn: str, period: Period, offset: int) -> str:
    return f"trigger:reminder:{partner_inn}:{period}:{offset}"


def readings_source(partner_inn: str, month: Period) -> str:
    return f"trigger:readings:{partner_inn}:{month}"


#: The prefix of a confirmed payment's source (the order id follows).
PAID_PREFIX = "trigger:paid:"


def paid_source(order_id: uuid.UUID) -> str:
    return f"{PAID_PREFIX}{order_id}"


def autopay_source(event_name: str, charge_id: str) -> str:
    """``trigger:autopay:<upcoming|done|failed>:<charge id>``."""
    if event_name not in ("upcoming", "done", "failed"):
        raise ValueError(f"an autopay event is upcoming, done or failed, not {event_name!r}")
    if not charge_id.strip():
        raise ValueError("an autopay charge id is non-empty")
    return f"trigger:autopay:{event_name}:{charge_id}"


# -- what is due ---------------------------------------------------------------------------


@attrs.frozen
class Due:
    """A trigger due now: its kind, partner and arguments; ``id`` names its run."""

    kind: str
    partner_inn: str = ""
    period: str = ""
    offset: int = 0
    registry: int = 0
    order_id: str = ""

    @property
    def id(self) -> str:
        """The run's workflow id: one run per trigger (and per registry of new charges)."""
        if self.kind == CHARGES:
            return f"trigger:charges:{self.partner_inn}:{self.period}:{self.registry}"
        if self.kind == REMINDERS:
            return f"trigger:reminder:{self.partner_inn}:{self.period}:{self.offset}"
        if self.kind == READINGS:
            return f"trigger:readings:{self.partner_inn}:{self.period}"
        return f"{PAID_PREFIX}{self.order_id}"


def _previous(month: Period) -> Period:
    return Period(month.year - 1, 12) if month.month == 1 else Period(month.year, month.month - 1)


def due_on(partner: PartnerConfig, day: dt.date) -> list[Due]:
    """The partner's reminders and reading windows due on its local ``day``."""
    settings = partner.notifications
    out: list[Due] = []
    for offset in settings.reminder_days:
        due = day - dt.timedelta(days=offset)
        period = _previous(Period(due.year, due.month))
        if settings.due_date(period.year, period.month) == due:
            out.append(Due(REMINDERS, partner.inn, str(period), offset))
    if settings.readings_days is not None:
        first, last = settings.readings_days
        opens = clamp_day(day.year, day.month, first)
        ends = clamp_day(day.year, day.month, last)
        # Any day of the window, not only its first: a runner stopped on that day still
        # tells within the window (once a month: the source is the month's).
        if opens <= day <= ends:
            out.append(Due(READINGS, partner.inn, str(Period(day.year, day.month))))
    return out


def plan(store: SqlStore, config: RunnerConfig, now: dt.datetime) -> list[Due]:
    """What the triggers' stage runs at ``now`` (aware): each partner's reminders and
    reading window of the day in the service's zone, the new charges of registries
    received within :data:`CHARGES_WITHIN` (a backstop of the ingest's own run), and the
    payments paid within :data:`PAID_WITHIN` not yet announced (nothing but this stage
    announces them: the confirmation path is left alone)."""
    today = now.astimezone(config.service.time_zone).date()
    out: list[Due] = []
    for partner in config.partners:
        out += due_on(partner, today)
        if partner.notifications.charges:
            registries = [r for r in store.debt_registries(partner.inn) if r.active]
            if registries:
                newest = max(registries, key=lambda r: (r.period.year, r.period.month))
                if newest.received_at >= now - CHARGES_WITHIN:
                    out.append(
                        Due(CHARGES, partner.inn, str(newest.period), registry=newest.number)
                    )
    out += [
        Due(PAYMENTS, order_id=str(o))
        for o in queries.paid_since(
            store, [p.inn for p in config.partners], now - PAID_WITHIN, PAID_PREFIX
        )
    ]
    return out


# -- firing --------------------------------------------------------------------------------


class Triggers:
    """Fires the triggers through a :class:`~pes_sdk_runner.notify.Notifier`.

    Each method writes the source's messages and queues their sending (``enqueue``:
    :func:`~pes_sdk_runner.notify.enqueue_messages`' default, the job engine) and returns
    what it wrote, or None when there was nobody to tell. Any number of calls for one
    source write each client's message once."""

    def __init__(
        self, store: SqlStore, config: RunnerConfig, *, enqueue: Enqueue | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.notifier = Notifier(store, config, enqueue=enqueue)

    def _partner(self, partner_inn: str) -> PartnerConfig:
        for p in self.config.partners:
            if p.inn == partner_inn:
                return p
        raise KeyError(f"no partner {partner_inn} is configured")

    def _send(
        self, source: str, kind: str, template: Template, audience: Iterable[Recipient]
    ) -> Enqueued | None:
        it = iter(audience)
        first = next(it, None)
        if first is None:
            event(log, "trigger.nobody", kind=kind)
            return None
        done = self.notifier.notify(source, kind, template, itertools.chain([first], it))
        event(log, "trigger.fired", kind=kind, clients=done.clients, messages=done.messages)
        return done

    def fire(self, due: Due) -> Enqueued | None:
        """Fire what :func:`plan` found due."""
        if due.kind == CHARGES:
            return self.new_charges(due.partner_inn, Period.parse(due.period))
        if due.kind == REMINDERS:
            return self.debt_reminder(due.partner_inn, Period.parse(due.period), due.offset)
        if due.kind == READINGS:
            return self.readings_window(due.partner_inn, Period.parse(due.period))
        if due.kind == PAYMENTS:
            return self.payment_confirmed(uuid.UUID(due.order_id))
        raise ValueError(f"no trigger of kind {due.kind!r}")

    # -- new charges

    def new_charges(self, partner_inn: str, period: Period) -> Enqueued | None:
        """ "Начислено 1 234,56 руб. за ноябрь 2026 — <partner>" to each client of the
        partner's accounts the period's active registry charges (the sum of its services
        on the client's accounts there; nothing where that is zero or an advance).

        A newer registry of the period (a correction) tells nobody twice: whoever had the
        period's message keeps it, a client of an account new in it gets one with its
        amount. The cabinet and the apps show the corrected amounts."""
        partner = self._partner(partner_inn)
        active = [
            r for r in self.store.debt_registries(partner_inn) if r.active and r.period == period
        ]
        if not active:
            return None
        registry = active[0]
        template = Template(
            f"Начислено $amount за {month_year(period)} — {partner.name}",
            title="Новые начисления",
            data={"screen": "charges", "partner_inn": partner_inn, "period": str(period)},
        )

        def audience() -> Iterator[Recipient]:
            for client, rows in queries.charged_clients(self.store, partner_inn, registry.id):
                total = sum((amount for _, amount in rows), Decimal(0))
                if total > 0:
                    yield Recipient(client, {"amount": rubles(total)})

        return self._send(charges_source(partner_inn, period), CHARGES, template, audience())

    # -- debt reminders

    def debt_reminder(self, partner_inn: str, period: Period, offset: int) -> Enqueued | None:
        """ "Напоминаем: задолженность 1 234,56 руб. по лицевому счёту … — срок оплаты до
        10 декабря" to each client whose accounts at the partner still owe on the period's
        registry (what it charged less what was paid since it came), ``offset`` days from
        the due date (after it: "срок оплаты был до …")."""
        partner = self._partner(partner_inn)
        due = partner.notifications.due_date(period.year, period.month)
        if due is None:
            return None
        until = "срок оплаты был до" if offset > 0 else "срок оплаты до"
        template = Template(
            f"Напоминаем: задолженность $amount $accounts — {until} {day_month(due)}",
            title=partner.name,
            data={"screen": "charges", "partner_inn": partner_inn, "period": str(period)},
        )
        source = reminder_source(partner_inn, period, offset)
        return self._send(source, REMINDERS, template, self._debtors(partner_inn, period))

    def _debtors(self, partner_inn: str, period: Period) -> Iterator[Recipient]:
        clients = queries.client_accounts(self.store, partner_inn)
        while True:
            chunk = list(itertools.islice(clients, _BALANCES_AT_ONCE))
            if not chunk:
                return
            wanted = {(partner_inn, a) for _, accounts in chunk for a in accounts}
            found = self.store.find_by_accounts(sorted(wanted))
            for client, accounts in chunk:
                owing: list[str] = []
                total = Decimal(0)
                for account in accounts:
                    services = [
                        s
                        for s in found.get((partner_inn, account), [])
                        if s.registry_period == period
                    ]
                    due = sum((s.due for s in services), Decimal(0))
                    if due > 0:
                        owing.append(account)
                        total += due
                if owing:
                    yield Recipient(client, {"amount": rubles(total), "accounts": _accounts(owing)})

    # -- the meter-reading window

    def readings_window(self, partner_inn: str, month: Period) -> Enqueued | None:
        """ "Передайте показания счётчиков до 25 числа — <partner>" to each client at an
        account of the partner with a meter, once a month."""
        partner = self._partner(partner_inn)
        window = partner.notifications.readings_days
        if window is None:
            return None
        last = clamp_day(month.year, month.month, window[1])
        template = Template(
            f"Передайте показания счётчиков до {last.day} числа — {partner.name}",
            title="Показания счётчиков",
            data={"screen": "readings", "partner_inn": partner_inn},
        )
        audience = (
            Recipient(client) for client, _ in queries.clients_with_meters(self.store, partner_inn)
        )
        return self._send(readings_source(partner_inn, month), READINGS, template, audience)

    # -- a payment confirmed

    def payment_confirmed(self, order_id: uuid.UUID) -> Enqueued | None:
        """ "Платёж на 1 234,56 руб. зачислен: <partners>" to the client who paid (the
        app's client it was made for, or the cabinet), once the payment is paid."""
        entry = self.store.get(order_id)
        if entry is None or not entry.state.is_paid:
            return None
        client = queries.payment_client(self.store, order_id)
        if client is None:
            return None
        names = {p.inn: p.name for p in self.config.partners}
        partners = list(
            dict.fromkeys(names.get(ln.partner_inn, ln.partner_inn) for ln in entry.payment.lines)
        )
        template = Template(
            f"Платёж на {rubles(entry.payment.total)} зачислен: {', '.join(partners)}",
            title="Платёж зачислен",
            data={"screen": "payment", "order_id": str(order_id)},
        )
        return self._send(paid_source(order_id), PAYMENTS, template, [Recipient(client)])

    # -- autopay (the autopay issue's hooks; nothing calls them yet)

    def autopay_upcoming(
        self, client_id: str, charge_id: str, partner_inn: str, amount: Decimal, on: dt.date
    ) -> Enqueued | None:
        """ "10 декабря автоплатёж спишет 1 234,56 руб. — <partner>": a charge coming (the
        autopay issue calls it 3 days ahead). Source ``trigger:autopay:upcoming:<charge>``."""
        partner = self._partner(partner_inn)
        text = f"{day_month(on)} автоплатёж спишет {rubles(amount)} — {partner.name}"
        return self._autopay("upcoming", client_id, charge_id, text)

    def autopay_done(
        self, client_id: str, charge_id: str, partner_inn: str, amount: Decimal
    ) -> Enqueued | None:
        """ "Автоплатёж: списано 1 234,56 руб. — <partner>". Source
        ``trigger:autopay:done:<charge>``."""
        partner = self._partner(partner_inn)
        text = f"Автоплатёж: списано {rubles(amount)} — {partner.name}"
        return self._autopay("done", client_id, charge_id, text)

    def autopay_failed(
        self, client_id: str, charge_id: str, partner_inn: str, amount: Decimal
    ) -> Enqueued | None:
        """ "Автоплатёж на 1 234,56 руб. не прошёл — <partner>. Оплатите вручную или
        проверьте карту". Once per charge, however many attempts failed. Source
        ``trigger:autopay:failed:<charge>``."""
        partner = self._partner(partner_inn)
        text = (
            f"Автоплатёж на {rubles(amount)} не прошёл — {partner.name}."
            " Оплатите вручную или проверьте карту"
        )
        return self._autopay("failed", client_id, charge_id, text)

    def _autopay(self, name: str, client_id: str, charge_id: str, text: str) -> Enqueued | None:
        template = Template(text, title="Автоплатёж", data={"screen": "autopay"})
        source = autopay_source(name, charge_id)
        return self._send(source, AUTOPAY, template, [Recipient(client_id)])


def activated(outcomes: Iterable[IngestOutcome]) -> list[list[Any]]:
    """``[partner ИНН, period, registry number]`` of each registry an ingest activated
    (a duplicate or a stale one announces nothing)."""
    return [
        [o.partner, str(o.period), o.registry_number]
        for o in outcomes
        if o.outcome is Outcome.ACTIVATED and o.period is not None and o.registry_number
    ]
