"""Payment registries: gapless numbers per partner, also under concurrent closers."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal

import attrs
import pytest
from pes_sdk_runner.store import DeliveryStatus, RegistryOutOfOrder, SqlStore
from runner_data import INN_A, INN_B, PARTNERS

DAY = dt.date(2026, 11, 27)


def close(store: SqlStore, inn: str, day: dt.date, amount: str = "100.00") -> int:
    fee = (Decimal(amount) * Decimal("0.0136")).quantize(Decimal("0.01"))
    reg = store.record_payment_registry(
        inn, day, count=1, amount=Decimal(amount), fee=fee, transfer=Decimal(amount) - fee
    )
    return reg.number


@pytest.fixture
def store(store: SqlStore) -> SqlStore:
    store.upsert_partners(PARTNERS)
    return store


def test_numbers_are_gapless_per_partner(store: SqlStore) -> None:
    assert [close(store, INN_A, DAY + dt.timedelta(days=i)) for i in range(3)] == [1, 2, 3]
    assert close(store, INN_B, DAY) == 1
    regs = store.payment_registries(INN_A)
    assert [(r.number, r.day) for r in regs] == [
        (i + 1, DAY + dt.timedelta(days=i)) for i in range(3)
    ]
    assert (regs[0].amount, regs[0].fee, regs[0].transfer) == (
        Decimal("100.00"),
        Decimal("1.36"),
        Decimal("98.64"),
    )


def test_closing_a_day_again_returns_its_registry_and_takes_no_number(store: SqlStore) -> None:
    first = store.record_payment_registry(
        INN_A, DAY, count=2, amount=Decimal("10.00"), fee=Decimal("0.14"), transfer=Decimal("9.86")
    )
    again = store.record_payment_registry(
        INN_A, DAY, count=2, amount=Decimal("10.00"), fee=Decimal("0.14"), transfer=Decimal("9.86")
    )
    assert (first.new, again.new) == (True, False)
    assert again == attrs.evolve(first, new=False)
    assert close(store, INN_A, DAY + dt.timedelta(days=1)) == 2  # no gap after the re-run


def test_totals_must_add_up(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="fee"):
        store.record_payment_registry(
            INN_A, DAY, count=1, amount=Decimal("10.00"), fee=Decimal("1.00"), transfer=Decimal("1")
        )
    assert close(store, INN_A, DAY) == 1


def test_concurrent_closers_never_share_or_skip_a_number(
    open_more: Callable[[], SqlStore],
) -> None:
    open_more().upsert_partners(PARTNERS)
    per_thread, threads = 25, 4
    stores = [open_more() for _ in range(threads)]
    got: list[list[tuple[int, dt.date]]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def closer(k: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                # every thread closes the same days, racing the others on each of them
                day = DAY + dt.timedelta(days=i)
                # another thread may have closed a later day first: this one is then passed
                with contextlib.suppress(RegistryOutOfOrder):
                    got[k].append((close(stores[k], INN_A, day), day))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=closer, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    regs = stores[0].payment_registries(INN_A)
    # gapless, one registry per day, and the numbers follow the days
    assert [r.number for r in regs] == list(range(1, len(regs) + 1))
    assert [r.day for r in regs] == sorted({r.day for r in regs})
    assert {pair for g in got for pair in g} == {(r.number, r.day) for r in regs}
    assert regs[-1].day == DAY + dt.timedelta(days=per_thread - 1)
    with pytest.raises(RegistryOutOfOrder, match="numbers follow the days"):
        close(stores[0], INN_A, DAY - dt.timedelta(days=1))
    assert len(stores[0].payment_registries(INN_A)) == len(regs)  # the refusal took no number


def test_a_delivery_is_retried_then_acknowledged(store: SqlStore) -> None:
    reg = store.record_payment_registry(
        INN_A, DAY, count=1, amount=Decimal("10.00"), fee=Decimal("0.14"), transfer=Decimal("9.86")
    )
    d = store.open_delivery(reg.id, "outbox", "/srv/outbox/7707083893/001.txt")
    assert (d.status, d.attempts, d.last_error) == (DeliveryStatus.PENDING, 0, None)
    assert store.open_delivery(reg.id, "outbox", "elsewhere") == d  # idempotent
    d = store.record_delivery_attempt(d.id, "нет связи с сервером")
    assert (d.status, d.attempts, d.last_error) == (
        DeliveryStatus.PENDING,
        1,
        "нет связи с сервером",
    )
    d = store.record_delivery_attempt(d.id)
    assert (d.status, d.attempts, d.last_error) == (DeliveryStatus.DELIVERED, 2, None)
    assert store.deliveries(DeliveryStatus.DELIVERED) == [d]
    at = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    acked = store.acknowledge_delivery(d.id, at)
    assert (acked.status, acked.acknowledged_at) == (DeliveryStatus.ACKNOWLEDGED, at)
    again = store.acknowledge_delivery(d.id, at + dt.timedelta(hours=1))
    assert again.acknowledged_at == at  # the first acknowledgement's time is kept
    late = store.record_delivery_attempt(d.id, "a late retry failed")
    assert late.status is DeliveryStatus.ACKNOWLEDGED  # never undone
    assert store.deliveries(DeliveryStatus.PENDING) == []


def test_a_delivery_can_be_given_up_and_unknown_ones_are_refused(store: SqlStore) -> None:
    reg = store.record_payment_registry(
        INN_A, DAY, count=1, amount=Decimal("10.00"), fee=Decimal("0.14"), transfer=Decimal("9.86")
    )
    d = store.open_delivery(reg.id, "soap", "partner-endpoint")
    failed = store.fail_delivery(d.id, "5 attempts")
    assert (failed.status, failed.last_error) == (DeliveryStatus.FAILED, "5 attempts")
    assert [x.id for x in store.deliveries(DeliveryStatus.FAILED)] == [d.id]
    with pytest.raises(KeyError):
        store.record_delivery_attempt(d.id + 100)
    with pytest.raises(store.dialect.integrity_errors):
        store.open_delivery(reg.id + 100, "outbox", "x")
