"""The processor passes a basket's 54-ФЗ receipt on to the acquirer.

The sandbox acquirer refuses a receipt whose positions do not sum to the payment, as real
acquirers do: a refusal proves the receipt travelled with the create request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pytest

from pes_sdk.gateways import GatewayRefused, PaymentProcessor, PaymentState
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier
from pes_sdk.plugins import get_host

SUPPLIERS = {
    "7707083893": Supplier("7707083893", "УК «Дом»", ("+73422000000",), ReceiptVat.VAT22),
    "7736050003": Supplier("7736050003", "РСО «Вода»", (), ReceiptVat.NONE),
}


def basket() -> Payment:
    return Payment(
        uuid.uuid4(),
        dt.datetime.now(dt.UTC),
        PaymentMethod.CARD,
        [
            PaymentLine("7707083893", "0012345", Decimal("1272.26"), client_fee=Decimal("12.72")),
            PaymentLine("7736050003", "77-001", Decimal("300.00")),
        ],
    )


@pytest.fixture
def processor() -> Iterator[PaymentProcessor]:
    gateway = get_host().gateways()["sandbox"].create({})
    yield PaymentProcessor(gateway)
    gateway.close()


def test_the_receipt_goes_with_the_create(processor: PaymentProcessor) -> None:
    payment = basket()
    receipt = Receipt.for_payment(payment, SUPPLIERS, fee_vat=ReceiptVat.VAT22)
    entry = processor.start(payment, return_url="https://cabinet.example/paid", receipt=receipt)
    assert entry.state is PaymentState.PENDING


def test_a_receipt_that_does_not_add_up_is_refused_by_the_acquirer(
    processor: PaymentProcessor,
) -> None:
    payment = basket()
    receipt = Receipt.for_payment(payment, SUPPLIERS, fee_vat=ReceiptVat.VAT22)
    short = attrs.evolve(receipt, positions=receipt.positions[:-1])  # the fee is missing
    with pytest.raises(GatewayRefused, match="receipt"):
        processor.start(payment, return_url="https://cabinet.example/paid", receipt=short)
