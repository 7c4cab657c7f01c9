"""The conformance suite against every built-in CSV dialect, found as users find them.

Each dialect is fetched through the public plugin host by name (``format_name``), so these
tests also prove the adapter's entry point works. The dialects' own capabilities gate the
checks; what a dialect does not carry is declared here, with the reason.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from pes_sdk_conformance import records as samples
from pes_sdk_conformance.formats import FormatConformance

from pes_sdk.formats import Record, RegistryFormat
from pes_sdk.formats.text import judge_encoding, read_sample
from pes_sdk.models import DebtRecord, RegistryHeader

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


def _reads_as_its_encoding(fmt: RegistryFormat, records: list[Record]) -> bool:
    """Whether the file ``fmt`` writes of ``records`` passes the reader's encoding rule."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.txt"
        try:
            fmt.write(path, RegistryHeader(fmt.kind), records)
        except Exception:
            return True  # not this filter's business: the round trip will say what is wrong
        return judge_encoding(read_sample(path), fmt.capabilities.encodings[0]) is None


class _PlausibleText:
    """Random records whose text a one-byte dialect's reader takes as its encoding.

    The suite draws text from random Cyrillic letters and ASCII; a one-byte reader refuses
    a file whose text reads better in another encoding (issue 11, pes_sdk.formats.text),
    and random letters rarely (a few files in 10,000, docs/performance.md) do. Those
    examples are left out here; the rule itself is tested in tests/test_formats_text.py
    and adapters/csv/tests/test_encoding.py.
    """

    def record_strategy(self, fmt: RegistryFormat) -> st.SearchStrategy[list[Record]]:
        strategy: Any = super().record_strategy(fmt)  # type: ignore[misc]
        return strategy.filter(lambda records: _reads_as_its_encoding(fmt, records))


class TestSberDebts(_PlausibleText, FormatConformance):
    format_name = "sber-debts"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestSberPayments(_PlausibleText, FormatConformance):
    format_name = "sber-payments"
    timezone = None  # date dd.mm.yyyy and time hh-mm-ss, without a zone


class TestExcelDebts(FormatConformance):
    format_name = "excel-debts"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestExcelDebtsCp1251(_PlausibleText, FormatConformance):
    format_name = "excel-debts-cp1251"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestExcelPayments(FormatConformance):
    format_name = "excel-payments"
    timezone = None  # ДД.ММ.ГГГГ ЧЧ:ММ:СС, local time without a zone


class TestExcelPaymentsCp1251(_PlausibleText, FormatConformance):
    format_name = "excel-payments-cp1251"
    timezone = None


class _Partial:
    """A layout that carries only some of a debt's place: no house GUID (an address as
    text, or nothing: found by account), no premises, no period or service. The model's
    ``house_id`` and ``premises`` have no defaults, so the suite's ``strip_fields`` cannot
    clear them: the samples are cleared here (``cleared``), other fields by the suite.
    Put it after ``_PlausibleText`` in the bases (its filter then sees cleared records)."""

    cleared: ClassVar[frozenset[str]] = frozenset({"house_id", "premises"})

    def clear(self, record: Record) -> Record:
        assert isinstance(record, DebtRecord)
        changes: dict[str, Any] = {"house_id": None} if "house_id" in self.cleared else {}
        if "premises" in self.cleared:
            changes["premises"] = ""
        return attrs.evolve(record, **changes)

    def not_carried(self, fmt: RegistryFormat) -> frozenset[str]:
        return self.strippable(fmt) | self.cleared

    def strippable(self, fmt: RegistryFormat) -> frozenset[str]:
        return super().not_carried(fmt)  # type: ignore[misc, no-any-return]

    def sample_set(self, fmt: RegistryFormat) -> samples.SampleSet:
        gold = samples.golden(fmt.kind)
        strip = self.strippable(fmt)
        records = tuple(samples.strip_fields(self.clear(r), strip) for r in gold.records)
        return samples.SampleSet(gold.kind, records, gold.target)

    def record_strategy(self, fmt: RegistryFormat) -> st.SearchStrategy[list[Record]]:
        strategy = samples.record_strategy(fmt.kind, not_carried=self.strippable(fmt))
        return strategy.map(lambda records: [self.clear(r) for r in records])

    def formula_records(self, fmt: RegistryFormat) -> list[Record]:
        return [self.clear(r) for r in super().formula_records(fmt)]  # type: ignore[misc]


class TestSberLsFioSum(_PlausibleText, _Partial, FormatConformance):
    """ЛС;ФИО;сумма: the period is in the file name only."""

    format_name = "sber-ls-fio-sum"
    fields_not_carried = frozenset({"period", "service"})
    streaming_bytes_per_row = DEBT_KEY_BYTES
    streaming_rows = 48_000  # rows of ~20 bytes: the larger file must outgrow the margin


class TestSberLsFioAddress(_PlausibleText, _Partial, FormatConformance):
    format_name = "sber-ls-fio-address"
    streaming_bytes_per_row = DEBT_KEY_BYTES
    streaming_rows = 24_000  # short rows: the larger file must outgrow the margin


class TestGorodDebts(_PlausibleText, _Partial, FormatConformance):
    format_name = "gorod-debts"
    fields_not_carried = frozenset({"period"})
    streaming_bytes_per_row = DEBT_KEY_BYTES
    streaming_rows = 24_000  # short rows: the larger file must outgrow the margin


class TestSberElsGuid(_PlausibleText, FormatConformance):
    format_name = "sber-els-guid"
    streaming_bytes_per_row = DEBT_KEY_BYTES


def test_every_builtin_dialect_is_checked() -> None:
    shipped = {
        f.name.removesuffix(".toml")
        for f in resources.files("pes_sdk_csv").joinpath("dialects").iterdir()
        if f.name.endswith(".toml")
    }
    checked = {
        cls.format_name
        for cls in (
            TestPesDebts, TestPesPayments, TestSberDebts, TestSberPayments, TestSberLsFioSum,
            TestSberLsFioAddress, TestGorodDebts, TestSberElsGuid, TestExcelDebts,
            TestExcelDebtsCp1251, TestExcelPayments, TestExcelPaymentsCp1251,
        )
    }  # fmt: skip
    assert checked == shipped
