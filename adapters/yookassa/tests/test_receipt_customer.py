"""The buyer's contact of a 54-ФЗ receipt (tag 1008) reaches ЮKassa as ``receipt.customer``,
and ЮKassa (the simulator, over loopback HTTP) refuses a receipt without one."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from pes_sdk_yookassa import YooKassaHarness, basic_auth, receipt_json, refund_receipt

from pes_sdk.gateways import CreateOptions, RefundRequest, new_idempotency_key
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier

RETURN = "https://service.example/return"
UK = Supplier("7707083893", "ООО «УК Дом»", ("+74951234567",), ReceiptVat.NONE)


def payment() -> Payment:
    line = PaymentLine("7707083893", "0012345", Decimal("100.00"), client_fee=Decimal("1.00"))
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])


def receipt_of(p: Payment, **contact: str) -> Receipt:
    return Receipt.for_payment(p, {UK.inn: UK}, fee_vat=ReceiptVat.VAT22, **contact)


@pytest.fixture
def harness() -> Iterator[YooKassaHarness]:
    with YooKassaHarness(timeout=1, receipts_required=True) as h:
        yield h


def create(h: YooKassaHarness, p: Payment, receipt: Receipt) -> dict[str, Any] | None:
    options = CreateOptions(new_idempotency_key(), RETURN, receipt=receipt)
    snap = h.gateway.create_payment(p, options)
    return h.simulator.receipt_of(snap.gateway_payment_id)


def test_the_email_reaches_the_receipt(harness: YooKassaHarness) -> None:
    p = payment()
    sent = create(harness, p, receipt_of(p, customer_email="ivan@example.ru"))
    assert sent is not None and sent["customer"] == {"email": "ivan@example.ru"}


def test_the_phone_goes_as_e164_digits(harness: YooKassaHarness) -> None:
    p = payment()
    sent = create(harness, p, receipt_of(p, customer_phone="+79161234567"))
    assert sent is not None and sent["customer"] == {"phone": "79161234567"}


def test_the_clients_contact_wins_over_the_shops() -> None:
    with YooKassaHarness(
        timeout=1, receipts_required=True, receipt_customer={"email": "shop@service.example"}
    ) as h:
        p = payment()
        mine = create(h, p, receipt_of(p, customer_email="ivan@example.ru"))
        assert mine is not None and mine["customer"] == {"email": "ivan@example.ru"}
        q = payment()
        shops = create(h, q, receipt_of(q))
        assert shops is not None and shops["customer"] == {"email": "shop@service.example"}


def test_a_refund_receipt_goes_where_the_payments_went() -> None:
    p = payment()
    receipt = receipt_of(p, customer_email="ivan@example.ru")
    back = refund_receipt(p, receipt, RefundRequest.for_lines(p, "gid", {0: Decimal("10.00")}))
    assert back.customer_email == "ivan@example.ru"
    assert receipt_json(back)["customer"] == {"email": "ivan@example.ru"}


def _post(h: YooKassaHarness, p: Payment, receipt: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = {
        "amount": {"value": str(p.total), "currency": "RUB"},
        "capture": True,
        "payment_method_data": {"type": "bank_card"},
        "confirmation": {"type": "redirect", "return_url": RETURN},
        "receipt": receipt,
    }
    conn = http.client.HTTPConnection("127.0.0.1", int(h.simulator.root_url.rsplit(":", 1)[1]))
    try:
        conn.request(
            "POST",
            "/v3/payments",
            json.dumps(body).encode(),
            {
                "Authorization": basic_auth(h.simulator.shop_id, h.simulator.secret_key),
                "Idempotence-Key": new_idempotency_key(),
                "Content-Type": "application/json",
            },
        )
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("customer", "parameter"),
    [
        (None, "receipt.customer"),
        ({}, "receipt.customer"),
        ({"email": "not-an-address"}, "receipt.customer.email"),
        ({"phone": "+7 916 123-45-67"}, "receipt.customer.phone"),
    ],
)
def test_a_receipt_without_a_good_contact_is_refused(
    harness: YooKassaHarness, customer: dict[str, str] | None, parameter: str
) -> None:
    p = payment()
    receipt = receipt_json(receipt_of(p))
    if customer is not None:
        receipt["customer"] = customer
    status, answer = _post(harness, p, receipt)
    assert (status, answer["code"], answer["parameter"]) == (400, "invalid_request", parameter)
    assert harness.simulator.totals() == (0, 0)


def test_no_receipt_without_any_contact_and_no_shop_mailbox() -> None:
    """Without receipts required, a receipt with no contact is dropped, not refused."""
    with YooKassaHarness(timeout=1) as h:
        p = payment()
        assert create(h, p, receipt_of(p)) is None
        q = payment()
        sent = create(h, q, attrs.evolve(receipt_of(q), customer_email="ivan@example.ru"))
        assert sent is not None
