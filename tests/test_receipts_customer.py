"""The buyer's contact on a 54-ФЗ receipt (tag 1008): an e-mail address or an E.164 phone."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import (
    Receipt,
    ReceiptVat,
    Supplier,
    check_customer_email,
    check_customer_phone,
)

UK = Supplier("7707083893", "ООО «УК Ромашка»", "+74951234567", ReceiptVat.VAT22)


def payment() -> Payment:
    line = PaymentLine("7707083893", "001", Decimal("100.00"), client_fee=Decimal("1.00"))
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])


def test_for_payment_carries_the_contact() -> None:
    receipt = Receipt.for_payment(
        payment(),
        {UK.inn: UK},
        fee_vat=ReceiptVat.VAT22,
        customer_email="ivan@example.ru",
        customer_phone="+79161234567",
    )
    assert receipt.customer_email == "ivan@example.ru"
    assert receipt.customer_phone == "+79161234567"
    assert receipt.has_contact


def test_no_contact_by_default() -> None:
    receipt = Receipt.for_payment(payment(), {UK.inn: UK}, fee_vat=ReceiptVat.VAT22)
    assert receipt.customer_email is None and receipt.customer_phone is None
    assert not receipt.has_contact


def test_the_contact_stays_out_of_the_repr() -> None:
    receipt = Receipt.for_payment(
        payment(), {UK.inn: UK}, fee_vat=ReceiptVat.VAT22, customer_email="ivan@example.ru"
    )
    assert "ivan@" not in repr(receipt)


@pytest.mark.parametrize(
    "value",
    ["ivan@example.ru", "a.b+tag@mail-1.example.com", "x@xn--e1afmkfd.xn--p1ai", "O'Neil@x.org"],
)
def test_good_addresses(value: str) -> None:
    assert check_customer_email(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ivan",
        "ivan@",
        "@example.ru",
        "ivan@example",
        "ivan@@example.ru",
        "iv an@example.ru",
        "ivan.@example.ru",
        "iv..an@example.ru",
        "ivan@-example.ru",
        "ivan@example.123",
        "иван@пример.рф",
        "ivan@example.ru\n",
        "a" * 65 + "@example.ru",
        "ivan@" + "a" * 250 + ".ru",
    ],
)
def test_bad_addresses(value: str) -> None:
    with pytest.raises(ValueError, match="e-mail address"):
        check_customer_email(value)


def test_the_message_does_not_repeat_the_address() -> None:
    with pytest.raises(ValueError) as caught:
        check_customer_email("secret.person@nowhere")
    assert "secret.person" not in str(caught.value)


@pytest.mark.parametrize("value", ["+79161234567", "+12025550123", "+4930123456"])
def test_good_phones(value: str) -> None:
    assert check_customer_phone(value) == value


@pytest.mark.parametrize("value", ["79161234567", "+7 916 123-45-67", "+0123456789", "+7916", ""])
def test_bad_phones(value: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        check_customer_phone(value)


def test_a_receipt_refuses_a_bad_contact() -> None:
    with pytest.raises(ValueError, match="e-mail"):
        Receipt.for_payment(
            payment(), {UK.inn: UK}, fee_vat=ReceiptVat.VAT22, customer_email="not-an-address"
        )
    with pytest.raises(ValueError, match=r"E\.164"):
        Receipt.for_payment(
            payment(), {UK.inn: UK}, fee_vat=ReceiptVat.VAT22, customer_phone="89161234567"
        )
