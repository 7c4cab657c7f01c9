"""Hypothesis properties of the parsers issue 12 added: period forms and header blocks."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pes_sdk_csv.cells import PERIOD_FORMS, period_formatter, period_parser

from pes_sdk.errors import PesError
from pes_sdk.models import DebtRecord, RegistryHeader
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.plugins import get_host

FILE_SETTINGS = settings(
    max_examples=max(10, min(settings.default.max_examples // 4, 300)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_PERIODS = st.builds(Period, st.integers(1900, 9999), st.integers(1, 12))
_TWO_DIGIT_YEARS = st.builds(Period, st.integers(2000, 2099), st.integers(1, 12))


@given(st.sampled_from(sorted(PERIOD_FORMS)), _PERIODS, _TWO_DIGIT_YEARS)
def test_every_period_form_reads_what_it_writes(form: str, period: Period, short: Period) -> None:
    if form == "MMYY":
        period = short  # two digits of year: 2000-2099, as Sberbank's file names mean
    text = period_formatter(form)(period)
    assert period_parser(form)(text) == period


@given(
    st.sampled_from(sorted(PERIOD_FORMS)),
    st.one_of(
        st.text(max_size=10),
        st.from_regex(r"[0-9]{2}[.-]?[0-9]{2,4}", fullmatch=True),
        st.from_regex(r"[0-9]{4}-[0-9]{2}", fullmatch=True),
    ),
)
def test_a_period_cell_is_its_form_exactly_or_a_value_error(form: str, text: str) -> None:
    """Any text: a period whose form is that very text, or ValueError (never another)."""
    try:
        period = period_parser(form)(text)
    except ValueError:
        return
    assert period_formatter(form)(period) == text


_TEXT = st.text(
    st.characters(codec="cp1251", categories=("L", "N", "Zs"), exclude_characters="\xa0"),
    max_size=20,
).map(str.strip)


def _gorod_records(accounts: list[int], cents: list[int]) -> list[DebtRecord]:
    return [
        DebtRecord(f"00-{a:06d}", None, "", Decimal(c).scaleb(-2), service="Водоснабжение")
        for a, c in zip(sorted(set(accounts)), cents, strict=False)
    ]


@FILE_SETTINGS
@given(
    st.lists(st.integers(0, 999_999), max_size=20),
    st.lists(st.integers(-(10**9), 10**11), min_size=20, max_size=20),
    st.from_regex(r"[0-9]{1,3}", fullmatch=True),
    st.from_regex(r"[0-9A-Za-z]{0,12}", fullmatch=True),
)
def test_header_block_facts_round_trip(
    accounts: list[int], cents: list[int], type_: str, service: str
) -> None:
    fmt = get_host().format("gorod-debts")
    records = _gorod_records(accounts, cents)
    header = RegistryHeader(fmt.kind, extra=(("type", type_), ("service", service)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.txt"
        fmt.write(path, header, records)
        with fmt.open(path) as reader:
            assert list(reader) == records
        got = reader.report.header
    assert got.extra == (("type", type_), ("service", service))
    assert got.control is not None
    assert got.control.sums == {"amount": sum((r.amount for r in records), ZERO)}


@FILE_SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["#FILESUM", "#TYPE", "#SERVICE", "#", "#FILESUM#", "#X", "FILESUM"]),
            st.sampled_from([" ", "", "  ", "\t"]),
            st.one_of(st.from_regex(r"-?[0-9]{1,16}([.,][0-9]{1,3})?", fullmatch=True), _TEXT),
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_any_header_block_is_read_or_refused_with_a_typed_error(
    lines: list[tuple[str, str, str]], with_row: bool
) -> None:
    """Random header lines (repeated, missing, malformed keys and values) give a read whose
    control sum matched, or a PesError naming a line, never another exception."""
    fmt = get_host().format("gorod-debts")
    body = [f"{k}{sep}{v}" for k, sep, v in lines]
    if with_row:
        body.append(";Поспелиха,Мира,3,;00-000078;350.00;Водоотведение")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.txt"
        path.write_bytes("".join(b + "\r\n" for b in body).encode("cp1251"))
        try:
            with fmt.open(path) as reader:
                records = list(reader)
        except PesError:
            return
    control = reader.report.header.control
    assert control is not None  # #FILESUM is required and was read
    assert control.sums["amount"] == sum((r.amount for r in records), ZERO)
