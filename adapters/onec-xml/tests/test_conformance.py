"""The conformance suite's format family against the three XML formats, found by name.

Meter readings use the suite's own golden readings, random readings and count-only control
totals (readings carry no money), like debts and payments use theirs.
"""

from __future__ import annotations

from pes_sdk_conformance.formats import FormatConformance


class TestOneCXmlDebts(FormatConformance):
    format_name = "1c-xml-debts"
    streaming_bytes_per_row = 256  # one hash per (account, service): the duplicate check


class TestOneCXmlPayments(FormatConformance):
    format_name = "1c-xml-payments"


class TestOneCXmlReadings(FormatConformance):
    format_name = "1c-xml-readings"
