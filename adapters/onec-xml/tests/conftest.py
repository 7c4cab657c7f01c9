"""Shared fixtures of the 1C registry XML tests: sample registries with the awkward cases.

Hypothesis profiles come from the repository's root conftest.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pes_sdk.models import (
    DebtRecord,
    MeterReading,
    PaymentRecord,
    Photo,
    RegistryHeader,
    RegistryKind,
)
from pes_sdk.period import Period

pytest_plugins = ["pes_sdk_conformance.plugin"]


INN = "7707083893"
HOUSE = "6961b2bd-e4ab-3ef2-30b1-877a121939cd"
HOUSE_UPPER = "0C5B2444-70A0-4932-980C-B4DC0D3F02B5"
MSK = dt.timezone(dt.timedelta(hours=3))


@pytest.fixture
def debts() -> tuple[RegistryHeader, list[DebtRecord]]:
    header = RegistryHeader(
        RegistryKind.DEBTS,
        partner_inn=INN,
        period=Period(2026, 11),
        number=3,
        created_at=dt.datetime(2026, 11, 1, 9, 30, tzinfo=MSK),
    )
    records = [
        DebtRecord(
            "000123",
            HOUSE,
            "12а",
            Decimal("1272.26"),
            Period(2026, 11),
            "Содержание",
            service_code="ЖКУ-01",
        ),
        DebtRecord("000124", HOUSE, "12/1", Decimal("-15.00"), service="Отопление"),
        DebtRecord(
            "Л/С 7", HOUSE_UPPER, "кв. 12, ком. 3", Decimal("0.00"), tags={"CLIENTNO": "0077"}
        ),
        DebtRecord("9", HOUSE, "", Decimal("99999999999.99"), service='"ХВС" & <ГВС>'),
    ]
    return header, records


@pytest.fixture
def payments() -> tuple[RegistryHeader, list[PaymentRecord]]:
    header = RegistryHeader(
        RegistryKind.PAYMENTS,
        partner_inn=INN,
        partner_account="40702810900000000001",
        date=dt.date(2026, 11, 27),
        number=12,
        created_at=dt.datetime(2026, 11, 28, 0, 5, tzinfo=MSK),
    )
    records = [
        PaymentRecord(
            dt.datetime(2026, 11, 27, 10, 15, 3, tzinfo=MSK),
            "op-000001",
            "000123",
            Decimal("1272.26"),
            Decimal("1250.77"),
            Decimal("21.49"),
            HOUSE,
            "12а",
            Period(2026, 11),
            "Содержание жилья",
            "app",
            tags=[("CLIENTNO", "0077"), ("method_pay", "sbp")],
            service_code="ЖКУ-01",
        ),
        PaymentRecord(
            dt.datetime(2026, 11, 27, 23, 59, 59, 123456, tzinfo=dt.UTC),
            "op-000002",
            "0000000001",
            Decimal("5.00"),
            Decimal("5.00"),
            Decimal("0.00"),
        ),
        PaymentRecord(
            dt.datetime(2026, 11, 27, 12, 0),
            "op-000003",
            "12/1",
            Decimal("100.00"),
            Decimal("98.37"),
            Decimal("1.63"),
            HOUSE_UPPER,
            "12/1",
            service="ХВС\tи ГВС",
            channel="terminal\nлобби",
        ),
    ]
    return header, records


@pytest.fixture
def readings() -> tuple[RegistryHeader, list[MeterReading]]:
    header = RegistryHeader(
        RegistryKind.READINGS, partner_inn=INN, number=1, period=Period(2026, 11)
    )
    records = [
        MeterReading(
            "000123",
            "Э-0001",
            3,
            (Decimal("12345.678"), Decimal("0.100"), Decimal("7")),
            dt.date(2026, 11, 20),
            HOUSE,
            "Электроэнергия",
        ),
        MeterReading(
            "000124",
            "ХВС-17",
            9,
            (Decimal("00012.5"),),
            dt.date(2026, 11, 21),
            photo=Photo("ab" * 32),
        ),
        MeterReading(
            "000125",
            "G1",
            1,
            (Decimal("1.00000001"), Decimal("2")),
            dt.date(2026, 11, 22),
            photo=Photo("cd" * 32, "image/png"),
        ),
    ]
    return header, records
