"""The append-only ledger: entries never change, totals are always SUMs."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pes_sdk_runner.store import LedgerEntry, LedgerKind, LedgerTotals, SqlStore
from runner_data import INN_A, INN_B, PARTNERS

T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def entry(kind: LedgerKind, amount: str, inn: str = INN_A, **kw: object) -> LedgerEntry:
    return LedgerEntry(kind, inn, Decimal(amount), **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(store: SqlStore) -> SqlStore:
    store.upsert_partners(PARTNERS)
    return store


def test_entries_are_appended_and_totals_derived(store: SqlStore) -> None:
    order = uuid.uuid4()
    assert (
        store.ledger_append(
            [
                entry(LedgerKind.CREDIT, "1000.00", account="1001", service="ХВС", order_id=order),
                entry(LedgerKind.CREDIT, "500.00", account="1002", at=T0),
                entry(LedgerKind.REFUND, "100.00", account="1001", memo="возврат"),
                entry(LedgerKind.FEE, "18.36"),
                entry(LedgerKind.TRANSFER, "1300.00", registry_id=1),
                entry(LedgerKind.CREDIT, "7.00", inn=INN_B),
            ]
        )
        == 6
    )
    totals = store.ledger_totals(INN_A)
    assert totals == LedgerTotals(
        Decimal("1500.00"), Decimal("100.00"), Decimal("18.36"), Decimal("1300.00")
    )
    assert totals.owed == Decimal("81.64")
    assert store.ledger_totals().credits == Decimal("1507.00")
    assert store.ledger_totals(INN_A, until=T0 + dt.timedelta(seconds=1)).credits == Decimal(
        "500.00"
    )
    assert store.ledger_totals(INN_B, since=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == (
        LedgerTotals()
    )
    entries = store.ledger_entries(INN_A)
    assert [e.kind for e in entries] == ["credit", "credit", "refund", "fee", "transfer"]
    assert entries[0].order_id == order and entries[0].service == "ХВС"
    assert entries[1].at == T0
    assert entries[2].memo == "возврат"
    assert all(e.id is not None for e in entries)


def test_an_entry_with_a_known_ref_is_kept_once(store: SqlStore) -> None:
    first = entry(LedgerKind.CREDIT, "10.00", ref="credit:x:0")
    assert store.ledger_append([first, entry(LedgerKind.CREDIT, "1.00")]) == 2
    assert store.ledger_append([first]) == 0
    assert store.ledger_totals(INN_A).credits == Decimal("11.00")


def test_amounts_are_positive(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="positive"):
        store.ledger_append([entry(LedgerKind.CREDIT, "1.00"), entry(LedgerKind.FEE, "-1.00")])
    assert store.ledger_entries() == []  # the whole append was rolled back


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger SET amount = 1",
        "UPDATE ledger SET memo = 'edited' WHERE kind = 'credit'",
        "DELETE FROM ledger",
        "DELETE FROM ledger WHERE kind = 'fee'",
    ],
)
def test_the_database_refuses_to_change_or_remove_entries(store: SqlStore, statement: str) -> None:
    store.ledger_append([entry(LedgerKind.CREDIT, "10.00"), entry(LedgerKind.FEE, "0.14")])
    conn = store.dialect.connect()  # a raw connection: the refusal is the database's own
    try:
        with pytest.raises(store.dialect.integrity_errors, match="append-only"):
            conn.execute(statement)
    finally:
        conn.close()
    assert [(e.kind, e.amount, e.memo) for e in store.ledger_entries()] == [
        ("credit", Decimal("10.00"), ""),
        ("fee", Decimal("0.14"), ""),
    ]


def test_the_whole_ledger_cannot_be_emptied_at_once(store: SqlStore) -> None:
    # PostgreSQL's TRUNCATE skips row triggers (a statement trigger refuses it); SQLite's
    # equivalent is the truncate optimisation of DELETE, which its triggers turn off.
    statement = "TRUNCATE ledger" if store.dialect.name == "postgresql" else "DELETE FROM ledger"
    store.ledger_append([entry(LedgerKind.CREDIT, "10.00")])
    conn = store.dialect.connect()
    try:
        with pytest.raises(store.dialect.integrity_errors, match="append-only"):
            conn.execute(statement)
    finally:
        conn.close()
    assert len(store.ledger_entries()) == 1


def test_entries_are_read_by_kind_and_window(store: SqlStore) -> None:
    """A day close reads one partner's credits of one window, not the whole history."""
    hour = dt.timedelta(hours=1)
    store.ledger_append(
        [
            entry(LedgerKind.CREDIT, "1.00", at=T0 - hour, ref="before"),
            entry(LedgerKind.CREDIT, "2.00", at=T0, ref="first-in"),
            entry(LedgerKind.FEE, "0.05", at=T0 + hour, ref="a-fee"),
            entry(LedgerKind.CREDIT, "3.00", at=T0 + hour, ref="second-in"),
            entry(LedgerKind.CREDIT, "4.00", at=T0 + 2 * hour, ref="at-the-end"),
            entry(LedgerKind.CREDIT, "5.00", inn=INN_B, at=T0, ref="other-partner"),
        ]
    )
    got = store.ledger_entries(INN_A, kind=LedgerKind.CREDIT, since=T0, until=T0 + 2 * hour)
    assert [e.ref for e in got] == ["first-in", "second-in"]  # [since, until), append order
    assert [e.ref for e in store.ledger_entries(INN_A)] == [
        "before",
        "first-in",
        "a-fee",
        "second-in",
        "at-the-end",
    ]
