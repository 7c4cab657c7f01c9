"""The buyer's contact of a 54-ФЗ receipt (tag 1008) reaches T-Bank as ``Receipt.Email`` /
``Receipt.Phone`` in ``Init``, and T-Bank (the simulator, over loopback HTTP) refuses a
``Receipt`` without either."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pes_sdk_tbank import TBankGateway, TBankHarness, TBankSimulator, make_token
from pes_sdk_tbank.client import to_kopecks

from pes_sdk.gateways import CreateOptions, new_idempotency_key
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier

RETURN = "https://service.example/return"
UK = Supplier("7707083893", "ООО «УК Дом»", ("+74951234567",), ReceiptVat.NONE)


def basket() -> Payment:
    line = PaymentLine("7707083893", "001", Decimal("100.00"), client_fee=Decimal("1.50"))
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])


def receipt_of(p: Payment, **contact: str) -> Receipt:
    return Receipt.for_payment(p, {UK.inn: UK}, fee_vat=ReceiptVat.VAT22, **contact)


@pytest.fixture
def harness() -> Iterator[TBankHarness]:
    with TBankHarness(timeout=1) as h:  # its gateway has the service's own receipt mailbox
        yield h


def sent(gw: TBankGateway, sim: TBankSimulator, p: Payment, receipt: Receipt) -> Any:
    created = gw.create_payment(p, CreateOptions(new_idempotency_key(), RETURN, receipt=receipt))
    return sim.receipt_of(created.gateway_payment_id)


def test_the_clients_email_goes_in_receipt_email(harness: TBankHarness) -> None:
    p = basket()
    receipt = sent(
        harness.gateway, harness.simulator, p, receipt_of(p, customer_email="ivan@example.ru")
    )
    assert receipt["Email"] == "ivan@example.ru"
    assert "Phone" not in receipt


def test_the_clients_phone_goes_in_receipt_phone(harness: TBankHarness) -> None:
    p = basket()
    receipt = sent(
        harness.gateway, harness.simulator, p, receipt_of(p, customer_phone="+79161234567")
    )
    assert receipt["Phone"] == "+79161234567"
    assert "Email" not in receipt, "the client's contact replaces the service's mailbox"


def test_without_the_clients_contact_the_services_mailbox(harness: TBankHarness) -> None:
    p = basket()
    receipt = sent(harness.gateway, harness.simulator, p, receipt_of(p))
    assert receipt["Email"] == "receipts@service.example"


def test_the_clients_contact_alone_makes_a_receipt() -> None:
    with TBankSimulator() as sim:
        gw = TBankGateway(
            terminal_key=sim.terminal_key, password=sim.password, base_url=sim.base_url, timeout=1
        )
        p = basket()
        assert sent(gw, sim, p, receipt_of(p, customer_email="ivan@example.ru"))["Email"] == (
            "ivan@example.ru"
        )
        q = basket()
        assert sent(gw, sim, q, receipt_of(q)) is None, "no contact at all: no Receipt"
        gw.close()


@pytest.mark.parametrize(
    ("contact", "details"),
    [
        ({}, "Receipt: Email or Phone"),
        ({"Email": ""}, "Receipt: Email or Phone"),
        ({"Email": "not-an-address"}, "Receipt.Email"),
        ({"Phone": "8 (916) 123-45-67"}, "Receipt.Phone"),
    ],
)
def test_a_receipt_without_a_good_contact_is_refused(
    harness: TBankHarness, contact: dict[str, str], details: str
) -> None:
    p = basket()
    receipt: dict[str, Any] = {
        "Taxation": "usn_income",
        "Items": [
            {
                "Name": "Вознаграждение",
                "Price": to_kopecks(p.total),
                "Quantity": 1,
                "Amount": to_kopecks(p.total),
                "Tax": "none",
            }
        ],
        **contact,
    }
    body: dict[str, Any] = {
        "TerminalKey": harness.simulator.terminal_key,
        "Amount": to_kopecks(p.total),
        "OrderId": str(p.payment_id),
        "Receipt": receipt,
    }
    body["Token"] = make_token(body, harness.simulator.password)
    status, raw = harness.simulator.handle_api("Init", json.dumps(body).encode())
    answer = json.loads(raw)
    assert (status, answer["Success"], answer["Details"]) == (200, False, details)
    assert harness.payments_at_acquirer(p.payment_id) == 0
