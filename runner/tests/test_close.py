"""Closing days and delivering registries, on a real SQLite store with real formats.

Payments are recorded the way the processor records them: a paid entry in the book and its
ledger credits (``Store.add`` + ``Store.credit_payment`` with the confirmation time).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from example_inputs import HOUSE, TEPLOSET, UK_DOM, VODOKANAL, local, pay_basket, receive_debts
from pes_sdk_runner.close import (
    CloseConflict,
    DayNotOver,
    close_day,
    day_window,
    deliver_pending,
    outbox_folder,
)
from pes_sdk_runner.config import (
    AdapterSettings,
    ChannelConfig,
    PartnerConfig,
    RunnerConfig,
    example_config_path,
    load_runner_config,
)
from pes_sdk_runner.store import DeliveryStatus, LedgerKind, SqlStore, open_store
from runner_proc import ENV

from pes_sdk.billing.contract import DeliveryChannel
from pes_sdk.billing.errors import BillingUnavailable, RegistryConflict
from pes_sdk.billing.models import DeliveryReceipt
from pes_sdk.billing.models import DeliveryStatus as ChannelStatus
from pes_sdk.billing.retry import BillingRetry
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.partners import FeeTerms
from pes_sdk.models.payments import PaymentRegistry
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.plugins import hookimpl
from pes_sdk.plugins.manager import PluginHost

DAY = dt.date(2026, 11, 26)
LATER = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)  # "now": every test day is over
NO_WAIT = BillingRetry(attempts=2, initial_wait=0, max_wait=0, sleep=lambda _: None)


class Recorder:
    """A plugin that records the core event ``registry_delivered``."""

    def __init__(self) -> None:
        self.events: list[Delivery] = []

    @hookimpl
    def pes_registry_delivered(self, delivery: Delivery) -> None:
        self.events.append(delivery)


@pytest.fixture
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture
def recorder(host: PluginHost) -> Recorder:
    rec = Recorder()
    host.register(rec, name="test-recorder")
    return rec


@pytest.fixture
def config(tmp_path: Path, host: PluginHost) -> RunnerConfig:
    return load_runner_config(example_config_path(), host, env=ENV, data=tmp_path / "data")


@pytest.fixture
def store(tmp_path: Path, config: RunnerConfig) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    s.upsert_partners(p.partner for p in config.partners)
    yield s
    s.close()


def partner_of(config: RunnerConfig, inn: str) -> PartnerConfig:
    found = config.partner(inn)
    assert found is not None
    return found


def pay(
    store: SqlStore, inn: str, at: dt.datetime, *amounts: str, account: str = "1001"
) -> uuid.UUID:
    """A basket paid and credited at ``at``, as the processor records it."""
    entry = pay_basket(
        store,
        inn,
        at,
        *amounts,
        account=account,
        service="Содержание жилья",
        period=Period(2026, 11),
    )
    return entry.payment.payment_id


def read_back(host: PluginHost, fmt: str, path: Path) -> tuple[list[Any], Any]:
    with host.format(fmt).open(path) as reader:
        records = list(reader)
        return records, reader.report


def test_window_is_half_open_at_the_cutoff_in_the_service_zone(config: RunnerConfig) -> None:
    zone = config.service.time_zone
    start, end = day_window(DAY, dt.time(20, 0), zone)
    # Perm is UTC+5: 20:00 local is 15:00 UTC
    assert start == dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
    # a midnight cut-off is the end of the day, not its start
    start, end = day_window(DAY, dt.time(0, 0), zone)
    assert start == dt.datetime(2026, 11, 25, 19, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 26, 19, 0, tzinfo=dt.UTC)


def test_close_writes_a_registry_that_reads_back_with_its_totals(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY - dt.timedelta(days=1), 20, 0, 0), "1000.00")  # in
    pay(store, UK_DOM, local(config, DAY, 9, 30), "333.33", "1234.56")
    pay(store, UK_DOM, local(config, DAY, 19, 59, 59), "0.01")  # last second of the day
    pay(store, UK_DOM, local(config, DAY, 20, 0, 0), "777.00")  # next day's
    pay(store, TEPLOSET, local(config, DAY, 10), "500.00")  # another partner's

    done = close_day(store, config, host, uk, DAY, now=LATER)

    assert done.registry is not None and done.info is not None and done.registry_path
    assert done.info.number == 1
    assert done.registry_path.parent == outbox_folder(config, uk)
    records, report = read_back(host, "sber-payments", done.registry_path)
    assert report.valid
    paid = Decimal("1000.00") + Decimal("333.33") + Decimal("1234.56") + Decimal("0.01")
    assert len(records) == 4
    assert sum((r.amount for r in records), ZERO) == paid
    totals = done.registry.totals
    assert totals.amount == paid
    assert totals.commission == Decimal("34.92")  # round(2567.90 × 1.36 %)
    assert totals.vat == Decimal("7.68")  # 22 % on top
    assert totals.commission + totals.vat + totals.transfer == paid
    assert sum((r.fee for r in records), ZERO) == totals.fee
    assert sum((r.transfer for r in records), ZERO) == totals.transfer
    assert all(r.amount == r.fee + r.transfer for r in records)
    assert Decimal("777.00") not in {r.amount for r in records}
    # the transfer order: the day's transfer, to the partner, through 1c-clientbank
    assert done.order is not None and done.transfer_path is not None
    assert done.order.amount == totals.transfer
    assert done.order.payee.inn == UK_DOM
    text = done.transfer_path.read_text(encoding="cp1251")
    assert f"Сумма={totals.transfer}" in text
    assert "по реестру № 1 от 26.11.2026" in text
    # the ledger: commission, VAT and transfer, which with the credits leave nothing owed
    ledger = store.ledger_totals(UK_DOM)
    assert ledger.fees == totals.fee and ledger.transfers == totals.transfer
    day_credits = [e for e in store.ledger_entries(UK_DOM) if e.kind is LedgerKind.CREDIT]
    assert len(day_credits) == 5  # the 777.00 credit waits for the next day
    assert done.delivery is not None and done.delivery.status is DeliveryStatus.PENDING


def test_pes_payments_registry_carries_cyrillic_and_lines(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    tep = partner_of(config, TEPLOSET)
    pay(store, TEPLOSET, local(config, DAY, 10), "500.00", "250.50")
    done = close_day(store, config, host, tep, DAY, now=LATER)
    assert done.registry_path is not None and done.transfer_path is None
    records, report = read_back(host, "pes-payments", done.registry_path)
    assert report.valid and len(records) == 2
    assert {r.service for r in records} == {"Содержание жилья"}
    assert {r.house_id for r in records} == {HOUSE}
    assert {r.period for r in records} == {Period(2026, 11)}
    assert sum((r.amount for r in records), ZERO) == Decimal("750.50")
    assert done.registry is not None
    assert done.registry.totals.commission == Decimal("9.01")  # round(750.50 × 1.2 %)


def test_numbers_are_gapless_and_a_reclose_is_byte_identical(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    uk = partner_of(config, UK_DOM)
    days = [DAY + dt.timedelta(days=i) for i in range(4)]
    for i, day in enumerate(days):
        if i != 2:  # the third day has no payment: it takes no number
            pay(store, UK_DOM, local(config, day, 12), f"{100 + i}.17", "49.99")
    first = [close_day(store, config, host, uk, day, now=LATER) for day in days]
    assert [c.info.number if c.info else None for c in first] == [1, 2, None, 3]
    assert first[2].skipped and first[2].registry_path is None
    files = {
        p: p.read_bytes()
        for c in first
        for p in (c.registry_path, c.transfer_path)
        if p is not None
    }
    ledger = store.ledger_entries(UK_DOM)

    again = [
        close_day(store, config, host, uk, day, now=LATER + dt.timedelta(days=30)) for day in days
    ]
    assert [c.info.number if c.info else None for c in again] == [1, 2, None, 3]
    assert all(c.info is None or not c.info.new for c in again)
    assert {p: p.read_bytes() for p in files} == files
    assert {p for c in again for p in (c.registry_path, c.transfer_path) if p} == set(files)
    assert store.ledger_entries(UK_DOM) == ledger  # nothing appended twice
    assert len(store.deliveries()) == 3
    assert [r.number for r in sorted(store.payment_registries(UK_DOM), key=lambda r: r.number)] == [
        1,
        2,
        3,
    ]


def test_a_day_without_payments_makes_a_registry_only_when_asked(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    tep = partner_of(config, TEPLOSET)  # empty_registry = false
    done = close_day(store, config, host, tep, DAY, now=LATER)
    assert done.skipped and store.payment_registries(TEPLOSET) == []
    assert not outbox_folder(config, tep).exists() or not any(outbox_folder(config, tep).iterdir())

    voda = partner_of(config, VODOKANAL)  # empty_registry = true
    # Not served yet (no debt registry, no payment): its days have not started.
    unserved = close_day(store, config, host, voda, DAY, now=LATER)
    assert unserved.skipped and "not served yet" in unserved.reason
    assert store.payment_registries(VODOKANAL) == []
    receive_debts(store, VODOKANAL, local(config, DAY, 9))  # its first registry: served
    done = close_day(store, config, host, voda, DAY, now=LATER)
    assert done.registry is not None and done.info is not None and done.registry_path
    assert done.info.number == 1 and done.registry.totals.count == 0
    assert done.order is None and done.transfer_path is None  # nothing to transfer
    records, report = read_back(host, "pes-payments", done.registry_path)
    assert records == [] and report.valid and report.total == ZERO


def test_subscription_plan_withholds_nothing(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    voda = partner_of(config, VODOKANAL)
    pay(store, VODOKANAL, local(config, DAY, 17, 59), "1500.00")
    done = close_day(store, config, host, voda, DAY, now=LATER)
    assert done.registry is not None and done.order is not None and done.transfer_path
    assert done.registry.totals.fee == ZERO and done.order.amount == Decimal("1500.00")
    assert done.transfer_path.read_bytes()  # 1c-directbank XML written


def test_a_day_not_over_is_refused(store: SqlStore, config: RunnerConfig, host: PluginHost) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    with pytest.raises(DayNotOver, match="cut-off 20:00"):
        close_day(store, config, host, uk, DAY, now=local(config, DAY, 19, 59))
    assert store.payment_registries(UK_DOM) == []


def test_a_reclose_with_other_figures_is_refused(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY, 10), "1000.00")
    close_day(store, config, host, uk, DAY, now=LATER)
    # The partner's rate was changed in the configuration since: the registry stands.
    fee = attrs.evolve(uk.partner.fee, rate=Decimal("0.02"))
    changed = attrs.evolve(uk, partner=attrs.evolve(uk.partner, fee=fee))
    with pytest.raises(CloseConflict, match="registry № 1"):
        close_day(store, config, host, changed, DAY, now=LATER)


def test_a_credit_booked_into_a_closed_day_goes_into_the_next_registry(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    first = close_day(store, config, host, uk, DAY, now=LATER)
    assert first.registry_path is not None
    closed_bytes = first.registry_path.read_bytes()
    # Captured on DAY, learned of after DAY was closed (the old close refused the re-close
    # with a conflict, and no registry ever carried the payment).
    pay(store, UK_DOM, local(config, DAY, 11), "5.00")

    again = close_day(store, config, host, uk, DAY, now=LATER)
    assert again.info is not None and not again.info.new and again.registry is not None
    assert again.registry.totals.amount == Decimal("10.00")  # the closed registry stands
    assert first.registry_path.read_bytes() == closed_bytes

    following = close_day(store, config, host, uk, DAY + dt.timedelta(days=1), now=LATER)
    assert following.registry is not None and following.info is not None
    assert following.info.number == 2
    [late] = following.registry.records
    assert (late.amount, late.paid_at) == (Decimal("5.00"), local(config, DAY, 11))


def test_deliver_pending_acknowledges_outbox_deliveries_once(
    store: SqlStore, config: RunnerConfig, host: PluginHost, recorder: Recorder
) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    done = close_day(store, config, host, uk, DAY, now=LATER)
    out = deliver_pending(store, config, host, now=LATER)
    assert [d.status for d in out] == [DeliveryStatus.ACKNOWLEDGED]
    assert out[0].attempts == 1
    assert [(e.partner_inn, e.number, e.channel) for e in recorder.events] == [
        (UK_DOM, 1, "outbox")
    ]
    assert recorder.events[0].target == str(done.registry_path)
    assert deliver_pending(store, config, host, now=LATER) == []
    close_day(store, config, host, uk, DAY, now=LATER)  # a re-close opens nothing new
    assert deliver_pending(store, config, host, now=LATER) == []
    assert len(recorder.events) == 1


class PartnerSystem:
    """Stands in for a partner's billing system behind a delivery channel.

    It is unreachable for its first ``failures`` calls, then accepts registries idempotently
    by (ИНН, number), as the channel contract requires: a repeat is ALREADY_ACCEPTED, the
    same number with other content a RegistryConflict.
    """

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.accepted: dict[tuple[str, int], PaymentRegistry] = {}


class SystemChannel(DeliveryChannel):
    name = "partner-system"

    def __init__(self, system: PartnerSystem) -> None:
        self.system = system

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        s = self.system
        s.calls += 1
        if s.calls <= s.failures:
            raise BillingUnavailable(f"connection refused (call {s.calls})")
        key = (registry.partner_inn, registry.number)
        status = ChannelStatus.ACCEPTED
        if key in s.accepted:
            if s.accepted[key] != registry:
                raise RegistryConflict(f"registry {key} differs")
            status = ChannelStatus.ALREADY_ACCEPTED
        s.accepted[key] = registry
        return DeliveryReceipt(
            registry.partner_inn,
            registry.number,
            status,
            f"r-{registry.number}",
            dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
            self.name,
            "partner-system",
        )


def with_channel(config: RunnerConfig, inn: str) -> tuple[RunnerConfig, PartnerConfig]:
    partners = tuple(
        attrs.evolve(p, channel=ChannelConfig(kind="partner-system")) if p.inn == inn else p
        for p in config.partners
    )
    new = attrs.evolve(config, partners=partners)
    return new, partner_of(new, inn)


def test_a_failing_channel_is_retried_within_bounds_then_delivered(
    store: SqlStore, config: RunnerConfig, host: PluginHost, recorder: Recorder
) -> None:
    config, uk = with_channel(config, UK_DOM)
    system = PartnerSystem(failures=3)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00", "20.00")
    done = close_day(store, config, host, uk, DAY, now=LATER)
    assert done.delivery is not None and done.delivery.target == UK_DOM

    def channels(_: PartnerConfig) -> DeliveryChannel:
        return SystemChannel(system)

    first = deliver_pending(store, config, host, now=LATER, retry=NO_WAIT, channels=channels)
    assert [(d.status, d.attempts) for d in first] == [(DeliveryStatus.PENDING, 2)]
    assert first[0].last_error is not None and "connection refused (call 2)" in first[0].last_error
    assert recorder.events == []
    second = deliver_pending(store, config, host, now=LATER, retry=NO_WAIT, channels=channels)
    assert [(d.status, d.attempts) for d in second] == [(DeliveryStatus.ACKNOWLEDGED, 4)]
    assert system.calls == 4
    assert list(system.accepted) == [(UK_DOM, 1)]
    assert system.accepted[(UK_DOM, 1)] == done.registry  # rebuilt exactly as closed
    assert len(recorder.events) == 1
    assert deliver_pending(store, config, host, now=LATER, retry=NO_WAIT, channels=channels) == []


def test_a_registry_that_cannot_be_rebuilt_holds_back_no_other_delivery(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    config, uk = with_channel(config, UK_DOM)
    system = PartnerSystem(failures=0)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    pay(store, TEPLOSET, local(config, DAY, 11), "30.00")
    close_day(store, config, host, uk, DAY, now=LATER)
    close_day(store, config, host, partner_of(config, TEPLOSET), DAY, now=LATER)
    # The УК's fee plan is no longer installed: its registry cannot be rebuilt for the channel.
    broken = tuple(
        attrs.evolve(p, partner=attrs.evolve(p.partner, fee=FeeTerms(plan="retired")))
        if p.inn == UK_DOM
        else p
        for p in config.partners
    )
    config = attrs.evolve(config, partners=broken)

    done = deliver_pending(
        store,
        config,
        host,
        now=LATER,
        retry=NO_WAIT,
        max_attempts=2,
        channels=lambda _: SystemChannel(system),
    )
    by_target = {d.target: d for d in done}
    uk_delivery = by_target[UK_DOM]
    assert (uk_delivery.status, uk_delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert uk_delivery.last_error is not None and "retired" in uk_delivery.last_error
    others = [d for d in done if d.target != UK_DOM]
    assert [d.status for d in others] == [DeliveryStatus.ACKNOWLEDGED]  # Теплосеть's outbox
    again = deliver_pending(store, config, host, now=LATER, retry=NO_WAIT, max_attempts=2)
    assert [(d.status, d.attempts) for d in again] == [(DeliveryStatus.FAILED, 2)]
    assert system.accepted == {}


def test_a_redelivery_after_a_crash_is_idempotent(
    store: SqlStore, config: RunnerConfig, host: PluginHost, recorder: Recorder
) -> None:
    config, uk = with_channel(config, UK_DOM)
    system = PartnerSystem(failures=0)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    done = close_day(store, config, host, uk, DAY, now=LATER)
    assert done.registry is not None and done.delivery is not None
    # the partner took it, then the runner died before recording anything
    SystemChannel(system).deliver_payments(done.registry)
    out = deliver_pending(
        store, config, host, now=LATER, retry=NO_WAIT, channels=lambda _: SystemChannel(system)
    )
    assert [d.status for d in out] == [DeliveryStatus.ACKNOWLEDGED]
    assert system.calls == 2 and len(system.accepted) == 1
    assert len(recorder.events) == 1


def test_a_channel_that_keeps_failing_is_given_up(
    store: SqlStore, config: RunnerConfig, host: PluginHost, recorder: Recorder
) -> None:
    config, uk = with_channel(config, UK_DOM)
    system = PartnerSystem(failures=100)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    close_day(store, config, host, uk, DAY, now=LATER)
    states = []
    for _ in range(3):
        states += deliver_pending(
            store,
            config,
            host,
            now=LATER,
            retry=NO_WAIT,
            max_attempts=3,
            channels=lambda _: SystemChannel(system),
        )
    assert [(d.status, d.attempts) for d in states] == [
        (DeliveryStatus.PENDING, 2),
        (DeliveryStatus.FAILED, 3),
    ]
    assert system.calls == 3 and recorder.events == []


def test_a_conflict_fails_the_delivery_at_once(
    store: SqlStore, config: RunnerConfig, host: PluginHost
) -> None:
    config, uk = with_channel(config, UK_DOM)
    system = PartnerSystem(failures=0)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00")
    done = close_day(store, config, host, uk, DAY, now=LATER)
    assert done.registry is not None
    system.accepted[(UK_DOM, 1)] = attrs.evolve(done.registry, date=DAY - dt.timedelta(days=9))
    out = deliver_pending(
        store, config, host, now=LATER, retry=NO_WAIT, channels=lambda _: SystemChannel(system)
    )
    assert [(d.status, d.attempts) for d in out] == [(DeliveryStatus.FAILED, 1)]
    assert out[0].last_error is not None and "RegistryConflict" in out[0].last_error


def test_a_crash_after_the_files_then_a_rerun_gives_the_same_bytes(
    store: SqlStore, config: RunnerConfig, host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00", "0.03")
    real_append = store.ledger_append
    calls = {"n": 0}

    def crash_once(entries: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("killed between writing the files and recording them")
        return real_append(entries)

    monkeypatch.setattr(store, "ledger_append", crash_once)
    with pytest.raises(RuntimeError, match="killed"):
        close_day(store, config, host, uk, DAY, now=LATER)
    assert store.deliveries() == []
    folder = outbox_folder(config, uk)
    written = {p: p.read_bytes() for p in folder.iterdir()}
    assert len(written) == 1 and not any(p.name.endswith(".part") for p in written)

    done = close_day(store, config, host, uk, DAY, now=LATER)
    assert done.info is not None and done.info.number == 1 and not done.info.new
    assert {p: p.read_bytes() for p in folder.iterdir()} == written
    assert len([e for e in store.ledger_entries(UK_DOM) if e.kind is not LedgerKind.CREDIT]) == 3
    assert len(store.deliveries()) == 1


def test_a_crash_while_writing_leaves_no_partial_file(
    store: SqlStore, config: RunnerConfig, host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    uk = partner_of(config, UK_DOM)
    pay(store, UK_DOM, local(config, DAY, 10), "10.00", "0.03")
    done = close_day(store, config, host, uk, DAY, now=LATER)
    assert done.registry_path is not None
    expected = done.registry_path.read_bytes()
    done.registry_path.unlink()

    fmt = host.format("sber-payments")
    real_write = fmt.write

    def die_half_way(path: Path, header: Any, records: Any) -> Any:
        Path(path).write_bytes(expected[: len(expected) // 2])
        raise RuntimeError("killed while writing")

    monkeypatch.setattr(fmt, "write", die_half_way)
    with pytest.raises(RuntimeError, match="killed while writing"):
        close_day(store, config, host, uk, DAY, now=LATER)
    assert not done.registry_path.exists()
    assert list(done.registry_path.parent.iterdir()) == []  # no temporary file left either
    monkeypatch.setattr(fmt, "write", real_write)
    again = close_day(store, config, host, uk, DAY, now=LATER)
    assert again.registry_path == done.registry_path
    assert done.registry_path.read_bytes() == expected


def test_soap_billing_reference_server_outage_and_lost_answer(
    store: SqlStore, config: RunnerConfig, host: PluginHost, recorder: Recorder
) -> None:
    """The real soap-billing channel, through the installed factory, to its reference server."""
    from pes_sdk_soap_billing.server import MemoryBillingStore, ReferenceServer

    with ReferenceServer(MemoryBillingStore([UK_DOM])) as server:
        settings = AdapterSettings(
            {"url": server.url, "attempts": "1", "initial_wait": "0", "timeout": "5"}
        )
        partners = tuple(
            attrs.evolve(p, channel=ChannelConfig(kind="soap-billing", adapter=settings))
            if p.inn == UK_DOM
            else p
            for p in config.partners
        )
        config = attrs.evolve(config, partners=partners)
        uk = partner_of(config, UK_DOM)
        pay(store, UK_DOM, local(config, DAY, 10), "10.00", "20.00")
        close_day(store, config, host, uk, DAY, now=LATER)
        op = "SubmitPaymentRegistry"
        # two refusals, then the work is done but the answer is lost on the way back
        server.faults.fail_next("unavailable", times=2, operation=op)
        server.faults.fail_next("lost-answer", operation=op)
        first = deliver_pending(store, config, host, now=LATER, retry=NO_WAIT)
        assert [(d.status, d.attempts) for d in first] == [(DeliveryStatus.PENDING, 2)]
        second = deliver_pending(store, config, host, now=LATER, retry=NO_WAIT)
        # the lost answer, then the redelivery: ALREADY_ACCEPTED is success
        assert [(d.status, d.attempts) for d in second] == [(DeliveryStatus.ACKNOWLEDGED, 4)]
        assert server.calls(op) == 4
        assert server.store.accepted(UK_DOM) == {1: (2, Decimal("30.00"))}
        assert [(e.partner_inn, e.number, e.channel) for e in recorder.events] == [
            (UK_DOM, 1, "soap-billing")
        ]
