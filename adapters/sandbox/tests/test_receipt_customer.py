"""The buyer's contact of a 54-ФЗ receipt (tag 1008) reaches the sandbox acquirer, which
keeps it, answers it in its API and shows it on its payment page; a bad one is refused."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pes_sdk_sandbox import SandboxGateway

from pes_sdk.gateways import GatewayRefused, PaymentProcessor, PaymentState
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier
from pes_sdk.plugins import get_host

RETURN = "https://cabinet.example/paid"
UK = Supplier("7707083893", "УК «Дом»", ("+73422000000",), ReceiptVat.NONE)


def basket() -> Payment:
    line = PaymentLine("7707083893", "0012345", Decimal("100.00"), client_fee=Decimal("1.00"))
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])


def receipt_of(p: Payment, **contact: str) -> Receipt:
    return Receipt.for_payment(p, {UK.inn: UK}, fee_vat=ReceiptVat.VAT22, **contact)


@pytest.fixture
def gateway() -> Iterator[SandboxGateway]:
    gw = get_host().gateways()["sandbox"].create({})
    assert isinstance(gw, SandboxGateway)
    yield gw
    gw.close()


def _get(url: str, **headers: str) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        body: bytes = answer.read()
        return body


def test_the_email_reaches_the_acquirer(gateway: SandboxGateway) -> None:
    p = basket()
    entry = PaymentProcessor(gateway).start(
        p, return_url=RETURN, receipt=receipt_of(p, customer_email="ivan@example.ru")
    )
    assert entry.state is PaymentState.PENDING and entry.gateway_payment_id is not None
    sim = gateway.simulator
    assert sim is not None
    assert sim.receipt_customer(entry.gateway_payment_id) == {"email": "ivan@example.ru"}
    assert entry.confirmation is not None and entry.confirmation.url is not None
    assert "ivan@example.ru" in _get(entry.confirmation.url).decode()


def test_the_api_answers_the_contact(gateway: SandboxGateway) -> None:
    p = basket()
    entry = PaymentProcessor(gateway).start(
        p, return_url=RETURN, receipt=receipt_of(p, customer_phone="+79161234567")
    )
    sim = gateway.simulator
    assert sim is not None and entry.gateway_payment_id is not None
    raw = _get(
        f"{sim.base_url}/v1/payments/{entry.gateway_payment_id}",
        Authorization=f"Bearer {sim.api_key}",
    )
    answer: dict[str, Any] = json.loads(raw)
    assert answer["receipt"]["customer"] == {"phone": "+79161234567"}


def test_no_contact_no_customer(gateway: SandboxGateway) -> None:
    p = basket()
    entry = PaymentProcessor(gateway).start(p, return_url=RETURN, receipt=receipt_of(p))
    sim = gateway.simulator
    assert sim is not None and entry.gateway_payment_id is not None
    assert sim.receipt_customer(entry.gateway_payment_id) == {}
    assert entry.confirmation is not None and entry.confirmation.url is not None
    assert "receipt to" not in _get(entry.confirmation.url).decode()


@pytest.mark.parametrize(
    "customer",
    [{}, {"email": "not-an-address"}, {"phone": "89161234567"}, "ivan@example.ru"],
)
def test_a_bad_contact_is_refused(gateway: SandboxGateway, customer: object) -> None:
    sim = gateway.simulator
    assert sim is not None
    p = basket()
    body = {
        "order_id": str(p.payment_id),
        "amount": str(p.total),
        "method": "card",
        "return_url": RETURN,
        "receipt": {"items": [], "customer": customer},
    }
    with pytest.raises(GatewayRefused, match=r"receipt\.customer"):
        gateway._post("/v1/payments", body, "key-" + uuid.uuid4().hex)
    assert sim.payments_for(p.payment_id) == []
