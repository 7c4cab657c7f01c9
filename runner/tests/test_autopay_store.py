"""The store's autopay promises (migration 0014), on SQLite and PostgreSQL.

Consents are append-only and come into force with the payment that saved their method; one
charge per consent and period; a cancellation and a charge's claim exclude each other, in
two connections (two processes) racing too.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from example_inputs import VODOKANAL
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.autopay import (
    OVER_LIMIT_REASON,
    AutopayRequest,
    Charge,
    ChargeState,
    Consent,
    ConsentRule,
    ConsentStatus,
    consent_id_of,
    month_of,
)
from runner_proc import config_of, write_config

from pes_sdk.gateways.models import PaymentState, SavedMethod
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod

NOW = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
METHOD = SavedMethod("sandbox", "pm-8f2c", "pes-0123", "*4444")


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> RunnerConfig:
    return config_of(write_config(tmp_path, store_url))


@pytest.fixture
def store(store: SqlStore, config: RunnerConfig) -> SqlStore:
    store.upsert_partners(p.partner for p in config.partners)
    return store


def request(order_id: uuid.UUID, client: str = "cabinet:1") -> AutopayRequest:
    return AutopayRequest(
        order_id,
        client,
        VODOKANAL,
        "1001",
        ConsentRule.ON_REGISTRY,
        None,
        Decimal("5000.00"),
        "Я даю согласие … не более 5 000,00 руб. в месяц … за 3 дн.",
        "2026-12-01",
        NOW,
    )


def paid_first_payment(
    store: SqlStore, order_id: uuid.UUID, method: SavedMethod | None = METHOD
) -> PaymentEntry:
    line = PaymentLine(VODOKANAL, "1001", Decimal("700.00"), service="Водоснабжение")
    entry = PaymentEntry(
        Payment(order_id, NOW, PaymentMethod.CARD, [line]),
        "key-" + order_id.hex,
        line_refunded=(Decimal(0),),
    )
    store.add(entry)
    paid = attrs.evolve(
        entry,
        state=PaymentState.SUCCEEDED,
        gateway_payment_id="gw-" + order_id.hex[:8],
        paid_at=NOW,
        saved_method=method,
    )
    store.put(paid)
    return paid


def consent(store: SqlStore) -> Consent:
    order = uuid.uuid4()
    store.request_autopay(request(order))
    paid_first_payment(store, order)
    found = store.consent(consent_id_of(order))
    assert found is not None
    return found


def plan(store: SqlStore, c: Consent, period: str = "2026-11", *, due: dt.datetime = NOW) -> Charge:
    charge = Charge(
        uuid.uuid5(c.consent_id, period),
        c.consent_id,
        c.version,
        c.client_id,
        c.partner_inn,
        c.account,
        period,
        Decimal("1234.56"),
        NOW - dt.timedelta(days=3),
        due,
    )
    stored, _ = store.plan_charge(charge)
    return stored


# -- consents ------------------------------------------------------------------------------


def test_a_consent_comes_into_force_with_the_payment_that_saved_its_method(
    store: SqlStore,
) -> None:
    order = uuid.uuid4()
    store.request_autopay(request(order))
    assert store.consent(consent_id_of(order)) is None, "not before the method is saved"
    paid = paid_first_payment(store, order)
    c = store.consent(consent_id_of(order))
    assert c is not None
    assert (c.version, c.status, c.method, c.text) == (
        1,
        ConsentStatus.ACTIVE,
        METHOD,
        request(order).text,
    )
    assert store.saved_method(order) == METHOD
    store.put(paid)  # the same news again (a duplicate webhook)
    assert len(store.consent_history(c.consent_id)) == 1


def test_no_consent_without_a_saved_method_or_without_a_request(store: SqlStore) -> None:
    asked = uuid.uuid4()
    store.request_autopay(request(asked))
    paid_first_payment(store, asked, method=None)  # the acquirer saved nothing
    assert store.consent(consent_id_of(asked)) is None
    unasked = uuid.uuid4()
    paid_first_payment(store, unasked)  # a method, but the client agreed to nothing
    assert store.consent(consent_id_of(unasked)) is None
    assert store.consents_of("cabinet:1") == []


def test_consents_are_append_only_versions(store: SqlStore) -> None:
    c = consent(store)
    amended = store.amend_consent(c.consent_id, monthly_limit=Decimal("3000.00"))
    assert amended.version == 2
    cancelled, stopped = store.cancel_consent(c.consent_id, NOW)
    assert (cancelled.version, cancelled.status, stopped) == (3, ConsentStatus.CANCELLED, [])
    history = store.consent_history(c.consent_id)
    assert [(h.version, h.monthly_limit, h.status) for h in history] == [
        (1, Decimal("5000.00"), ConsentStatus.ACTIVE),
        (2, Decimal("3000.00"), ConsentStatus.ACTIVE),
        (3, Decimal("3000.00"), ConsentStatus.CANCELLED),
    ]
    assert [x.version for x in store.consents_of("cabinet:1")] == [3]
    assert store.active_consents(partner_inn=VODOKANAL) == []
    with pytest.raises(ValueError, match="cancelled"):
        store.amend_consent(c.consent_id, monthly_limit=Decimal("1.00"))
    again, _ = store.cancel_consent(c.consent_id, NOW)
    assert again.version == 3, "cancelling twice adds nothing"


def test_a_day_of_month_consent_names_a_day_every_month_has() -> None:
    base = request(uuid.uuid4())
    with pytest.raises(ValueError, match="1 to 28"):
        attrs.evolve(base, rule=ConsentRule.DAY_OF_MONTH, day=31).consent(METHOD)
    with pytest.raises(ValueError, match="names no day"):
        attrs.evolve(base, day=10).consent(METHOD)


# -- charges -------------------------------------------------------------------------------


def test_one_charge_per_consent_and_period(store: SqlStore) -> None:
    c = consent(store)
    first = plan(store, c)
    other = attrs.evolve(first, charge_id=uuid.uuid4(), amount=Decimal("1.00"))
    stored, new = store.plan_charge(other)
    assert not new and stored == first
    assert plan(store, c, "2026-12").charge_id != first.charge_id


def test_a_charge_is_claimed_once_when_due_and_only_while_its_consent_is_in_force(
    store: SqlStore,
) -> None:
    c = consent(store)
    early = plan(store, c, due=NOW + dt.timedelta(hours=1))
    assert store.claim_charge(early.charge_id, NOW) is None, "not before it is due"
    claimed = store.claim_charge(early.charge_id, NOW + dt.timedelta(hours=1))
    assert claimed is not None and claimed.state is ChargeState.CHARGING
    resumed = store.claim_charge(early.charge_id, NOW + dt.timedelta(hours=2))
    assert resumed is not None and resumed.state is ChargeState.CHARGING  # its run resumes
    later = plan(store, c, "2026-12")
    _, stopped = store.cancel_consent(c.consent_id, NOW)
    assert [s.charge_id for s in stopped] == [later.charge_id], "the started one goes on"
    assert store.claim_charge(later.charge_id, NOW) is None
    assert store.charge(later.charge_id).state is ChargeState.CANCELLED  # type: ignore[union-attr]


def test_a_cancellation_stops_the_next_attempt(store: SqlStore) -> None:
    c = consent(store)
    charge = plan(store, c)
    assert store.claim_charge(charge.charge_id, NOW) is not None
    first, second = uuid.uuid4(), uuid.uuid4()
    assert store.begin_attempt(charge.charge_id, 1, first, NOW)
    assert store.begin_attempt(charge.charge_id, 1, first, NOW), "the same attempt resumes"
    assert not store.begin_attempt(charge.charge_id, 3, second, NOW), "attempts go in order"
    store.cancel_consent(c.consent_id, NOW)
    assert not store.begin_attempt(charge.charge_id, 2, second, NOW)
    ended = store.charge(charge.charge_id)
    assert ended is not None
    assert (ended.state, ended.attempts, ended.order_id) == (ChargeState.CANCELLED, 1, first)


def test_final_states_stay_and_the_month_counts_paid_charges_only(store: SqlStore) -> None:
    c = consent(store)
    paid = plan(store, c, "2026-11")
    failed = plan(store, c, "2026-12")
    store.end_charge(paid.charge_id, ChargeState.PAID, None, NOW)
    store.end_charge(failed.charge_id, ChargeState.FAILED, "declined 5 times", NOW)
    again = store.end_charge(paid.charge_id, ChargeState.FAILED, "late news", NOW)
    assert again is not None and again.state is ChargeState.PAID
    with pytest.raises(ValueError, match="not a final state"):
        store.end_charge(paid.charge_id, ChargeState.CHARGING)
    month = (NOW - dt.timedelta(days=7), NOW + dt.timedelta(days=1))
    assert store.charged_in(c.consent_id, *month) == Decimal("1234.56")
    assert [x.period for x in store.charges_of("cabinet:1")] == ["2026-11", "2026-12"]


def _race(store: SqlStore, other: SqlStore) -> tuple[Charge | None, list[Charge], Charge]:
    """A claim in ``other`` and a cancellation in ``store`` let go at once."""
    c = consent(store)
    charge = plan(store, c)
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def claim() -> None:
        start.wait()
        results["claim"] = other.claim_charge(charge.charge_id, NOW)

    def cancel() -> None:
        start.wait()
        results["cancel"] = store.cancel_consent(c.consent_id, NOW)[1]

    threads = [threading.Thread(target=claim), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.charge(charge.charge_id)
    assert final is not None
    return results["claim"], results["cancel"], final  # type: ignore[return-value]


def test_a_cancellation_and_a_claim_racing_in_two_connections_never_both_win(
    store: SqlStore, open_more: Callable[[], SqlStore]
) -> None:
    other = open_more()
    for _ in range(15):
        claimed, stopped, final = _race(store, other)
        assert (claimed is None) == bool(stopped), (claimed, stopped)
        assert final.state is (ChargeState.CANCELLED if stopped else ChargeState.CHARGING)


def test_the_month_counts_a_charge_being_made_but_not_the_one_asking(store: SqlStore) -> None:
    c = consent(store)
    first = plan(store, c, "2026-11")
    second = plan(store, c, "2026-12")
    assert store.claim_charge(first.charge_id, NOW) is not None  # charging, not paid yet
    month = (NOW - dt.timedelta(days=7), NOW + dt.timedelta(days=1))
    assert store.charged_in(c.consent_id, *month, besides=second.charge_id) == Decimal("1234.56")
    assert store.charged_in(c.consent_id, *month, besides=first.charge_id) == Decimal("0.00")


def test_a_claim_over_the_months_limit_ends_the_charge_over_limit_in_its_transaction(
    store: SqlStore,
) -> None:
    c = consent(store)
    store.amend_consent(c.consent_id, monthly_limit=Decimal("2000.00"))  # the latest counts
    first = plan(store, c, "2026-11")
    second = plan(store, c, "2026-12")
    claimed = store.claim_charge(first.charge_id, NOW)
    assert claimed is not None and claimed.state is ChargeState.CHARGING
    over = store.claim_charge(second.charge_id, NOW)
    assert over is not None and over.state is ChargeState.OVER_LIMIT
    stored = store.charge(second.charge_id)
    assert stored is not None
    assert (stored.state, stored.reason) == (ChargeState.OVER_LIMIT, OVER_LIMIT_REASON)
    assert store.claim_charge(second.charge_id, NOW) is None, "ended: never claimed after"
    # what is due now, if less than the notice said, is what the limit weighs
    third = plan(store, consent(store), "2026-12")
    fits = store.claim_charge(third.charge_id, NOW, amount=Decimal("10.00"))
    assert fits is not None and fits.state is ChargeState.CHARGING


def test_the_limits_month_is_the_services_calendar_month() -> None:
    perm = dt.timezone(dt.timedelta(hours=5))
    # 20:00 UTC on 30 November is 1 a.m. on 1 December in Perm: December's month there
    start, end = month_of(dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.UTC), perm)
    assert (start, end) == (
        dt.datetime(2026, 12, 1, tzinfo=perm),
        dt.datetime(2027, 1, 1, tzinfo=perm),
    )


def _claim_both(store: SqlStore, other: SqlStore) -> list[ChargeState]:
    """Two periods' charges of one consent, each within its limit but not both together,
    claimed in two connections let go at once: their states after."""
    c = store.amend_consent(consent(store).consent_id, monthly_limit=Decimal("2000.00"))
    charges = [plan(store, c, "2026-11"), plan(store, c, "2026-12")]
    start = threading.Barrier(2)

    def claim(s: SqlStore, charge: Charge) -> None:
        start.wait()
        s.claim_charge(charge.charge_id, NOW)

    threads = [
        threading.Thread(target=claim, args=(s, x))
        for s, x in zip((store, other), charges, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(
        (x.state for x in map(store.charge, (x.charge_id for x in charges)) if x),
        key=str,
    )


def test_two_charges_of_a_consent_claimed_at_once_in_two_connections_keep_its_limit(
    store: SqlStore, open_more: Callable[[], SqlStore]
) -> None:
    # Whichever claim comes second sees the first (the month's sum is read under the lock
    # the first holds) and ends over the limit: never both charging.
    other = open_more()
    for _ in range(10):
        assert _claim_both(store, other) == [ChargeState.CHARGING, ChargeState.OVER_LIMIT]
