"""The runner's triggers (:mod:`pes_sdk_runner.triggers`) on real stores and the outbox.

SQLite and PostgreSQL stores (``store_url``); the example configuration (Водоканал: due by
the 10th, reminders 3 days before and 5 after, readings from the 20th to the 25th); the
sandbox ``outbox`` channel, whose file holds what was handed over. The batches a trigger
queues are sent in this process by :class:`Sender`, as the ``notify`` workflow's step does
(test_triggers_jobs.py runs the triggers on the job engine in worker processes).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from example_inputs import UK_DOM, VODOKANAL
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.config.triggers import PartnerNotifications
from pes_sdk_runner.ingest.outcome import IngestOutcome, Outcome
from pes_sdk_runner.notify import Enqueued, Sender, message_key
from pes_sdk_runner.store import Acceptance, SqlStore
from pes_sdk_runner.store.base import LoginAttempt
from pes_sdk_runner.store.notify import MessageStatus
from pes_sdk_runner.store.triggers import record_payment_client
from pes_sdk_runner.triggers import (
    CHARGES,
    PAYMENTS,
    READINGS,
    REMINDERS,
    Due,
    Triggers,
    activated,
    charges_source,
    day_month,
    month_year,
    paid_source,
    plan,
    rubles,
)
from runner_proc import config_of, write_config

from pes_sdk.gateways.models import GatewayPayment, PaymentState
from pes_sdk.gateways.processor import PaymentEntry, PaymentProcessor
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.readings import MeterReading
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

# Days are the service's (Perm's zone in the example, UTC+5), never the host's: make test
# runs this module again under other TZ values.
pytestmark = pytest.mark.timezone

HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
NOV = Period(2026, 11)
WATER = "АО «Водоканал»"


def no_wait(seconds: float) -> None:
    """The retries' wait: nothing here is retried, and nothing must sleep."""


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> RunnerConfig:
    return config_of(write_config(tmp_path, store_url))


@pytest.fixture
def store(store: SqlStore, config: RunnerConfig) -> SqlStore:
    store.upsert_partners(p.partner for p in config.partners)
    return store


class World:
    """Fires triggers with their batches collected, and sends them as the workflow does.

    ``sources`` are the triggers' sources whose messages the outbox's lines are matched
    with (the outbox names an address and a key; the store's rows name the client)."""

    def __init__(self, store: SqlStore, config: RunnerConfig, sources: set[str]) -> None:
        self.store = store
        self.config = config
        self.sources = sources
        self.batches: list[list[int]] = []
        self.triggers = Triggers(store, config, enqueue=lambda wid, ids: self.batches.append(ids))

    def fire(self, call: Callable[[Triggers], Enqueued | None]) -> dict[str, str]:
        """Fire, send what was queued, and return the outbox's new texts by client."""
        before = len(self.outbox())
        self.batches.clear()
        call(self.triggers)
        sender = Sender(self.config, get_host(), sleep=no_wait)
        try:
            for ids in self.batches:
                sender.send_batch(self.store, ids, "test", now=lambda: NOON)
        finally:
            sender.close()
        return {line["client"]: line["text"] for line in self.outbox()[before:]}

    def outbox(self) -> list[dict[str, str]]:
        channel = self.config.notifications.channel("outbox")
        assert channel is not None
        path = Path(channel.adapter.settings["path"])
        found = list(read_outbox(path)) if path.exists() else []
        clients = {
            message_key(m.source, m.client_id, m.target): m.client_id
            for source in self.sources
            for m in self.store.messages(source)
        }
        return [
            {"client": clients.get(str(line["key"]), "?"), "text": str(line["text"])}
            for line in found
        ]


#: Noon in Perm on 7 December 2026: outside any quiet hours.
NOON = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)


def debt(account: str, amount: str, service: str = "Водоснабжение") -> DebtRecord:
    return DebtRecord(account, HOUSE, Premises("кв. 1"), Decimal(amount), service=service)


def accept(store: SqlStore, client: str, account: str, service: str = "Водоснабжение") -> None:
    store.record_acceptance(Acceptance(client, VODOKANAL, account, service, HOUSE, "кв. 1"))


def cabinet(store: SqlStore, phone: str) -> str:
    attempt = LoginAttempt(
        f"att-{phone}", phone, "hash", "127.0.0.1", NOON, NOON + dt.timedelta(minutes=5)
    )
    assert store.add_login_attempt(attempt, []) is None
    found = store.use_login_attempt(f"att-{phone}", NOON, f"session-{phone}")
    assert found is not None
    return f"cabinet:{found.id}"


def reachable(store: SqlStore, *clients: str) -> None:
    for n, client in enumerate(clients):
        store.set_contact(client, phone=f"+7916000{n:04d}")


def world(store: SqlStore, config: RunnerConfig, *sources: str) -> World:
    return World(store, config, set(sources))


# -- Russian forms ------------------------------------------------------------------------


def test_money_months_and_dates_read_as_a_russian_reader_expects() -> None:
    assert rubles(Decimal("1234.56")) == "1 234,56 руб."
    assert rubles(Decimal("1234567.5")) == "1 234 567,50 руб."
    assert rubles(Decimal("500")) == "500,00 руб."
    assert rubles(Decimal("0.005")) == "0,01 руб."
    assert month_year(Period(2026, 11)) == "ноябрь 2026"
    assert month_year(Period(2027, 5)) == "май 2027"
    assert day_month(dt.date(2026, 12, 10)) == "10 декабря"
    assert day_month(dt.date(2027, 3, 1)) == "1 марта"


# -- new charges ---------------------------------------------------------------------------


def test_new_charges_reach_each_client_of_the_accounts_once_with_the_accounts_sum(
    store: SqlStore, config: RunnerConfig
) -> None:
    records = [
        debt("1001", "1000.00"),
        debt("1001", "234.56", "Водоотведение"),
        debt("1002", "500.00"),
        debt("1003", "-10.00"),  # an advance: nothing is charged
        debt("1004", "50.00"),  # nobody's
    ]
    first = store.ingest_debt_registry(VODOKANAL, NOV, 1, records, sha256="r1")
    accept(store, "app:a", "1001")
    accept(store, "app:a", "1001", "Водоотведение")  # two ticks, one account: one message
    linked = cabinet(store, "+79160000099")
    store.link_account(int(linked.removeprefix("cabinet:")), VODOKANAL, "1002", NOON)
    accept(store, "app:c", "1003")
    accept(store, "app:e", "1002")
    store.record_acceptance(Acceptance("app:d", UK_DOM, "1001", "Отопление", HOUSE, "кв. 1"))
    reachable(store, "app:a", "app:c", "app:d", "app:e")
    store.set_opt_out("app:e", CHARGES, True)
    w = world(store, config, charges_source(VODOKANAL, NOV))
    sent = w.fire(lambda t: t.new_charges(VODOKANAL, NOV))
    assert sent == {
        "app:a": f"Начислено 1 234,56 руб. за ноябрь 2026 — {WATER}",
        linked: f"Начислено 500,00 руб. за ноябрь 2026 — {WATER}",
    }
    statuses = {
        m.client_id: (m.status, m.reason) for m in store.messages(charges_source(VODOKANAL, NOV))
    }
    assert statuses["app:e"] == (MessageStatus.SKIPPED, "opt-out")
    assert set(statuses) == {"app:a", linked, "app:e"}  # not the advance, not another partner's

    # The same registry again (a duplicate), the same run again: nobody twice.
    assert (
        activated([IngestOutcome(VODOKANAL, Outcome.DUPLICATE, period=NOV, registry_number=1)])
        == []
    )
    assert w.fire(lambda t: t.new_charges(VODOKANAL, NOV)) == {}

    # A newer registry of the period (a correction): whoever had the message keeps it; an
    # account new in it is told, with its own amount.
    accept(store, "app:f", "1005")
    reachable(store, "app:f")
    records[0] = debt("1001", "2000.00")
    second = store.ingest_debt_registry(
        VODOKANAL, NOV, 2, [*records, debt("1005", "75.10")], sha256="r2"
    )
    assert second.replaced is not None and second.replaced.id == first.registry.id
    sent = w.fire(lambda t: t.new_charges(VODOKANAL, NOV))
    assert sent == {"app:f": f"Начислено 75,10 руб. за ноябрь 2026 — {WATER}"}


def test_an_activated_registry_names_its_partner_period_and_number() -> None:
    outcomes = [
        IngestOutcome(VODOKANAL, Outcome.ACTIVATED, period=NOV, registry_number=3),
        IngestOutcome(VODOKANAL, Outcome.STALE, period=NOV, registry_number=1),
        IngestOutcome(UK_DOM, Outcome.REFUSED),
    ]
    assert activated(outcomes) == [[VODOKANAL, "2026-11", 3]]
    due = Due(CHARGES, VODOKANAL, "2026-11", registry=3)
    assert due.id == f"trigger:charges:{VODOKANAL}:2026-11:3"


def test_the_plan_finds_a_recent_registry_of_the_newest_period_only(
    store: SqlStore, config: RunnerConfig
) -> None:
    received = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    store.ingest_debt_registry(
        VODOKANAL, Period(2026, 10), 1, [debt("1001", "1")], sha256="o", received_at=received
    )
    store.ingest_debt_registry(
        VODOKANAL, NOV, 1, [debt("1001", "2")], sha256="n", received_at=received
    )
    charges = [d for d in plan(store, config, NOON) if d.kind == CHARGES]
    assert charges == [Due(CHARGES, VODOKANAL, "2026-11", registry=1)]
    later = [d for d in plan(store, config, NOON + dt.timedelta(days=4)) if d.kind == CHARGES]
    assert later == []  # too long ago to announce


# -- debt reminders ------------------------------------------------------------------------


def _at_perm(day: dt.date, hour: int = 0, minute: int = 30) -> dt.datetime:
    """A moment of ``day`` in Perm (UTC+5), given in UTC: 00:30 there is still the day
    before in UTC."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC) - dt.timedelta(
        hours=5
    )


def test_reminders_are_due_on_their_days_from_the_due_date_in_the_services_zone(
    store: SqlStore, config: RunnerConfig
) -> None:
    def reminders(day: dt.date) -> list[Due]:
        return [d for d in plan(store, config, _at_perm(day)) if d.kind == REMINDERS]

    # Due by 10 December for November; -3 and +5 days.
    assert reminders(dt.date(2026, 12, 7)) == [Due(REMINDERS, VODOKANAL, "2026-11", -3)]
    assert reminders(dt.date(2026, 12, 15)) == [Due(REMINDERS, VODOKANAL, "2026-11", 5)]
    assert reminders(dt.date(2026, 12, 8)) == []
    assert reminders(dt.date(2026, 12, 6)) == []
    # January's reminder is for December, across the year.
    assert reminders(dt.date(2027, 1, 7)) == [Due(REMINDERS, VODOKANAL, "2026-12", -3)]
    # due_day = 31: the month's last day
    short = attrs.evolve(
        config,
        partners=[
            attrs.evolve(p, notifications=PartnerNotifications(31, (0,)))
            if p.inn == VODOKANAL
            else p
            for p in config.partners
        ],
    )
    got = [d for d in plan(store, short, _at_perm(dt.date(2027, 2, 28))) if d.kind == REMINDERS]
    assert got == [Due(REMINDERS, VODOKANAL, "2027-01", 0)]


def _paid(
    store: SqlStore, lines: list[PaymentLine], client: str, owner: str = "app-1"
) -> uuid.UUID:
    """A payment booked for ``client`` and confirmed through the processor (its credits)."""
    payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)
    store.record_payment_app(payment.payment_id, owner)
    if client != owner:
        record_payment_client(store, payment.payment_id, client)
    entry = PaymentEntry(
        payment,
        uuid.uuid4().hex,
        state=PaymentState.PENDING,
        gateway_payment_id=f"gw-{payment.payment_id.hex}",
        line_refunded=tuple(Decimal(0) for _ in lines),
    )
    store.add(entry)
    processor = PaymentProcessor(object(), store=store)  # type: ignore[arg-type]  # no calls out
    snapshot = GatewayPayment(
        "sandbox",
        f"gw-{payment.payment_id.hex}",
        payment.payment_id,
        PaymentState.SUCCEEDED,
        payment.total,
        paid_at=dt.datetime.now(dt.UTC),
    )
    assert processor.apply(snapshot).move.credited
    return payment.payment_id


def _line(account: str, amount: str, service: str = "Водоснабжение") -> PaymentLine:
    return PaymentLine(
        VODOKANAL,
        account,
        Decimal(amount),
        service=service,
        house_id=HOUSE,
        premises=Premises("кв. 1"),
    )


def test_a_reminder_reaches_those_still_owing_with_what_they_owe_once(
    store: SqlStore, config: RunnerConfig
) -> None:
    store.ingest_debt_registry(
        VODOKANAL,
        NOV,
        1,
        [debt("1001", "1000.00"), debt("1001", "234.56", "Водоотведение"), debt("1002", "500.00")],
        sha256="r1",
    )
    accept(store, "app:a", "1001")
    accept(store, "app:b", "1002")
    reachable(store, "app:a", "app:b")
    _paid(store, [_line("1001", "200.00")], "app:a")  # part of it
    _paid(store, [_line("1002", "500.00")], "app:b")  # all of it
    source = f"trigger:reminder:{VODOKANAL}:2026-11:-3"
    w = world(store, config, source)
    due = Due(REMINDERS, VODOKANAL, "2026-11", -3)
    assert w.fire(lambda t: t.fire(due)) == {
        "app:a": "Напоминаем: задолженность 1 034,56 руб. по лицевому счёту 1001"
        " — срок оплаты до 10 декабря"
    }
    assert w.fire(lambda t: t.fire(due)) == {}  # another tick, another process: once
    after = Due(REMINDERS, VODOKANAL, "2026-11", 5)
    w.sources.add(f"trigger:reminder:{VODOKANAL}:2026-11:5")
    assert w.fire(lambda t: t.fire(after)) == {
        "app:a": "Напоминаем: задолженность 1 034,56 руб. по лицевому счёту 1001"
        " — срок оплаты был до 10 декабря"
    }


# -- the meter-reading window --------------------------------------------------------------


def test_the_reading_window_tells_clients_with_meters_once_a_month(
    store: SqlStore, config: RunnerConfig
) -> None:
    def readings(day: dt.date) -> list[Due]:
        return [d for d in plan(store, config, _at_perm(day)) if d.kind == READINGS]

    assert readings(dt.date(2026, 12, 19)) == []
    assert readings(dt.date(2026, 12, 20)) == [Due(READINGS, VODOKANAL, "2026-12")]
    assert readings(dt.date(2026, 12, 25)) == [Due(READINGS, VODOKANAL, "2026-12")]
    assert readings(dt.date(2026, 12, 26)) == []

    store.ingest_debt_registry(
        VODOKANAL, NOV, 1, [debt("1001", "10"), debt("1002", "20")], sha256="r1"
    )
    accept(store, "app:a", "1001")
    accept(store, "app:b", "1002")  # no meter at 1002
    reachable(store, "app:a", "app:b")
    reading = MeterReading("1001", "M-1", 2, (Decimal("12.5"),), dt.date(2026, 11, 25))
    store.record_reading("app:a", VODOKANAL, reading)
    w = world(store, config, f"trigger:readings:{VODOKANAL}:2026-12")
    due = Due(READINGS, VODOKANAL, "2026-12")
    assert w.fire(lambda t: t.fire(due)) == {
        "app:a": f"Передайте показания счётчиков до 25 числа — {WATER}"
    }
    assert w.fire(lambda t: t.fire(due)) == {}  # the 21st: the month's, told already


# -- a payment confirmed -------------------------------------------------------------------


def test_a_confirmed_payment_is_told_to_its_client_once_and_found_by_the_plan(
    store: SqlStore, config: RunnerConfig
) -> None:
    linked = cabinet(store, "+79160000077")
    reachable(store, "app:a")
    by_app = _paid(
        store,
        [
            _line("1001", "100.00"),
            PaymentLine(UK_DOM, "7", Decimal("55.5"), house_id=HOUSE, premises=Premises("кв. 1")),
        ],
        "app:a",
    )
    by_cabinet = _paid(store, [_line("1002", "20.00")], linked, owner=linked)
    unknown = _paid(store, [_line("1003", "5.00")], "app-1")  # an app's, for no known client
    now = dt.datetime.now(dt.UTC)
    due = [d for d in plan(store, config, now) if d.kind == PAYMENTS]
    assert {d.order_id for d in due} == {str(by_app), str(by_cabinet), str(unknown)}
    w = world(store, config, paid_source(by_app), paid_source(by_cabinet))
    sent: dict[str, str] = {}
    for d in due:
        sent |= w.fire(lambda t, d=d: t.fire(d))
    assert sent == {
        "app:a": "Платёж на 155,50 руб. зачислен: АО «Водоканал», ООО «УК Дом»",
        linked: "Платёж на 20,00 руб. зачислен: АО «Водоканал»",
    }
    left = [d for d in plan(store, config, now) if d.kind == PAYMENTS]
    assert [d.order_id for d in left] == [str(unknown)]  # told ones are not planned again
    for d in due:
        assert w.fire(lambda t, d=d: t.fire(d)) == {}


# -- autopay's hooks -----------------------------------------------------------------------


def test_the_autopay_hooks_tell_once_per_charge(store: SqlStore, config: RunnerConfig) -> None:
    reachable(store, "app:a")
    sources = [f"trigger:autopay:{e}:ch-1" for e in ("upcoming", "done", "failed")]
    w = world(store, config, *sources)
    amount = Decimal("1234.56")
    assert w.fire(
        lambda t: t.autopay_upcoming("app:a", "ch-1", VODOKANAL, amount, dt.date(2026, 12, 10))
    ) == {"app:a": f"10 декабря автоплатёж спишет 1 234,56 руб. — {WATER}"}
    assert w.fire(lambda t: t.autopay_done("app:a", "ch-1", VODOKANAL, amount)) == {
        "app:a": f"Автоплатёж: списано 1 234,56 руб. — {WATER}"
    }
    failed = (
        f"Автоплатёж на 1 234,56 руб. не прошёл — {WATER}. Оплатите вручную или проверьте карту"
    )
    assert w.fire(lambda t: t.autopay_failed("app:a", "ch-1", VODOKANAL, amount)) == {
        "app:a": failed
    }
    assert w.fire(lambda t: t.autopay_failed("app:a", "ch-1", VODOKANAL, amount)) == {}
    store.set_opt_out("app:a", "autopay", True)
    assert w.fire(lambda t: t.autopay_done("app:a", "ch-2", VODOKANAL, amount)) == {}


# -- the partners' settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("{ reminder_days = [-3] }", "notifications.reminder_days: needs due_day"),
        ("{ due_day = 0 }", "notifications.due_day: is a day of the month"),
        ("{ readings_days = [25, 20] }", "notifications.readings_days: is [first day, last day]"),
        ("{ due_day = 10, reminder_days = [90] }", "notifications.reminder_days: is a list"),
        ("{ due = 10 }", "notifications.due: unknown key"),
    ],
)
def test_a_wrong_partner_setting_is_named_with_its_key(
    tmp_path: Path, setting: str, problem: str
) -> None:
    from pes_sdk.errors import ConfigError

    old = "notifications = { due_day = 10, reminder_days = [-3, 5], readings_days = [20, 25] }"
    path = write_config(tmp_path, None, {old: f"notifications = {setting}"})
    with pytest.raises(ConfigError) as info:
        config_of(path)
    assert problem in str(info.value)
