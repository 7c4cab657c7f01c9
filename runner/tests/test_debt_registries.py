"""Debt registries: streamed in, newer replaces older, older never overwrites newer."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pes_sdk_runner.store import (
    LedgerEntry,
    LedgerKind,
    RegistryConflict,
    RegistryOutcome,
    SqlStore,
)
from runner_data import HOUSE, INN_A, INN_B, OTHER_HOUSE, PARTNERS, debt, many_debts

from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period

NOV = Period(2026, 11)
DEC = Period(2026, 12)
T0 = dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(store: SqlStore) -> SqlStore:
    store.upsert_partners(PARTNERS)
    return store


def test_a_registry_is_ingested_and_found_by_address_and_account(store: SqlStore) -> None:
    records = [
        debt("1001", "1500.50", "кв. 12А", service="Отопление"),
        debt("1001", "300.00", "кв. 12А", service="ГВС"),
        debt("1002", "99.99", "кв. 13"),
        debt("1003", "10.00", "кв. 12А", house=OTHER_HOUSE),
    ]
    result = store.ingest_debt_registry(INN_A, NOV, 1, records, sha256="a" * 64, received_at=T0)
    assert result.outcome is RegistryOutcome.ACTIVATED
    reg = result.registry
    assert (reg.count, reg.total, reg.active, reg.received_at) == (
        4,
        Decimal("1910.49"),
        True,
        T0,
    )
    # "12a" with a Latin a and no prefix is the same premises as "кв. 12А"
    found = store.find_services(HOUSE.upper(), "12a")
    assert [(s.account, s.service, s.debt, s.balance) for s in found] == [
        ("1001", "ГВС", Decimal("300.00"), Decimal("300.00")),
        ("1001", "Отопление", Decimal("1500.50"), Decimal("1500.50")),
    ]
    assert found[0].premises == "кв. 12А"  # the partner's text comes back as written
    assert found[0].registry_period == NOV and found[0].registry_number == 1
    assert [s.debt for s in store.find_by_account(INN_A, "1002")] == [Decimal("99.99")]
    assert store.find_by_account(INN_B, "1002") == []
    assert store.find_services(HOUSE, "14") == []


def test_every_partner_at_the_address_is_found(store: SqlStore) -> None:
    store.ingest_debt_registry(INN_A, NOV, 1, [debt("A1", "10.00")], sha256="a")
    store.ingest_debt_registry(INN_B, NOV, 7, [debt("B1", "20.00", "12а")], sha256="b")
    found = store.find_services(HOUSE, "квартира 12 А")
    assert [(s.partner_inn, s.account) for s in found] == [(INN_A, "A1"), (INN_B, "B1")]


def test_a_newer_registry_replaces_the_older(store: SqlStore) -> None:
    store.ingest_debt_registry(INN_A, NOV, 1, [debt("1001", "100.00")], sha256="one")
    result = store.ingest_debt_registry(
        INN_A, NOV, 2, [debt("1001", "80.00"), debt("1002", "5.00")], sha256="two"
    )
    assert result.outcome is RegistryOutcome.ACTIVATED
    assert result.replaced is not None and result.replaced.number == 1
    assert [s.debt for s in store.find_by_account(INN_A, "1001")] == [Decimal("80.00")]
    regs = store.debt_registries(INN_A)
    assert [(r.number, r.active) for r in regs] == [(2, True), (1, False)]


def test_an_older_registry_never_overwrites_a_newer(store: SqlStore) -> None:
    store.ingest_debt_registry(INN_A, NOV, 5, [debt("1001", "100.00")], sha256="five")
    result = store.ingest_debt_registry(INN_A, NOV, 4, [debt("1001", "999.00")], sha256="four")
    assert result.outcome is RegistryOutcome.STALE
    assert (result.registry.active, result.registry.count) == (False, 1)
    assert result.registry.total == Decimal("999.00")
    assert [s.debt for s in store.find_by_account(INN_A, "1001")] == [Decimal("100.00")]
    assert [(r.number, r.active) for r in store.debt_registries(INN_A)] == [
        (5, True),
        (4, False),
    ]


def test_the_same_registry_twice_is_a_no_op(store: SqlStore) -> None:
    first = store.ingest_debt_registry(INN_A, NOV, 3, [debt("1001", "1.00")], sha256="same")
    again = store.ingest_debt_registry(INN_A, NOV, 3, [debt("1001", "1.00")], sha256="same")
    assert again.outcome is RegistryOutcome.DUPLICATE
    assert again.registry == first.registry
    assert len(store.find_by_account(INN_A, "1001")) == 1


def test_the_same_number_with_other_content_is_refused(store: SqlStore) -> None:
    store.ingest_debt_registry(INN_A, NOV, 3, [debt("1001", "1.00")], sha256="original")
    with pytest.raises(RegistryConflict, match="other content") as caught:
        store.ingest_debt_registry(INN_A, NOV, 3, [debt("1001", "2.00")], sha256="forged")
    assert (caught.value.partner_inn, caught.value.number) == (INN_A, 3)
    assert [s.debt for s in store.find_by_account(INN_A, "1001")] == [Decimal("1.00")]


def test_a_failed_ingest_changes_nothing(store: SqlStore) -> None:
    store.ingest_debt_registry(INN_A, NOV, 1, [debt("1001", "100.00")], sha256="one")

    def broken() -> Iterator[DebtRecord]:
        yield from many_debts(12_000)  # more than two batches are written first
        raise OSError("the file was cut short")

    with pytest.raises(OSError, match="cut short"):
        store.ingest_debt_registry(INN_A, NOV, 2, broken(), sha256="two", batch_size=5000)
    assert [(r.number, r.active) for r in store.debt_registries(INN_A)] == [(1, True)]
    assert [s.debt for s in store.find_by_account(INN_A, "1001")] == [Decimal("100.00")]
    assert store.find_by_account(INN_A, "0000000001") == []


def test_registries_of_other_periods_stay_and_the_newest_period_is_used(
    store: SqlStore,
) -> None:
    store.ingest_debt_registry(INN_A, DEC, 1, [debt("1001", "70.00")], sha256="dec")
    store.ingest_debt_registry(INN_A, NOV, 9, [debt("1001", "50.00")], sha256="nov")
    assert [(r.period, r.active) for r in store.debt_registries(INN_A)] == [
        (DEC, True),
        (NOV, True),
    ]
    assert [(s.registry_period, s.debt) for s in store.find_services(HOUSE, "12а")] == [
        (DEC, Decimal("70.00"))
    ]


def test_the_balance_is_the_debt_less_payments_since_the_registry(store: SqlStore) -> None:
    store.ingest_debt_registry(
        INN_A, NOV, 1, [debt("1001", "1000.00", service="ХВС")], sha256="r", received_at=T0
    )

    def credit(amount: str, at: dt.datetime, kind: LedgerKind = LedgerKind.CREDIT) -> None:
        entry = LedgerEntry(kind, INN_A, Decimal(amount), service="ХВС", account="1001", at=at)
        store.ledger_append([entry])

    credit("400.00", T0 - dt.timedelta(days=1))  # before the registry: already in its debt
    credit("250.00", T0 + dt.timedelta(hours=1))
    credit("100.00", T0 + dt.timedelta(hours=2))
    credit("50.00", T0 + dt.timedelta(hours=3), LedgerKind.REFUND)
    (found,) = store.find_services(HOUSE, "кв.12а")
    assert (found.debt, found.paid, found.balance, found.due) == (
        Decimal("1000.00"),
        Decimal("300.00"),
        Decimal("700.00"),
        Decimal("700.00"),
    )
    credit("900.00", T0 + dt.timedelta(hours=4))
    (found,) = store.find_by_account(INN_A, "1001")
    assert (found.balance, found.due) == (Decimal("-200.00"), Decimal("0.00"))


def test_a_large_registry_streams_in_bounded_memory(store: SqlStore) -> None:
    rows = 200_000
    tracemalloc.start()
    try:
        result = store.ingest_debt_registry(INN_A, NOV, 1, many_debts(rows), sha256="big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.registry.count == rows
    assert result.registry.total == sum(
        (Decimal(i % 100000).scaleb(-2) for i in range(rows)), Decimal("0.00")
    )
    # The rows held at once are one batch (5,000): a list of 200,000 would need ~60 MB.
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert [s.account for s in store.find_by_account(INN_A, f"{rows - 1:010d}")] == [
        f"{rows - 1:010d}"
    ]
