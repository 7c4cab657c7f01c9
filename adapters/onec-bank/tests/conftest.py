"""Shared fixtures of the 1C bank adapter tests: parties, orders and 1C's DirectBank schemas.

1C's schemas and samples are never copied into this repository: they are found in
``$PES_CONTRACTS_DIR/1c-directbank`` or, by default, in ``../shared/contracts`` beside the
repository root. Tests that need them skip with that reason when they are absent (they are
present in CI).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from pes_sdk.models import BankDetails, Party, PaymentOrder

# The conformance suite (test_conformance.py), activated here so that its command-line
# option (--pes-conformance-level) is known.
pytest_plugins = ["pes_sdk_conformance.plugin"]

REPO = Path(__file__).resolve().parents[3]

SERVICE = Party(
    "ООО «Энергосбыт-Платежи»",
    "7701012342",
    BankDetails(
        "044525225", "40702810500000001234", "30101810400000000225", "ПАО Сбербанк", "г. Москва"
    ),
    "770101001",
)
PARTNER = Party(
    "ООО «УК Дом» (ёлки №5)",
    "5003012349",
    BankDetails(
        "044525974", "40702810200000005678", "30101810145250000974", "АО «ТБанк»", "г. Москва"
    ),
    "500301001",
)
OTHER = Party(
    "АО «Водоканал»",
    "7720123457",
    BankDetails(
        "044525225", "40702810300000009999", "30101810400000000225", "ПАО Сбербанк", "г. Москва"
    ),
)


def contracts_dir() -> Path | None:
    """The folder of 1C's DirectBank schemas and samples, or None when it is not there."""
    root = os.environ.get("PES_CONTRACTS_DIR")
    base = Path(root) if root else REPO.parent / "shared" / "contracts"
    folder = base / "1c-directbank"
    return folder if (folder / "1C-Bank_Statement.xsd").is_file() else None


@pytest.fixture
def directbank_dir() -> Path:
    folder = contracts_dir()
    if folder is None:
        pytest.skip(
            "1C DirectBank contracts not found: set PES_CONTRACTS_DIR or provide "
            "../shared/contracts/1c-directbank beside the repository"
        )
    return folder


@pytest.fixture
def service() -> Party:
    return SERVICE


@pytest.fixture
def partner() -> Party:
    return PARTNER


@pytest.fixture
def other() -> Party:
    return OTHER


@pytest.fixture
def make_order() -> Callable[..., PaymentOrder]:
    def make(
        number: str = "512",
        amount: str = "1349.49",
        payee: Party = PARTNER,
        date: dt.date = dt.date(2026, 11, 28),
        purpose: str = (
            "Перечисление платежей за 27.11.2026 по реестру № 5 от 28.11.2026. Принято "
            "1372,26 руб., удержано вознаграждение 22,77 руб., в т.ч. НДС 22% 4,11 руб."
        ),
    ) -> PaymentOrder:
        return PaymentOrder(number, date, Decimal(amount), SERVICE, payee, purpose)

    return make


@pytest.fixture
def host_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Puts the test process in another host time zone (``TZ``), restored afterwards."""

    def move(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield move
    monkeypatch.undo()
    time.tzset()
