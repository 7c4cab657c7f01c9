"""Partners (upserted from the configuration) and clients' acceptances (галочка-акцепт)."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from pes_sdk_runner.store import Acceptance, SqlStore
from runner_data import HOUSE, INN_A, INN_B, PARTNERS


def test_partners_round_trip_and_are_replaced_by_inn(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    assert store.partners() == sorted(PARTNERS, key=lambda p: p.inn)
    renamed = attrs.evolve(PARTNERS[0], name="ООО «УК Прикамье-2»")
    store.upsert_partners([renamed])
    assert [p.name for p in store.partners()] == ["ООО «УК Прикамье-2»", PARTNERS[1].name]


def test_an_acceptance_is_recorded_once(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    at = dt.datetime(2026, 11, 27, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    tick = Acceptance("client-1", INN_A, "1001", "Отопление", HOUSE, "кв. 12А", at)
    first = store.record_acceptance(tick)
    assert first == attrs.evolve(tick, accepted_at=at.astimezone(dt.UTC))
    again = store.record_acceptance(attrs.evolve(tick, accepted_at=None))
    assert again == first  # the first tick's time is kept
    store.record_acceptance(Acceptance("client-1", INN_B, "77", premises="12а"))
    store.record_acceptance(Acceptance("client-2", INN_B, "77"))
    assert [(a.partner_inn, a.account) for a in store.acceptances("client-1")] == [
        (INN_A, "1001"),
        (INN_B, "77"),
    ]


def test_a_withdrawn_acceptance_counts_no_more_and_is_kept_as_history(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    at = dt.datetime(2026, 11, 27, 8, 30, tzinfo=dt.UTC)
    tick = store.record_acceptance(Acceptance("c1", INN_A, "1001", "Отопление", HOUSE, "12", at))
    whole = store.record_acceptance(Acceptance("c1", INN_B, "77", "", HOUSE, "12", at))
    later = at + dt.timedelta(days=1)
    assert store.withdraw_acceptance("c1", INN_A, "1001", "Отопление", later)
    assert not store.withdraw_acceptance("c1", INN_A, "1001", "Отопление", later)
    assert not store.withdraw_acceptance("c2", INN_B, "77", "")  # another client's
    assert store.acceptances("c1") == [whole]
    assert store.withdrawn_acceptances("c1") == [(tick, later)]
    # Ticked again: a new tick, the withdrawn one still in the history.
    again = store.record_acceptance(attrs.evolve(tick, accepted_at=None))
    assert again.accepted_at is not None and again.accepted_at > at
    assert store.acceptances("c1") == [whole, again]
    assert len(store.withdrawn_acceptances("c1")) == 1
    assert store.withdrawn_acceptances("c2") == []


def test_an_acceptance_needs_a_known_partner(store: SqlStore) -> None:
    with pytest.raises(store.dialect.integrity_errors):
        store.record_acceptance(Acceptance("client-1", INN_A, "1001"))
    assert store.acceptances("client-1") == []


def test_naive_timestamps_are_refused(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    with pytest.raises(ValueError, match="time zone"):
        store.record_acceptance(
            Acceptance("c", INN_A, "1", accepted_at=dt.datetime(2026, 11, 27, 8, 30))
        )
