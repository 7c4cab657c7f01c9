"""54-ФЗ receipts of a basket payment: agent positions per line, the fee as the service's own."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from pes_sdk.errors import ConfigError
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import (
    TAG_1222_PAYMENT_AGENT,
    AgentType,
    Receipt,
    ReceiptPosition,
    ReceiptVat,
    Supplier,
)

UK = Supplier("7707083893", "ООО «УК Ромашка»", "+74951234567", ReceiptVat.VAT22)
RSO = Supplier("7736050003", "АО «Мосэнергосбыт»", ["+78005550000"], ReceiptVat.NONE)


def payment() -> Payment:
    lines = [
        PaymentLine(
            "7707083893",
            "001",
            Decimal("1272.26"),
            service="Содержание жилья",
            client_fee=Decimal("12.72"),
        ),
        PaymentLine(
            "7736050003",
            "002",
            Decimal("300.00"),
            service="Электроснабжение",
            client_fee=Decimal("3.00"),
        ),
        PaymentLine("7707083893", "003", Decimal("0.01")),
    ]
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.SBP, lines)


def test_positions_per_line_and_one_fee_position() -> None:
    p = payment()
    receipt = Receipt.for_payment(p, {UK.inn: UK, RSO.inn: RSO}, fee_vat=ReceiptVat.VAT22_122)
    assert receipt.total == p.total == Decimal("1587.99")
    agent = receipt.positions[:3]
    assert [x.supplier for x in agent] == [UK, RSO, UK]
    assert {x.agent for x in agent} == {AgentType.PAYMENT_AGENT}
    assert [x.vat for x in agent] == [ReceiptVat.VAT22, ReceiptVat.NONE, ReceiptVat.VAT22]
    assert agent[1].name == "Электроснабжение"
    fee = receipt.positions[3]
    assert (fee.amount, fee.vat, fee.agent, fee.supplier) == (
        Decimal("15.72"),
        ReceiptVat.VAT22_122,
        None,
        None,
    )


def test_missing_supplier_names_the_inn() -> None:
    with pytest.raises(ConfigError, match="7736050003"):
        Receipt.for_payment(payment(), {UK.inn: UK}, fee_vat=ReceiptVat.VAT22)


def test_bad_values_refused() -> None:
    with pytest.raises(ValueError):
        Supplier("7707083894", "x")  # bad check digit
    with pytest.raises(ValueError):
        Supplier(UK.inn, "x", "8 495 123")
    with pytest.raises(ValueError):
        ReceiptPosition("fee", Decimal("1.00"), ReceiptVat.VAT22, agent=AgentType.PAYMENT_AGENT)
    with pytest.raises(TypeError):
        ReceiptPosition("fee", 1.0, ReceiptVat.VAT22)  # type: ignore[arg-type]


def test_tag_1222_payment_agent_is_its_bit() -> None:
    """Tag 1222 is a bit field (ФФД 1.05); a payment agent is bit 4, not the ordinal 3.

    3 = 1 | 2 would put "bank payment agent" and "bank payment subagent" on the receipt.
    """
    bits = {
        "банковский платёжный агент": 1,
        "банковский платёжный субагент": 2,
        "платёжный агент": 4,
        "платёжный субагент": 8,
        "поверенный": 16,
        "комиссионер": 32,
        "иной агент": 64,
    }
    assert bits["платёжный агент"] == TAG_1222_PAYMENT_AGENT
    assert [name for name, bit in bits.items() if TAG_1222_PAYMENT_AGENT & bit] == [
        "платёжный агент"
    ]
