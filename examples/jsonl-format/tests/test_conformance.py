"""The example format passes the pes-sdk conformance suite.

That is all a format author writes: a subclass of the family's base class that says which
format to check. The format is found by name through the plugin host, exactly as users
find it, so this also proves the entry point in ``pyproject.toml`` works. The format's own
capabilities decide which checks apply: ``escapes_formulas`` is False (spreadsheets do
not open JSON Lines), so the formula check is skipped with that reason.
"""

from __future__ import annotations

from pes_sdk_conformance.formats import FormatConformance


class TestExampleJsonl(FormatConformance):
    format_name = "example-jsonl-debts"
    # A debt registry refuses two lines with the same (account, service), so the reader
    # keeps a compact key per row by design (measured: about 33 bytes a row). Declaring it
    # keeps the streaming check exact: anything that keeps records or lines costs far more.
    streaming_bytes_per_row = 64
    # The header object holds the partner's ИНН, the period and the number; no date.
    header_facts_not_carried = frozenset({"date"})
