"""The conformance suite's format family against the three XML formats, found by name.

Meter readings use the suite's own golden readings, random readings and count-only control
totals (readings carry no money), like debts and payments use theirs.
"""

from __future__ import annotations

from typing import ClassVar

from pes_sdk_conformance.formats import FormatConformance

# Errors name the XML attribute (docs/1c-xml.md), not the record field.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "house_id": ("houseId",),
    "taken_on": ("takenOn",),
    "values": ("t1", "t2", "t3"),
}


class TestOneCXmlDebts(FormatConformance):
    format_name = "1c-xml-debts"
    streaming_bytes_per_row = 256  # one hash per (account, service): the duplicate check
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = ATTRIBUTES
    # DebtRegistry carries its period, not a date (docs/1c-xml.md, the root element).
    header_facts_not_carried = frozenset({"date"})


class TestOneCXmlPayments(FormatConformance):
    format_name = "1c-xml-payments"
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = ATTRIBUTES
    # PaymentRegistry carries the day of its payments, not a period (docs/1c-xml.md).
    header_facts_not_carried = frozenset({"period"})


class TestOneCXmlReadings(FormatConformance):
    format_name = "1c-xml-readings"
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = ATTRIBUTES
