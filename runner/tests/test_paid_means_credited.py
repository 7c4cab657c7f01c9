"""Recording a payment as paid books its credits in the same transaction.

Before, the processor recorded the paid state and then called ``on_credit``: a crash in
between left a paid payment with no credit, and the acquirer's repeated webhook was a
duplicate that credited nothing, so no registry would ever carry the money.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs
import pytest
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.base import LedgerKind
from runner_data import INN_A, INN_B, PARTNERS

from pes_sdk.gateways import PaymentState
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO


def _entry() -> PaymentEntry:
    payment = Payment(
        uuid.uuid4(),
        dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC),
        PaymentMethod.CARD,
        [PaymentLine(INN_A, "1001", Decimal("100.10")), PaymentLine(INN_B, "77", Decimal("0.01"))],
    )
    return PaymentEntry(payment, "key", line_refunded=(ZERO, ZERO))


def _credits(store: SqlStore) -> list[tuple[str, Decimal]]:
    return [(e.partner_inn, e.amount) for e in store.ledger_entries(kind=LedgerKind.CREDIT)]


@pytest.mark.parametrize("paid", [PaymentState.SUCCEEDED, PaymentState.PARTIALLY_REFUNDED])
def test_put_of_a_paid_entry_credits_every_line_once(store: SqlStore, paid: PaymentState) -> None:
    store.upsert_partners(PARTNERS)
    entry = _entry()
    store.add(entry)
    pending = attrs.evolve(entry, state=PaymentState.PENDING, gateway_payment_id="g-1")
    store.put(pending)
    assert _credits(store) == []  # not paid yet: nothing owed to the partners

    done = attrs.evolve(pending, state=paid)
    store.put(done)  # no on_credit call: the put alone must book the credits
    assert _credits(store) == [(INN_A, Decimal("100.10")), (INN_B, Decimal("0.01"))]

    store.put(done)  # a repeated webhook
    store.credit_payment(done)  # and the processor's on_credit after it
    assert len(_credits(store)) == 2


def test_a_put_that_fails_books_no_credit(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    entry = _entry()  # never added: the put is refused
    with pytest.raises(KeyError):
        store.put(attrs.evolve(entry, state=PaymentState.SUCCEEDED))
    assert _credits(store) == []
