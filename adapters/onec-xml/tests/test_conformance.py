"""The conformance suite's format family against the three XML formats, found by name.

The suite ships golden records for debts and payments; for meter readings this module gives
its own (``sample_set``, ``record_strategy``), as the suite asks authors of other kinds to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from pes_sdk_conformance import records as samples
from pes_sdk_conformance.formats import FormatConformance

from pes_sdk.formats.base import Record, RegistryFormat
from pes_sdk.models import (
    ControlTotals,
    MeterReading,
    MeterType,
    Photo,
    RegistryHeader,
    RegistryKind,
)
from pes_sdk.period import Period

HOUSE = "6961b2bd-e4ab-3ef2-30b1-877a121939cd"


class TestOneCXmlDebts(FormatConformance):
    format_name = "1c-xml-debts"
    streaming_bytes_per_row = 256  # one hash per (account, service): the duplicate check


class TestOneCXmlPayments(FormatConformance):
    format_name = "1c-xml-payments"


# The suite's control_totals() sums ``amount`` for any kind without an entry in
# MONEY_FIELDS, and readings have none and no amount: these checks cannot run on readings
# until the suite learns the kind (reported). Readings' count-only totals, streaming and
# atomic writing are covered by this adapter's own tests meanwhile.
_NO_MONEY = "conformance suite sums 'amount' for every kind; readings carry no money"


class TestOneCXmlReadings(FormatConformance):
    format_name = "1c-xml-readings"

    def test_round_trip_money_to_the_kopeck(self) -> None:  # type: ignore[override]
        pytest.skip(_NO_MONEY)

    def test_control_totals_are_written(self) -> None:  # type: ignore[override]
        pytest.skip(_NO_MONEY)

    def test_tampered_control_total_is_refused(self) -> None:  # type: ignore[override]
        pytest.skip(_NO_MONEY)

    def test_streaming_write_in_bounded_memory(self) -> None:  # type: ignore[override]
        pytest.skip(_NO_MONEY)

    def test_streaming_read_in_bounded_memory(self) -> None:  # type: ignore[override]
        pytest.skip(_NO_MONEY)

    def test_failed_write_leaves_no_partial_file(self) -> None:  # type: ignore[override]
        pytest.skip(_NO_MONEY)

    def sample_set(self, fmt: RegistryFormat) -> samples.SampleSet:
        records = (
            MeterReading(
                "000123",
                "Э-0001",
                MeterType.ELECTRICITY_DAY,
                (Decimal("12345.678"), Decimal("0.100"), Decimal("7")),
                dt.date(2026, 11, 20),
                HOUSE,
                "Электроэнергия",
            ),
            MeterReading(
                "0042-ХВС",
                "ХВС-17",
                MeterType.COLD_WATER,
                (Decimal("12.5"),),
                dt.date(2026, 11, 21),
                "0c5b2444-70a0-4932-980c-b4dc0d3f02b5",
                photo=Photo("ab" * 32),
            ),
            MeterReading(
                "000125",
                "G1",
                MeterType.GAS,
                (Decimal("1.00000001"),),
                dt.date(2026, 11, 22),
                None,
                "Газ",
            ),
        )
        return samples.SampleSet(RegistryKind.READINGS, records, "0042-ХВС")

    def header_for(self, fmt: RegistryFormat, records: Iterable[Record]) -> RegistryHeader:
        # The suite's default header sums ``amount``, which readings do not have.
        count = sum(1 for _ in records)
        return RegistryHeader(
            RegistryKind.READINGS,
            partner_inn=samples.SAMPLE_INN,
            partner_account=samples.SAMPLE_PARTNER_ACCOUNT,
            period=Period(2026, 11),
            number=1,
            date=dt.date(2026, 11, 27),
            created_at=dt.datetime(2026, 11, 27, 23, 0, tzinfo=samples.MSK),
            control=ControlTotals(count, {}),
        )

    def record_strategy(self, fmt: RegistryFormat) -> st.SearchStrategy[list[MeterReading]]:
        values = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False)
        reading = st.builds(
            MeterReading,
            account=st.from_regex(r"[0-9]{1,12}", fullmatch=True),
            meter_number=st.from_regex(r"[0-9A-ZА-Я\-]{1,12}", fullmatch=True),
            meter_type=st.sampled_from(list(MeterType)),
            values=st.lists(values, min_size=1, max_size=3).map(tuple),
            taken_on=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
            house_id=st.none() | st.uuids().map(str),
            service=st.sampled_from(["", "ХВС", "Электроэнергия"]),
            photo=st.none() | st.builds(Photo, st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
        )
        return st.lists(reading, max_size=6)
