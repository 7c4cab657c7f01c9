"""Closing days in order, checked before anything is written, and late payments kept.

Issue 11: ``pes runner close-day --date <today>`` wrote registry № 1 for today, then failed
with "the day is not over yet"; ``--date <yesterday>`` then got № 2; a partner with no debt
registry and no payment got empty registries; and a payment whose webhook was lost before
the cut-off, confirmed by the backstop after it, was booked on the day it was learned of.

The real ``pes runner`` CLI (real clock) and the real scheduler (injected clock) run on
real SQLite files (and PostgreSQL where the store is parameterised), with the real sandbox
acquirer on loopback dropping every webhook and the runner's own processor.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result
from example_inputs import (
    HOUSE,
    TEPLOSET,
    UK_DOM,
    VODOKANAL,
    local,
    pay_basket,
    receive_debts,
)
from pes_sdk_runner.api import processor_for
from pes_sdk_runner.close import (
    CloseError,
    DayOutOfOrder,
    check_close,
    close_day,
    day_of,
    day_window,
    days_to_close_before,
)
from pes_sdk_runner.config import RunnerConfig, example_config_path, load_runner_config
from pes_sdk_runner.daemon import Daemon
from pes_sdk_runner.store import (
    LedgerEntry,
    LedgerKind,
    RegistryOutOfOrder,
    SqlStore,
    StoreError,
    open_store,
)
from pes_sdk_runner.store import migrate as migrations
from pes_sdk_runner.store.sql import booking_time, to_kopecks
from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway
from runner_proc import ENV, config_of, write_config

from pes_sdk.cli.main import cli
from pes_sdk.fees import settle_day
from pes_sdk.gateways import PaymentProcessor, PaymentState, RetryPolicy
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod, PaymentRecord
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises
from pes_sdk.vat import DEFAULT_VAT_SCHEDULE

# Days, cut-offs and capture times must not depend on the host's zone: make test runs
# these again under two more TZ values.
pytestmark = pytest.mark.timezone

NO_WAIT = RetryPolicy(attempts=2, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None)
ONE = dt.timedelta(days=1)
#: the service zones the late-payment tests run in: Perm (UTC+5), and one behind UTC
ZONES = ["Asia/Yekaterinburg", "America/New_York"]


def run(args: Sequence[str], env: Mapping[str, str] = ENV) -> Result:
    return CliRunner().invoke(cli, list(args), env=dict(env))


def noon_zone() -> str:
    """A fixed-offset zone where it is now between 12:00 and 13:00, whatever the real clock.

    ``pes runner close-day`` asks the real clock whether a day is over; in this zone today
    is over at a 09:00 cut-off and not at 18:00, on any machine at any hour.
    """
    offset = 12 - dt.datetime.now(dt.UTC).hour  # local = UTC + offset, -11..+12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-5 is UTC+5


def registries(store: SqlStore, inn: str) -> list[tuple[dt.date, int, int]]:
    return [(r.day, r.number, r.count) for r in store.payment_registries(inn)]


def outbox_files(data: Path) -> list[Path]:
    outbox = data / "outbox"
    return sorted(p for p in outbox.rglob("*") if p.is_file()) if outbox.exists() else []


# -- pes runner close-day: checks first, numbers in day order ----------------------------------


@pytest.fixture
def noon(tmp_path: Path) -> Iterator[tuple[Path, RunnerConfig, dt.date]]:
    """The example configuration at local noon, УК Дом's cut-off at 09:00: (path, config, today).

    Today is over for УК Дом, not for Водоканал (18:00) nor Теплосеть (21:30).
    """
    zone = noon_zone()
    path = write_config(
        tmp_path,
        replace={
            'time_zone = "Asia/Yekaterinburg"': f'time_zone = "{zone}"',
            'cutoff = "20:00"': 'cutoff = "09:00"',
        },
    )
    config = config_of(path)
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    today = dt.datetime.now(config.service.time_zone).date()
    yield path, config, today


def store_of(config: RunnerConfig) -> SqlStore:
    store = open_store(config.store.url)
    store.upsert_partners(p.partner for p in config.partners)
    return store


def test_close_day_of_today_writes_nothing_when_one_partner_is_not_over(
    noon: tuple[Path, RunnerConfig, dt.date],
) -> None:
    path, config, today = noon
    with store_of(config) as store:
        pay_basket(store, UK_DOM, local(config, today - ONE, 8), "100.00")  # yesterday's
        pay_basket(store, UK_DOM, local(config, today, 8), "200.00")  # today's (to 09:00)
    args = ["runner", "close-day", "--config", str(path)]

    refused = run([*args, "--date", f"{today}"])

    assert refused.exit_code == 2, refused.output
    assert "the day is not over yet" in refused.stderr
    assert f"partner {VODOKANAL}: {today:%d.%m.%Y} ends at" in refused.stderr
    assert f"partner {TEPLOSET}: {today:%d.%m.%Y} ends at" in refused.stderr
    assert "nothing was closed" in refused.stderr
    # Before the fix, УК Дом's today was written and numbered № 1 before the refusal.
    assert refused.stdout == ""
    assert outbox_files(config.service.data) == []
    with store_of(config) as store:
        assert [registries(store, p.inn) for p in config.partners] == [[], [], []]

    # The days then close in order, whichever is asked first: yesterday is № 1.
    closed = run([*args, "--date", f"{today}", "--partner", UK_DOM])
    assert closed.exit_code == 0, closed.output
    lines = closed.stdout.splitlines()
    assert lines[0] == f"{UK_DOM}: closing {today - ONE} first (not closed yet)"
    assert lines[1].startswith(f"{UK_DOM}: registry № 1 of {today - ONE}, 1 payments, paid 100.00")
    assert f"{UK_DOM}: registry № 2 of {today}, 1 payments, paid 200.00" in closed.stdout
    with store_of(config) as store:
        assert registries(store, UK_DOM) == [(today - ONE, 1, 1), (today, 2, 1)]

    # Yesterday again, for everyone: a re-run for УК Дом; Водоканал was never served, so
    # none of its days has started (no empty registry); Теплосеть had no payment.
    again = run([*args, "--date", f"{today - ONE}"])
    assert again.exit_code == 0, again.output
    assert f"{UK_DOM}: registry № 1 of {today - ONE}, 1 payments" in again.stdout
    assert f"{VODOKANAL}: no registry for {today - ONE}: not served yet" in again.stdout
    assert f"{TEPLOSET}: no payments; no registry" in again.stdout
    with store_of(config) as store:
        assert registries(store, VODOKANAL) == []
        assert registries(store, UK_DOM) == [(today - ONE, 1, 1), (today, 2, 1)]


def test_empty_registries_start_with_the_first_debt_registry_and_follow_the_days(
    noon: tuple[Path, RunnerConfig, dt.date],
) -> None:
    path, config, today = noon
    first = today - 4 * ONE
    with store_of(config) as store:
        receive_debts(store, VODOKANAL, local(config, first, 10))  # served from that day
    args = ["runner", "close-day", "--config", str(path), "--partner", VODOKANAL]

    done = run([*args, "--date", f"{today - 2 * ONE}"])

    assert done.exit_code == 0, done.output
    with store_of(config) as store:
        # Its first day and the next are closed first: numbers follow the days.
        assert registries(store, VODOKANAL) == [
            (first, 1, 0),
            (first + ONE, 2, 0),
            (today - 2 * ONE, 3, 0),
        ]
        # The day before it was served gets none.
        before = close_day(
            store, config, get_host(), config.partners[1], first - ONE, now=dt.datetime.now(dt.UTC)
        )
        assert before.skipped and "not served yet" in before.reason


def test_a_day_before_a_closed_one_is_refused_before_anything_is_written(
    noon: tuple[Path, RunnerConfig, dt.date],
) -> None:
    path, config, today = noon
    water = config.partners[1]
    now = dt.datetime.now(dt.UTC)
    with store_of(config) as store:
        receive_debts(store, VODOKANAL, local(config, today - 3 * ONE, 10))
        # A later day closed alone (the API allows leaving empty days out, as the
        # scheduler's catch-up does): the two days before it are left unclosed.
        close_day(store, config, get_host(), water, today - ONE, now=now)
        with pytest.raises(DayOutOfOrder, match="numbers follow the days"):
            check_close(store, config, get_host(), water, today - 2 * ONE, now=now)
        # The store refuses it too, whoever asks: it takes no number.
        with pytest.raises(RegistryOutOfOrder):
            store.record_payment_registry(
                VODOKANAL,
                today - 2 * ONE,
                count=0,
                amount=Decimal(0),
                fee=Decimal(0),
                transfer=Decimal(0),
            )
    files = outbox_files(config.service.data)

    refused = run(["runner", "close-day", "--config", str(path), "--date", f"{today - 2 * ONE}"])

    assert refused.exit_code == 2, refused.output
    assert f"partner {VODOKANAL}: {today - 2 * ONE:%d.%m.%Y} was not closed" in refused.stderr
    assert "numbers follow the days" in refused.stderr
    assert refused.stdout == "" and outbox_files(config.service.data) == files
    with store_of(config) as store:
        assert registries(store, VODOKANAL) == [(today - ONE, 1, 0)]
        assert registries(store, UK_DOM) == []


def test_a_later_day_waits_for_an_earlier_one_with_payments(
    tmp_path: Path,
) -> None:
    config = load_runner_config(example_config_path(), get_host(), env=ENV, data=tmp_path)
    uk = config.partners[0]
    day = dt.date(2026, 10, 20)
    later = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with open_store(config.store.url) as store:
        store.upsert_partners(p.partner for p in config.partners)
        pay_basket(store, UK_DOM, local(config, day, 10), "10.00")
        pay_basket(store, UK_DOM, local(config, day + 2 * ONE, 10), "20.00")
        assert days_to_close_before(store, config, uk, day + 2 * ONE) == [day]
        with pytest.raises(CloseError, match=r"20\.10\.2026 holds payments in no registry"):
            close_day(store, config, get_host(), uk, day + 2 * ONE, now=later)
        assert registries(store, UK_DOM) == []
        for d in (day, day + ONE, day + 2 * ONE):
            close_day(store, config, get_host(), uk, d, now=later)
        assert registries(store, UK_DOM) == [(day, 1, 1), (day + 2 * ONE, 2, 1)]


# -- a payment confirmed late: its capture day, or the next registry --------------------------


@attrs.frozen
class Acquired:
    """The runner's store and processor on the sandbox acquirer, whose webhooks are lost."""

    config: RunnerConfig
    store: SqlStore
    sim: AcquirerSimulator
    processor: PaymentProcessor

    def start(self, amount: str, created: dt.datetime) -> PaymentEntry:
        payment = Payment(
            uuid.uuid4(),
            created,
            PaymentMethod.CARD,
            [
                PaymentLine(
                    UK_DOM,
                    "0012345",
                    Decimal(amount),
                    service="Отопление",
                    house_id=HOUSE,
                    premises=Premises("кв. 12А"),
                )
            ],
        )
        entry = self.processor.start(payment, return_url="https://cabinet.example/paid")
        assert entry.gateway_payment_id is not None
        return entry

    def daemon(self) -> Daemon:
        return Daemon(self.store, self.config, get_host(), check_payment=self.processor.refresh)


@pytest.fixture(params=ZONES)
def acquired(request: pytest.FixtureRequest, store_url: str, tmp_path: Path) -> Iterator[Acquired]:
    zone = request.param
    config = load_runner_config(example_config_path(), get_host(), env=ENV, data=tmp_path)
    config = attrs.evolve(
        config,
        service=attrs.evolve(config.service, time_zone=zoneinfo.ZoneInfo(zone)),
        store=attrs.evolve(config.store, url=store_url),
    )
    for p in config.partners:
        assert p.source.folder is not None
        p.source.folder.mkdir(parents=True)
    store = open_store(store_url)
    store.upsert_partners(p.partner for p in config.partners)
    with AcquirerSimulator() as sim:
        sim.switches.webhook_drop_rate = 1.0  # every webhook is lost
        processor = processor_for(SandboxGateway.for_simulator(sim, timeout=1.0), store)
        processor.retry = NO_WAIT
        yield Acquired(config, store, sim, processor)
    store.close()


def last_ended(config: RunnerConfig, cutoff: dt.time, now: dt.datetime) -> dt.date:
    """The newest day whose window (at ``cutoff``) ended by ``now``."""
    day = day_of(now, cutoff, config.service.time_zone)
    return day - ONE


def records_of(config: RunnerConfig, path: Path) -> list[PaymentRecord]:
    with get_host().format("sber-payments").open(path) as reader:
        return [r for r in reader if isinstance(r, PaymentRecord)]


def test_a_payment_the_backstop_confirms_after_the_cut_off_is_in_its_capture_day(
    acquired: Acquired,
) -> None:
    config, sim = acquired.config, acquired.sim
    uk = config.partners[0]
    zone = config.service.time_zone
    now = dt.datetime.now(dt.UTC)
    day = last_ended(config, uk.cutoff, now)  # its 20:00 cut-off is behind us
    end = day_window(day, uk.cutoff, zone)[1]
    captured = end - dt.timedelta(minutes=5)  # 19:55, and the webhook is lost
    entry = acquired.start("1500.50", end - dt.timedelta(minutes=10))
    assert entry.gateway_payment_id is not None
    sim.approve(entry.gateway_payment_id, at=captured)
    daemon = acquired.daemon()

    # After the cut-off (and after any webhook would have come): the backstop asks, and
    # the same pass closes the day.
    at = max(end + dt.timedelta(seconds=config.daemon.close_grace), now) + dt.timedelta(
        seconds=config.daemon.payment_check_after + 60
    )
    done = daemon.run_once(at)

    assert done.ok, done.errors
    [check] = [c for c in done.payments if c.order_id == entry.order_id]
    assert check.credited and check.state is PaymentState.SUCCEEDED
    [credit] = acquired.store.ledger_entries(UK_DOM, kind=LedgerKind.CREDIT)
    assert credit.at == captured  # booked at the capture, not when it was learned
    stored = acquired.store.get(entry.order_id)
    assert stored is not None and stored.paid_at == captured
    [closed] = [c for c in done.registries if c.partner_inn == UK_DOM and c.day == day]
    assert closed.registry is not None and closed.registry_path is not None
    [record] = records_of(config, closed.registry_path)
    assert record.amount == Decimal("1500.50")
    assert record.paid_at == captured.astimezone(zone).replace(tzinfo=None)


def test_one_confirmed_after_its_day_was_closed_is_in_the_next_registry_with_its_time(
    acquired: Acquired,
) -> None:
    config, sim, store = acquired.config, acquired.sim, acquired.store
    uk = config.partners[0]
    zone = config.service.time_zone
    now = dt.datetime.now(dt.UTC)
    day = last_ended(config, uk.cutoff, now)
    end = day_window(day, uk.cutoff, zone)[1]
    grace = dt.timedelta(seconds=config.daemon.close_grace)
    pay_basket(store, UK_DOM, end - dt.timedelta(hours=3), "100.00")  # an ordinary one
    late = acquired.start("777.00", end - dt.timedelta(minutes=10))
    assert late.gateway_payment_id is not None
    sim.approve(late.gateway_payment_id, at=end - dt.timedelta(minutes=5))
    daemon = acquired.daemon()

    # The day is closed before the backstop hears of the payment (the acquirer does not
    # answer, and the payment changed too recently to be asked about anyway).
    sim.switches.fail_next = 1000
    first = daemon.run_once(max(end + grace, now + dt.timedelta(seconds=1)))
    sim.switches.fail_next = 0
    [closed] = [c for c in first.registries if c.partner_inn == UK_DOM]
    assert closed.day == day and closed.registry is not None and closed.registry_path
    assert closed.registry.totals.amount == Decimal("100.00")
    closed_bytes = closed.registry_path.read_bytes()

    waiting = store.get(late.order_id)
    assert waiting is not None and waiting.state is PaymentState.PENDING

    # Later the backstop gets the answer: captured at 19:55 of the closed day.
    at = now + dt.timedelta(seconds=config.daemon.payment_check_after + 60)
    found = daemon.run_once(at)
    assert [c.order_id for c in found.payments if c.credited] == [late.order_id]
    [credit] = [
        e
        for e in store.ledger_entries(UK_DOM, kind=LedgerKind.CREDIT)
        if e.order_id == late.order_id
    ]
    assert credit.at == end - dt.timedelta(minutes=5)
    # The closed registry stands, a re-close of its day changes nothing.
    again = close_day(store, config, get_host(), uk, day, now=at)
    assert again.info is not None and not again.info.new
    assert closed.registry_path.read_bytes() == closed_bytes

    # The next day's close carries it, with the time the bank statement shows.
    next_end = day_window(day + ONE, uk.cutoff, zone)[1]
    following = daemon.run_once(max(next_end + grace, at + dt.timedelta(minutes=1)))
    # (the pass before closed it already when the test ran within minutes of the cut-off)
    [carried] = [
        c for done in (found, following) for c in done.registries if c.partner_inn == UK_DOM
    ]
    assert carried.day == day + ONE and carried.info is not None and carried.info.number == 2
    assert carried.registry_path is not None
    [record] = records_of(config, carried.registry_path)
    assert record.amount == Decimal("777.00")
    assert record.paid_at == (end - dt.timedelta(minutes=5)).astimezone(zone).replace(tzinfo=None)
    assert registries(store, UK_DOM) == [(day, 1, 1), (day + ONE, 2, 1)]


def test_a_pass_that_closes_a_day_first_asks_about_every_waiting_payment(
    store_url: str, tmp_path: Path
) -> None:
    """Even one paid a minute before the cut-off: it is in that day's registry, not the next."""
    zone = zoneinfo.ZoneInfo(noon_zone())
    now = dt.datetime.now(dt.UTC)
    local_now = now.astimezone(zone)
    # УК Дом's cut-off two minutes ahead, and no grace: the day ends at ``end``.
    cutoff = (local_now + dt.timedelta(minutes=2)).time().replace(second=0, microsecond=0)
    config = load_runner_config(example_config_path(), get_host(), env=ENV, data=tmp_path)
    partners = (attrs.evolve(config.partners[0], cutoff=cutoff), *config.partners[1:])
    config = attrs.evolve(
        config,
        service=attrs.evolve(config.service, time_zone=zone),
        store=attrs.evolve(config.store, url=store_url),
        daemon=attrs.evolve(config.daemon, close_grace=0.0),
        partners=partners,
    )
    uk = config.partners[0]
    end = day_window(local_now.date(), uk.cutoff, zone)[1]
    for p in config.partners:
        assert p.source.folder is not None
        p.source.folder.mkdir(parents=True)
    with open_store(store_url) as store, AcquirerSimulator() as sim:
        store.upsert_partners(p.partner for p in config.partners)
        sim.switches.webhook_drop_rate = 1.0
        processor = processor_for(SandboxGateway.for_simulator(sim, timeout=1.0), store)
        processor.retry = NO_WAIT
        acquired = Acquired(config, store, sim, processor)
        daemon = acquired.daemon()
        assert daemon.run_once(now).ok  # the scheduler knows where УК Дом stands
        entry = acquired.start("42.00", now)
        assert entry.gateway_payment_id is not None
        sim.approve(entry.gateway_payment_id, at=now + dt.timedelta(seconds=1))

        # At the cut-off: the payment changed less than payment_check_after ago, yet it is
        # asked about before the day is closed.
        done = daemon.run_once(end)

        assert [c.order_id for c in done.payments if c.credited] == [entry.order_id]
        [closed] = [c for c in done.registries if c.partner_inn == UK_DOM]
        assert closed.day == local_now.date() and closed.registry is not None
        assert [r.amount for r in closed.registry.records] == [Decimal("42.00")]


# -- the store: capture times, open credits, legacy registries ----------------------------------


T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def _paid(at: dt.datetime | None, created: dt.datetime = T0) -> PaymentEntry:
    payment = Payment(
        uuid.uuid4(),
        created,
        PaymentMethod.CARD,
        [PaymentLine(UK_DOM, "1001", Decimal("10.00"), service="Отопление")],
    )
    return PaymentEntry(payment, uuid.uuid4().hex, state=PaymentState.SUCCEEDED, paid_at=at)


def test_a_paid_put_books_its_credits_at_the_capture_time_within_bounds() -> None:
    now = T0 + dt.timedelta(hours=2)
    assert booking_time(_paid(T0 + dt.timedelta(minutes=5)), now) == T0 + dt.timedelta(minutes=5)
    assert booking_time(_paid(T0 - dt.timedelta(minutes=5)), now) == T0  # before its payment
    assert booking_time(_paid(now + dt.timedelta(days=1)), now) == now  # in the future
    assert booking_time(_paid(None), now) == now  # no time: when it is booked


def test_put_keeps_the_capture_time_and_the_credit_carries_it(store: SqlStore) -> None:
    store.upsert_partners([config_partner()])
    created = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    entry = _paid(None, created)
    store.add(attrs.evolve(entry, state=PaymentState.PENDING))
    captured = created + dt.timedelta(minutes=10)
    store.put(attrs.evolve(entry, paid_at=captured))
    store.put(attrs.evolve(entry, paid_at=captured + dt.timedelta(minutes=30)))  # a repeat
    [credit] = store.ledger_entries(UK_DOM, kind=LedgerKind.CREDIT)
    assert credit.at == captured
    found = store.get(entry.order_id)
    assert found is not None and found.paid_at == captured  # the first one stands


def config_partner() -> Any:
    config = load_runner_config(example_config_path(), get_host(), env=ENV)
    return config.partners[0].partner


def test_a_registry_takes_its_open_credits_once(store: SqlStore) -> None:
    store.upsert_partners([config_partner()])
    credits = [
        LedgerEntry(LedgerKind.CREDIT, UK_DOM, Decimal(a), ref=f"c{i}", at=T0 + i * ONE)
        for i, a in enumerate(("1.00", "2.00", "3.00"))
    ]
    store.ledger_append(credits)
    store.ledger_append([LedgerEntry(LedgerKind.FEE, UK_DOM, Decimal("0.50"), ref="fee")])
    open_ = store.open_credits(UK_DOM, until=T0 + 2 * ONE)
    assert [e.ref for e in open_] == ["c0", "c1"]  # credits only, before ``until``
    ids = [e.id for e in open_ if e.id is not None]

    info = store.record_payment_registry(
        UK_DOM,
        T0.date(),
        count=2,
        amount=Decimal("3.00"),
        fee=Decimal(0),
        transfer=Decimal("3.00"),
        credits=ids,
    )
    assert [e.ref for e in store.registry_credits(info.id)] == ["c0", "c1"]
    assert [e.ref for e in store.open_credits(UK_DOM)] == ["c2"]
    # A registry of a later day cannot take them again: nothing of it is kept.
    with pytest.raises(StoreError, match="in another registry already"):
        store.record_payment_registry(
            UK_DOM,
            T0.date() + ONE,
            count=1,
            amount=Decimal("1.00"),
            fee=Decimal(0),
            transfer=Decimal("1.00"),
            credits=ids[:1],
        )
    assert [r.number for r in store.payment_registries(UK_DOM)] == [1]
    assert [e.ref for e in store.open_credits(UK_DOM, limit=1)] == ["c2"]


def test_a_registry_closed_before_migration_3_keeps_its_credits_by_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_runner_config(example_config_path(), get_host(), env=ENV, data=tmp_path)
    uk = config.partners[0]
    day = dt.date(2026, 10, 20)
    later = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    known = migrations.known_migrations()
    monkeypatch.setattr(migrations, "known_migrations", lambda: known[:2])
    store = open_store(config.store.url)  # a database of the previous release
    try:
        store.upsert_partners(p.partner for p in config.partners)
        for i, at in enumerate((local(config, day, 10), local(config, day + ONE, 10))):
            store.ledger_append(
                [
                    LedgerEntry(
                        LedgerKind.CREDIT,
                        UK_DOM,
                        Decimal("10.00"),
                        account="1001",
                        ref=f"old{i}",
                        at=at,
                    )
                ]
            )
        plan = get_host().fee_plans()[uk.partner.fee.plan]
        settled = settle_day(plan, uk.partner.fee, day, [Decimal("10.00")], DEFAULT_VAT_SCHEDULE)
        conn = store.dialect.connect()  # the day closed then: registry № 1, by its window
        conn.execute(
            "INSERT INTO payment_registry_counters (partner_inn, last_number) VALUES (?, 1)",
            (UK_DOM,),
        )
        conn.execute(
            "INSERT INTO payment_registries (partner_inn, number, day, created_at, record_count,"
            " amount, fee, transfer) VALUES (?, 1, ?, ?, 1, ?, ?, ?)",
            (
                UK_DOM,
                f"{day}",
                store.dialect.ts_in(later),
                *(to_kopecks(v) for v in (settled.paid, settled.fee, settled.transfer)),
            ),
        )
        conn.close()
        monkeypatch.undo()
        assert store.migrate() == [m.version for m in known[2:]]

        rerun = close_day(store, config, get_host(), uk, day, now=later)
        assert rerun.info is not None and not rerun.info.new  # same figures: no conflict
        following = close_day(store, config, get_host(), uk, day + ONE, now=later)
        assert following.registry is not None
        assert [r.amount for r in following.registry.records] == [Decimal("10.00")]
        assert registries(store, UK_DOM) == [(day, 1, 1), (day + ONE, 2, 1)]
    finally:
        store.close()
