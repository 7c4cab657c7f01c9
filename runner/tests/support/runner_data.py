"""Shared test data: partners and debt records (imported by the test modules)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, FeeTerms, Partner
from pes_sdk.premises import Premises

# Real-shaped ИНН with valid check digits (Сбербанк, Газпром); bank details of the kit's tests.
INN_A = "7707083893"
INN_B = "7736050003"
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
OTHER_HOUSE = "5e1f0a3c-1b2d-4c3e-9f40-1a2b3c4d5e6f"


def partner(inn: str, name: str) -> Partner:
    bank = BankDetails(
        "044525225", "40702810938000000001", "30101810400000000225", "ПАО Сбербанк", "г. Москва"
    )
    return Partner(inn, name, bank, kpp="773601001", fee=FeeTerms(rate=Decimal("0.0136")))


PARTNERS = [partner(INN_A, "ООО «УК Прикамье»"), partner(INN_B, "ПАО «Пермэнергосбыт»")]


def debt(
    account: str, amount: str, premises: str = "кв. 12А", *, house: str = HOUSE, service: str = ""
) -> DebtRecord:
    return DebtRecord(account, house, Premises(premises), Decimal(amount), service=service)


def many_debts(n: int) -> Iterator[DebtRecord]:
    """``n`` distinct records, made one at a time (never a list)."""
    houses = [str(uuid.UUID(int=i + 1)) for i in range(1000)]
    flats = [Premises(f"кв. {i}") for i in range(1, 301)]
    for i in range(n):
        yield DebtRecord.from_checked(
            f"{i:010d}", houses[i % 1000], flats[(i // 1000) % 300], Decimal(i % 100000).scaleb(-2)
        )
