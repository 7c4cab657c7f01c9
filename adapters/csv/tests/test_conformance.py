"""The conformance suite against every built-in CSV dialect, found as users find them.

Each dialect is fetched through the public plugin host by name (``format_name``), so these
tests also prove the adapter's entry point works. The dialects' own capabilities gate the
checks; what a dialect does not carry is declared here, with the reason.
"""

from __future__ import annotations

from importlib import resources

from pes_sdk_conformance.formats import FormatConformance

# A debt registry refuses two lines with the same (account, service), so its reader and
# writer keep one integer key per row by design (measured: about 165 bytes a row at peak,
# set growth included). Keeping records or lines would cost several times more.
DEBT_KEY_BYTES = 256


class TestPesDebts(FormatConformance):
    format_name = "pes-debts"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestPesPayments(FormatConformance):
    format_name = "pes-payments"
    timezone = None  # paid_at is written %Y-%m-%dT%H:%M:%S, local time without a zone


class TestSberDebts(FormatConformance):
    format_name = "sber-debts"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestSberPayments(FormatConformance):
    format_name = "sber-payments"
    timezone = None  # date dd.mm.yyyy and time hh-mm-ss, without a zone
    fields_not_carried = frozenset({"service"})  # the layout has no service column


def test_every_builtin_dialect_is_checked() -> None:
    shipped = {
        f.name.removesuffix(".toml")
        for f in resources.files("pes_sdk_csv").joinpath("dialects").iterdir()
        if f.name.endswith(".toml")
    }
    checked = {
        cls.format_name for cls in (TestPesDebts, TestPesPayments, TestSberDebts, TestSberPayments)
    }
    assert checked == shipped
