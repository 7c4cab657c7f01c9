"""A sample seller, suppliers and basket receipt, and register settings for the simulator.

What the tests, the demo and an integrator trying the register against
:class:`~pes_sdk_atol.simulator.AtolSimulator` use: a payment agent's receipt of two
housing-service lines (a housing company and a water supplier, each with its ИНН, phone
and VAT rate) and the client's fee, with the buyer's e-mail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pes_sdk.models.receipts import AgentType, Receipt, ReceiptPosition, ReceiptVat, Supplier
from pes_sdk_atol.client import AtolSettings
from pes_sdk_atol.simulator import GROUP_CODE, LOGIN, PASSWORD, AtolSimulator
from pes_sdk_atol.wire import Company, PayingAgent

__all__ = ["BUYER_EMAIL", "COMPANY", "NOW", "UK", "VODA", "basket", "no_sleep", "settings"]

#: the seller: a payment agent (ИНН with right check digits)
COMPANY = Company(
    inn="7707083893",
    sno="osn",
    email="receipts@pes.example",
    payment_address="https://pay.pes.example",
)
#: a housing company (УК) and a water supplier (РСО), as suppliers of the basket's lines
UK = Supplier(
    inn="7736207543", name="ООО «УК Ромашка»", phones=("+74951234567",), vat=ReceiptVat.NONE
)
VODA = Supplier(
    inn="500100732259", name="ИП Водоканалов", phones=("+74957654321",), vat=ReceiptVat.VAT20
)
#: the buyer's contact (tag 1008): personal data, which no log may show
BUYER_EMAIL = "ivanova.buyer@mail.example"


def basket(email: str | None = BUYER_EMAIL, phone: str | None = None) -> Receipt:
    """Two lines paid as a payment agent and the client's fee: 1 234.56 + 789.01 + 10.10."""
    return Receipt(
        [
            ReceiptPosition(
                "Содержание жилья, л/с 1017", "1234.56", UK.vat, AgentType.PAYMENT_AGENT, UK
            ),
            ReceiptPosition(
                "Холодная вода, л/с 1017", "789.01", VODA.vat, AgentType.PAYMENT_AGENT, VODA
            ),
            ReceiptPosition("Вознаграждение платёжного агента", "10.10", ReceiptVat.VAT22),
        ],
        customer_email=email,
        customer_phone=phone,
    )


def settings(simulator: AtolSimulator, **changes: Any) -> AtolSettings:
    values: dict[str, Any] = {
        "login": LOGIN,
        "password": PASSWORD,
        "group_code": GROUP_CODE,
        "company": COMPANY,
        "agent": PayingAgent(operation="Оплата ЖКУ", phones=("+74950000001",)),
        "endpoint": simulator.endpoint,
        "timeout": 2.0,
    }
    values.update(changes)
    return AtolSettings(**values)


def no_sleep(seconds: float) -> None:
    """For tests: a retry's pause skipped (the retry itself is what is checked)."""


#: a fixed request time: 7 December 2026, 10:15 in Moscow
NOW = dt.datetime(2026, 12, 7, 7, 15, tzinfo=dt.UTC)
