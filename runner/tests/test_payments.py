"""The processor's book on SQL, and the processor running on it through the sandbox."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs
import pytest
from pes_sdk_runner.store import SqlStore, Store, StoreError, open_store
from runner_data import HOUSE, INN_A, INN_B, PARTNERS, debt

from pes_sdk.gateways import PaymentProcessor, PaymentState
from pes_sdk.gateways.models import Confirmation, ConfirmationKind, RefundLine, RefundRequest
from pes_sdk.gateways.processor import PaymentEntry, PaymentStore
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host

T0 = dt.datetime(2026, 11, 27, 10, 15, 30, 123456, tzinfo=dt.UTC)


def basket() -> Payment:
    return Payment(
        uuid.uuid4(),
        T0,
        PaymentMethod.SBP,
        [
            PaymentLine(
                INN_A,
                "1001",
                Decimal("1500.50"),
                service="Отопление",
                house_id=HOUSE,
                premises="кв. 12А",
                period=Period(2026, 11),
                client_fee=Decimal("15.01"),
            ),
            PaymentLine(INN_B, "77", Decimal("99.99")),
        ],
    )


def test_the_store_is_a_payment_store(store: SqlStore) -> None:
    assert isinstance(store, Store)
    book: PaymentStore = store  # the processor's protocol, checked by mypy
    assert list(book) == []


def test_entries_round_trip(store: SqlStore, store_url: str) -> None:
    payment = basket()
    entry = PaymentEntry(payment, "key-1", line_refunded=(Decimal("0.00"), Decimal("0.00")))
    store.add(entry)
    assert store.get(payment.payment_id) == entry
    with pytest.raises(KeyError):
        store.add(entry)
    changed = attrs.evolve(
        entry,
        state=PaymentState.PARTIALLY_REFUNDED,
        gateway_payment_id="gw-1",
        refunded=Decimal("10.00"),
        line_refunded=(Decimal("10.00"), Decimal("0.00")),
        confirmation=Confirmation(ConfirmationKind.REDIRECT, url="https://pay.example/ф"),
        pending_refund=(
            "key-1-r2",
            RefundRequest("gw-1", (RefundLine(1, Decimal("5.00")),)),
        ),
        refund_count=1,
        # the capture time the processor set when it was paid (the credits are booked at it)
        paid_at=payment.created_at.astimezone(dt.UTC) + dt.timedelta(seconds=5),
    )
    store.put(changed)
    other = open_store(store_url)  # read back through another connection: it is durable
    try:
        assert other.get(payment.payment_id) == changed
        assert list(other) == [changed]
    finally:
        other.close()
    assert store.get(uuid.uuid4()) is None
    with pytest.raises(KeyError):
        store.put(attrs.evolve(changed, payment=basket()))


def test_an_idempotency_key_is_unique(store: SqlStore) -> None:
    store.add(PaymentEntry(basket(), "same-key"))
    with pytest.raises(store.dialect.integrity_errors):
        store.add(PaymentEntry(basket(), "same-key"))
    assert len(list(store)) == 1


def test_a_basket_is_paid_end_to_end_through_the_sandbox(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    store.ingest_debt_registry(
        INN_A,
        Period(2026, 11),
        1,
        [debt("1001", "2000.00", service="Отопление")],
        sha256="r",
        received_at=T0 - dt.timedelta(days=1),
    )
    gateway = get_host().gateways()["sandbox"].create({})
    try:
        processor = PaymentProcessor(gateway, store=store, on_credit=store.credit_payment)
        payment = basket()
        started = processor.start(payment, return_url="https://service.example/return")
        assert started.state is PaymentState.PENDING
        assert store.get(payment.payment_id) == started
        assert started.gateway_payment_id is not None
        gateway.simulator.approve(started.gateway_payment_id)  # type: ignore[attr-defined]
        applied = processor.refresh(payment.payment_id)
        assert applied.entry.state is PaymentState.SUCCEEDED
        assert store.get(payment.payment_id) == applied.entry
        processor.refresh(payment.payment_id)  # the same news again credits nothing more
    finally:
        gateway.close()
    assert store.ledger_totals(INN_A).credits == Decimal("1500.50")
    assert store.ledger_totals(INN_B).credits == Decimal("99.99")
    assert store.credit_payment(applied.entry) == 0  # idempotent by order id and line
    (service,) = store.find_services(HOUSE, "12а")
    assert (service.paid, service.balance) == (Decimal("1500.50"), Decimal("499.50"))


def test_an_unpaid_payment_cannot_be_credited(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="nothing to credit"):
        store.credit_payment(PaymentEntry(basket(), "k"))
