"""Golden files: every built-in dialect reads its hand-written sample and writes it back
byte for byte."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from pes_sdk.formats import Policy
from pes_sdk.models import DebtRecord, PaymentRecord, RegistryHeader
from pes_sdk.period import Period
from pes_sdk.plugins import get_host
from pes_sdk.premises import Premises, PremisesKind

GOLDEN = Path(__file__).parent / "golden"
H1 = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
H2 = "5d6e7f80-91a2-43b4-85c6-d7e8f9a0b1c2"
NOV = Period(2026, 11)
OCT = Period(2026, 10)


def D(text: str) -> Decimal:
    return Decimal(text)


PES_DEBTS = [
    DebtRecord("000123", H1, "12а", D("1272.26"), NOV, "Электроснабжение"),
    DebtRecord("000123", H1, "12а", D("350.00"), NOV, "Вывоз ТКО"),
    DebtRecord("0045", H1, "12/1", D("-150.40"), NOV, "Электроснабжение"),
    DebtRecord("ЛС-7/15", H2, "кв. 5, ком. 2", D("0.00"), OCT, ""),
    DebtRecord("=77", H2, "", D("99.99"), NOV, "+Капремонт"),
]
SBER_DEBTS = [
    DebtRecord("000123", H1, "12а", D("1272.26"), NOV, "Электроснабжение"),
    DebtRecord("000123", H1, "12а", D("350.00"), NOV, "Вывоз ТКО"),
    DebtRecord("0045", H1, "12/1", D("-150.40"), NOV, ""),
    DebtRecord("00000078", H2, "кв. 5, ком. 2", D("0.00"), OCT, "Отопление"),
]
PES_PAYMENTS = [
    PaymentRecord(
        dt.datetime(2026, 11, 27, 9, 15, 2), "A-0001", "000123",
        D("1272.26"), D("1254.96"), D("17.30"), H1, "12а", NOV, "Электроснабжение", "cabinet",
        service_code="01",
    ),
    PaymentRecord(
        dt.datetime(2026, 11, 27, 18, 40, 59), "A-0002", "0045",
        D("100.00"), D("98.64"), D("1.36"), None, "", None, "Вывоз ТКО", "app",
        tags=[("CLIENTNO", "0045"), ("method_pay", "sbp")],
    ),
]  # fmt: skip
SBER_PAYMENTS = [
    PaymentRecord(
        dt.datetime(2026, 11, 27, 9, 15, 2), "100001", "000123",
        D("1272.26"), D("1254.96"), D("17.30"), H1, "12а", NOV, "Содержание жилья", "8623/0100",
        tags=[("CLIENTNO", "000123"), ("method_pay", "card")], service_code="ЖКУ-01",
    ),
    PaymentRecord(
        dt.datetime(2026, 11, 27, 18, 40, 59), "100002", "0045",
        D("100.00"), D("98.64"), D("1.36"), None, "", None, "Взнос на капремонт", "СберОнлайн",
        tags=[("CounterVal_1", "1234,5"), ("CounterVal_2", "678"), ("CLIENTDOCNO", "ПД-17")],
    ),
]  # fmt: skip

# The Excel dialects carry no KEY:value tags: what Excel shows is what the columns say.
EXCEL_PAYMENTS = [attrs.evolve(r, tags=()) for r in PES_PAYMENTS]

CASES = [
    ("pes-debts", "pes-debts.csv", PES_DEBTS, {"amount": D("1571.85")}),
    ("pes-payments", "pes-payments.csv", PES_PAYMENTS,
     {"amount": D("1372.26"), "transfer": D("1353.60"), "fee": D("18.66")}),
    ("sber-debts", "7707083893_40702810900000000001_001_1126.txt", SBER_DEBTS,
     {"amount": D("1471.86")}),
    ("sber-payments", "sber-payments.txt", SBER_PAYMENTS,
     {"amount": D("1372.26"), "transfer": D("1353.60"), "fee": D("18.66")}),
    ("excel-debts", "excel-debts.csv", PES_DEBTS, {"amount": D("1571.85")}),
    ("excel-debts-cp1251", "excel-debts-cp1251.csv", PES_DEBTS, {"amount": D("1571.85")}),
    ("excel-payments", "excel-payments.csv", EXCEL_PAYMENTS,
     {"amount": D("1372.26"), "transfer": D("1353.60"), "fee": D("18.66")}),
    ("excel-payments-cp1251", "excel-payments-cp1251.csv", EXCEL_PAYMENTS,
     {"amount": D("1372.26"), "transfer": D("1353.60"), "fee": D("18.66")}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "filename", "expected", "sums"), CASES)
def test_golden_read(name: str, filename: str, expected: list[object], sums: dict[str, Decimal]):
    fmt = get_host().format(name)
    with fmt.open(GOLDEN / filename) as reader:
        records = list(reader)
    assert records == expected
    report = reader.report
    assert report.valid and report.refused is None
    assert report.records == len(expected)
    assert report.header.control is not None
    assert report.header.control.count == len(expected)
    assert report.header.control.sums == sums
    assert report.total == sum((r.amount for r in expected), D("0.00"))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "filename", "expected", "sums"), CASES)
def test_golden_write_is_byte_identical(
    tmp_path: Path, name: str, filename: str, expected: list[object], sums: object
):
    fmt = get_host().format(name)
    with fmt.open(GOLDEN / filename) as reader:
        records = list(reader)
    out = tmp_path / filename
    report = fmt.write(out, reader.report.header, records)
    assert out.read_bytes() == (GOLDEN / filename).read_bytes()
    assert report.records == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == [filename]  # no temporary left


def test_sber_debts_header_comes_from_the_file_name():
    fmt = get_host().format("sber-debts")
    path = GOLDEN / "7707083893_40702810900000000001_001_1126.txt"
    with fmt.open(path) as reader:
        list(reader)
    h = reader.report.header
    assert (h.partner_inn, h.partner_account, h.number, h.period) == (
        "7707083893",
        "40702810900000000001",
        1,
        NOV,
    )
    assert fmt.filename(h) == path.name


def test_sber_payments_footer_keeps_the_order_number_and_date():
    fmt = get_host().format("sber-payments")
    with fmt.open(GOLDEN / "sber-payments.txt") as reader:
        list(reader)
    assert reader.report.header.extra == (("order_number", "512"), ("order_date", "28.11.2026"))


def test_premises_keep_their_text_and_kind():
    fmt = get_host().format("sber-debts")
    with fmt.open(GOLDEN / "7707083893_40702810900000000001_001_1126.txt") as reader:
        premises = [r.premises for r in reader]  # type: ignore[union-attr]
    assert [p.text for p in premises] == ["12а", "12а", "12/1", "кв. 5, ком. 2"]
    assert premises[3].kind is PremisesKind.ROOM and premises[3].key == "5к2"
    assert premises[0] == Premises("12а")


def test_sber_debts_bytes_are_cp1251_with_crlf():
    raw = (GOLDEN / "7707083893_40702810900000000001_001_1126.txt").read_bytes()
    assert "Электроснабжение".encode("cp1251") in raw
    assert raw.count(b"\r\n") == 5 and raw.count(b"\n") == 5


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_golden_files_are_valid_under_both_policies(policy: Policy):
    for name, filename, expected, _ in CASES:
        with get_host().format(name).open(GOLDEN / filename, policy=policy) as reader:
            assert len(list(reader)) == len(expected)
        assert reader.report.valid
        assert reader.report.rejects_path is None


def test_write_header_for_sber_debts_builds_the_file_name():
    header = RegistryHeader(
        "debts", partner_inn="7707083893", partner_account="40702810900000000001",
        period=NOV, number=1,
    )  # fmt: skip
    assert get_host().format("sber-debts").filename(header) == (
        "7707083893_40702810900000000001_001_1126.txt"
    )
