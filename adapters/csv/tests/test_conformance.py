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


class _Csv(FormatConformance):
    """What every dialect shares: errors name a field by its column's title (``Сумма``),
    and a debt dialect's files carry a period but no date, a payment dialect's the day
    of its payments but no period (their file names, docs/dialects.md)."""

    def field_names(self, fmt: RegistryFormat, field: str) -> set[str]:
        columns = fmt.dialect.columns  # type: ignore[attr-defined]
        return super().field_names(fmt, field) | {c.name for c in columns if c.field == field}


class _Debts(_Csv):
    header_facts_not_carried = frozenset({"date"})


class _Payments(_Csv):
    header_facts_not_carried = frozenset({"period"})


#: Dialects without a file name convention: no header fact has a place in their files.
NO_HEADER_FACTS = frozenset({"partner_inn", "period", "number", "date"})


class TestPesDebts(_Debts):
    format_name = "pes-debts"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestPesPayments(_Payments):
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


class TestSberDebts(_PlausibleText, _Debts):
    format_name = "sber-debts"
    footer_optional = True  # sber-debts.toml: [footer] required = false
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestSberPayments(_PlausibleText, _Payments):
    format_name = "sber-payments"
    header_facts_not_carried = NO_HEADER_FACTS
    timezone = None  # date dd.mm.yyyy and time hh-mm-ss, without a zone


class TestExcelDebts(_Debts):
    format_name = "excel-debts"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestExcelDebtsCp1251(_PlausibleText, _Debts):
    format_name = "excel-debts-cp1251"
    streaming_bytes_per_row = DEBT_KEY_BYTES


class TestExcelPayments(_Payments):
    format_name = "excel-payments"
    timezone = None  # ДД.ММ.ГГГГ ЧЧ:ММ:СС, local time without a zone


class TestExcelPaymentsCp1251(_PlausibleText, _Payments):
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
        records = [samples.strip_fields(self.clear(r), strip) for r in gold.records]
        distinct = samples.distinct_keys(fmt.kind, records)  # a service not carried is ""
        return samples.SampleSet(gold.kind, tuple(distinct), gold.target)

    def record_strategy(self, fmt: RegistryFormat) -> st.SearchStrategy[list[Record]]:
        strategy = samples.record_strategy(fmt.kind, not_carried=self.strippable(fmt))
        return strategy.map(lambda records: [self.clear(r) for r in records])

    def formula_records(self, fmt: RegistryFormat) -> list[Record]:
        return [self.clear(r) for r in super().formula_records(fmt)]  # type: ignore[misc]


class TestSberLsFioSum(_PlausibleText, _Partial, _Debts):
    """ЛС;ФИО;сумма: the period is in the file name only."""

    format_name = "sber-ls-fio-sum"
    footer_optional = True  # sber-ls-fio-sum.toml: [footer] required = false
    fields_not_carried = frozenset({"period", "service"})
    streaming_bytes_per_row = DEBT_KEY_BYTES
    streaming_rows = 48_000  # rows of ~20 bytes: the larger file must outgrow the margin


class TestSberLsFioAddress(_PlausibleText, _Partial, _Debts):
    format_name = "sber-ls-fio-address"
    footer_optional = True  # sber-ls-fio-address.toml: [footer] required = false
    streaming_bytes_per_row = DEBT_KEY_BYTES
    streaming_rows = 24_000  # short rows: the larger file must outgrow the margin


class TestGorodDebts(_PlausibleText, _Partial, _Debts):
    format_name = "gorod-debts"
    header_facts_not_carried = NO_HEADER_FACTS
    fields_not_carried = frozenset({"period"})
    streaming_bytes_per_row = DEBT_KEY_BYTES
    streaming_rows = 24_000  # short rows: the larger file must outgrow the margin


class TestSberElsGuid(_PlausibleText, _Debts):
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
