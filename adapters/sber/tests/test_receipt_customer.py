"""The buyer's contact of a 54-ФЗ receipt (tag 1008) reaches Sber as
``orderBundle.customerDetails.email`` / ``phone`` in ``register.do`` (the simulator, over
loopback HTTP), and a bad one is refused."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pes_sdk_sber import SberHarness, order_bundle
from pes_sdk_sber.client import DEFAULT_TAX_TYPES

from pes_sdk.gateways import CreateOptions, new_idempotency_key
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier

RETURN = "https://service.example/return"
UK = Supplier("7707083893", "ООО «УК Дом»", ("+74951234567",), ReceiptVat.NONE)


def basket() -> Payment:
    line = PaymentLine("7707083893", "001", Decimal("100.00"), client_fee=Decimal("1.50"))
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])


def receipt_of(p: Payment, **contact: str) -> Receipt:
    return Receipt.for_payment(p, {UK.inn: UK}, fee_vat=ReceiptVat.VAT20, **contact)


@pytest.fixture
def harness() -> Iterator[SberHarness]:
    with SberHarness(timeout=1) as h:
        yield h


def registered(h: SberHarness, receipt: Receipt, p: Payment) -> dict[str, str]:
    created = h.gateway.create_payment(
        p, CreateOptions(new_idempotency_key(), RETURN, receipt=receipt)
    )
    return h.simulator.customer_details(created.gateway_payment_id)


def test_the_email_reaches_customer_details(harness: SberHarness) -> None:
    p = basket()
    assert registered(harness, receipt_of(p, customer_email="ivan@example.ru"), p) == {
        "email": "ivan@example.ru"
    }


def test_the_phone_goes_as_digits(harness: SberHarness) -> None:
    p = basket()
    assert registered(harness, receipt_of(p, customer_phone="+79161234567"), p) == {
        "phone": "79161234567"
    }


def test_a_receipt_without_a_contact_goes_without_customer_details(harness: SberHarness) -> None:
    """Sber's customerDetails is optional: the positions (and per-line refunds) still go."""
    p = basket()
    assert "customerDetails" not in order_bundle(receipt_of(p), DEFAULT_TAX_TYPES)
    assert registered(harness, receipt_of(p), p) == {}


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"email": "not-an-address"}, "customerDetails.email"),
        ({"phone": "8 (916) 123-45-67"}, "customerDetails.phone"),
        ("ivan@example.ru", "customerDetails"),
    ],
)
def test_a_bad_contact_is_refused(harness: SberHarness, details: object, field: str) -> None:
    p = basket()
    bundle = order_bundle(receipt_of(p), DEFAULT_TAX_TYPES)
    bundle["customerDetails"] = details
    _status, answer = harness.simulator.handle_api(
        "register.do",
        {
            "userName": harness.simulator.user_name,
            "password": harness.simulator.password,
            "orderNumber": p.payment_id.hex,
            "amount": str(int(p.total * 100)),
            "returnUrl": RETURN,
            "orderBundle": json.dumps(bundle, ensure_ascii=False),
        },
    )
    assert answer["errorCode"] == "4" and answer["errorMessage"].endswith(field)
    assert harness.simulator.orders_for(p.payment_id.hex) == 0
