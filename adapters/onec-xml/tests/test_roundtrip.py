"""Write → read gives the same records, every written file validates against the XSD, and
the hand-written golden files read to the fixtures and are rewritten byte for byte."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pes_sdk_1c_xml import load_schema, schema_path

from pes_sdk.formats.base import RegistryFormat
from pes_sdk.models import DebtRecord, PaymentRecord, RegistryHeader, RegistryKind
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost

GOLDEN = Path(__file__).parent / "golden"
NAMES = {"debts": "1c-xml-debts", "payments": "1c-xml-payments", "readings": "1c-xml-readings"}


def fmt(name: str) -> RegistryFormat:
    """The format as the SDK finds it: through the plugin's entry point."""
    return PluginHost().format(name)


def assert_valid(path: Path) -> None:
    schema = load_schema()
    ok = schema.validate(etree.parse(str(path)))
    assert ok, schema.error_log


def read_all(f: RegistryFormat, path: Path) -> tuple[list[Any], Any]:
    with f.open(path) as reader:
        records = list(reader)
    return records, reader


@pytest.mark.parametrize("kind", ["debts", "payments", "readings"])
def test_round_trip_and_xsd(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    header, records = request.getfixturevalue(kind)
    f = fmt(NAMES[kind])
    path = tmp_path / "r.xml"
    report = f.write(path, header, records)
    assert report.records == len(records)
    assert_valid(path)
    got, reader = read_all(f, path)
    assert got == records
    assert [type(r) for r in got] == [type(r) for r in records]
    assert reader.report.valid
    assert reader.report.records == len(records)
    assert reader.header.partner_inn == header.partner_inn
    assert reader.header.number == header.number
    assert reader.header.period == header.period
    assert reader.header.date == header.date
    assert reader.header.created_at == header.created_at
    assert reader.header.control is not None
    assert reader.header.control.count == len(records)


def test_meter_values_keep_their_precision(readings: Any, tmp_path: Path) -> None:
    header, records = readings
    f = fmt("1c-xml-readings")
    f.write(tmp_path / "r.xml", header, records)
    got, _ = read_all(f, tmp_path / "r.xml")
    assert [str(v) for v in got[0].values] == ["12345.678", "0.100", "7"]
    assert str(got[2].values[0]) == "1.00000001"


def test_payments_keep_text_exactly(payments: Any, tmp_path: Path) -> None:
    header, records = payments
    f = fmt("1c-xml-payments")
    f.write(tmp_path / "p.xml", header, records)
    got, _ = read_all(f, tmp_path / "p.xml")
    assert got[1].account == "0000000001"  # leading zeros
    assert got[0].premises.text == "12а"  # Cyrillic а
    assert got[2].premises.text == "12/1"
    assert got[2].service == "ХВС\tи ГВС"  # a tab in an attribute survives
    assert got[2].channel == "terminal\nлобби"
    assert got[2].house_id == "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
    assert got[0].tags == (("CLIENTNO", "0077"), ("method_pay", "sbp"))
    assert got[1].paid_at.microsecond == 123456 and got[1].paid_at.utcoffset() == dt.timedelta(0)
    assert got[2].paid_at.tzinfo is None


@pytest.mark.parametrize("kind", ["debts", "payments", "readings"])
def test_empty_registry(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    header, _ = request.getfixturevalue(kind)
    f = fmt(NAMES[kind])
    report = f.write(tmp_path / "e.xml", header, [])
    assert report.records == 0 and report.total == Decimal("0.00")
    assert_valid(tmp_path / "e.xml")
    got, reader = read_all(f, tmp_path / "e.xml")
    assert got == [] and reader.report.valid


# -- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["debts", "payments", "readings"])
def test_golden_read(kind: str, request: pytest.FixtureRequest) -> None:
    header, records = request.getfixturevalue(kind)
    golden = GOLDEN / f"{kind}.xml"
    assert_valid(golden)
    got, reader = read_all(fmt(NAMES[kind]), golden)
    assert got == records
    assert reader.report.valid
    assert reader.header.partner_account == header.partner_account


@pytest.mark.parametrize("kind", ["debts", "payments", "readings"])
def test_golden_write_identical_bytes(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    header, records = request.getfixturevalue(kind)
    out = tmp_path / f"{kind}.xml"
    fmt(NAMES[kind]).write(out, header, records)
    assert out.read_bytes() == (GOLDEN / f"{kind}.xml").read_bytes()


@pytest.mark.parametrize("kind", ["debts", "payments", "readings"])
def test_golden_rewrite_of_what_was_read(kind: str, tmp_path: Path) -> None:
    golden = GOLDEN / f"{kind}.xml"
    f = fmt(NAMES[kind])
    got, reader = read_all(f, golden)
    out = tmp_path / "again.xml"
    f.write(out, reader.header, got)
    assert out.read_bytes() == golden.read_bytes()


def test_schema_is_package_data() -> None:
    assert schema_path().is_file()
    assert schema_path().read_text(encoding="utf-8").count("urn:pes-sdk:registry:1") >= 2


# -- properties ---------------------------------------------------------------------------

GUIDS = st.uuids().map(str)
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
).filter(lambda s: all(c in "\t\n\r" or ord(c) >= 0x20 for c in s))
XML_TEXT = TEXT.filter(lambda s: all(not 0xFFFE <= ord(c) <= 0xFFFF for c in s))
ACCOUNTS = st.from_regex(r"[0-9A-Za-zА-Яа-я/ \-]{1,30}", fullmatch=True).filter(
    lambda s: s == s.strip()
)
PREMISES = st.sampled_from(["", "12", "12а", "12/1", "12-1", "кв. 5", "12, ком. 3", "офис 1"])
PERIODS = st.none() | st.builds(Period, st.integers(1900, 2100), st.integers(1, 12))
KOPECKS = st.integers(0, 10**12)


def amount(k: int) -> Decimal:
    return Decimal(k).scaleb(-2)


@st.composite
def payment_records(draw: st.DrawFn) -> PaymentRecord:
    total = draw(KOPECKS)
    fee = draw(st.integers(0, total))
    paid = draw(
        st.datetimes(
            dt.datetime(1990, 1, 1),
            dt.datetime(2100, 1, 1),
            timezones=st.none() | st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=3))]),
        )
    )
    return PaymentRecord(
        paid,
        draw(XML_TEXT),
        draw(ACCOUNTS),
        amount(total),
        amount(total - fee),
        amount(fee),
        draw(st.none() | GUIDS),
        draw(PREMISES),
        draw(PERIODS),
        draw(XML_TEXT),
        draw(XML_TEXT),
        tags=draw(
            st.lists(
                st.tuples(st.from_regex(r"[A-Za-z_]{1,8}", fullmatch=True), XML_TEXT), max_size=2
            )
        ),
        service_code=draw(XML_TEXT),
    )


@st.composite
def debt_records(draw: st.DrawFn) -> DebtRecord:
    return DebtRecord(
        draw(ACCOUNTS),
        draw(GUIDS),
        draw(PREMISES),
        amount(draw(st.integers(-(10**9), 10**9))),
        draw(PERIODS),
        draw(XML_TEXT),
        service_code=draw(XML_TEXT),
    )


@settings(max_examples=min(settings.default.max_examples, 100))
@given(st.lists(payment_records(), max_size=5))
def test_property_payments_round_trip(tmp_path_factory: Any, records: list[PaymentRecord]) -> None:
    path = tmp_path_factory.mktemp("p") / "p.xml"
    header = RegistryHeader(
        RegistryKind.PAYMENTS, partner_inn="7707083893", number=1, date=dt.date(2026, 11, 27)
    )
    f = fmt("1c-xml-payments")
    f.write(path, header, records)
    assert_valid(path)
    got, reader = read_all(f, path)
    assert got == records
    assert reader.report.valid


@settings(max_examples=min(settings.default.max_examples, 100))
@given(st.lists(debt_records(), max_size=5, unique_by=lambda r: (r.account, r.service)))
def test_property_debts_round_trip(tmp_path_factory: Any, records: list[DebtRecord]) -> None:
    path = tmp_path_factory.mktemp("d") / "d.xml"
    header = RegistryHeader(
        RegistryKind.DEBTS, partner_inn="7707083893", number=1, period=Period(2026, 11)
    )
    f = fmt("1c-xml-debts")
    f.write(path, header, records)
    assert_valid(path)
    got, _ = read_all(f, path)
    assert got == records
