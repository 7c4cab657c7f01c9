"""The billing period: parsing and formatting ISO, MMYYYY and MMYY; ordering; bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pes_sdk.period import Period

periods = st.builds(
    Period, st.integers(min_value=1900, max_value=9999), st.integers(min_value=1, max_value=12)
)

# Properties beyond the ones issue 2 asks 10,000 examples of: at most 2,000 even in CI.
MEDIUM = settings(max_examples=min(settings.default.max_examples, 2000))


def test_formats() -> None:
    p = Period(2026, 1)
    assert str(p) == "2026-01"
    assert p.format_mmyyyy() == "012026"
    assert p.format_mmyy() == "0126"
    assert p.first_day == dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("method", "text", "expected"),
    [
        (Period.parse, "2026-11", Period(2026, 11)),
        (Period.parse, "1900-01", Period(1900, 1)),
        (Period.parse_mmyyyy, "112026", Period(2026, 11)),
        (Period.parse_mmyyyy, "012025", Period(2025, 1)),
        (Period.parse_mmyy, "1126", Period(2026, 11)),
        (Period.parse_mmyy, "0100", Period(2000, 1)),
    ],
)
def test_parse(method: object, text: str, expected: Period) -> None:
    assert method(text) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("method", "text"),
    [
        (Period.parse, "2026-13"),
        (Period.parse, "2026-00"),
        (Period.parse, "2026-1"),
        (Period.parse, "2026/11"),
        (Period.parse, "26-11"),
        (Period.parse, " 2026-11"),
        (Period.parse, "2026-11-01"),
        (Period.parse, ""),
        (Period.parse, "1899-12"),
        (Period.parse, "２０２６-11"),  # fullwidth digits
        (Period.parse_mmyyyy, "132026"),
        (Period.parse_mmyyyy, "002026"),
        (Period.parse_mmyyyy, "12026"),
        (Period.parse_mmyyyy, "11.2026"),
        (Period.parse_mmyyyy, "١١٢٠٢٦"),  # Arabic-Indic digits
        (Period.parse_mmyy, "1326"),
        (Period.parse_mmyy, "126"),
        (Period.parse_mmyy, "11-26"),
    ],
)
def test_parse_refuses_bad_text(method: object, text: str) -> None:
    with pytest.raises(ValueError):
        method(text)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("year", "month"), [(2026, 0), (2026, 13), (1899, 12), (10000, 1), (True, 1), (2026, "1")]
)
def test_bad_fields_are_refused(year: object, month: object) -> None:
    with pytest.raises(ValueError):
        Period(year, month)  # type: ignore[arg-type]


def test_ordering_and_next() -> None:
    assert Period(2025, 12) < Period(2026, 1) < Period(2026, 2)
    assert sorted([Period(2026, 3), Period(2025, 12), Period(2026, 1)]) == [
        Period(2025, 12),
        Period(2026, 1),
        Period(2026, 3),
    ]
    assert Period(2025, 12).next() == Period(2026, 1)
    assert Period(2026, 1).next() == Period(2026, 2)
    assert Period.of(dt.date(2026, 11, 27)) == Period(2026, 11)
    assert hash(Period(2026, 1)) == hash(Period.parse("2026-01"))


def test_every_period_round_trips() -> None:
    # All 97,200 periods the model allows: exhaustive beats sampling here, and is cheaper
    # than 10,000 hypothesis examples of so small a space.
    for year in range(1900, 10000):
        for month in range(1, 13):
            p = Period(year, month)
            assert Period.parse(str(p)) == p
            assert Period.parse_mmyyyy(p.format_mmyyyy()) == p
            if 2000 <= year <= 2099:  # a two-digit year means the 2000s
                assert Period.parse_mmyy(p.format_mmyy()) == p


@MEDIUM
@given(periods, periods)
def test_order_is_by_text(a: Period, b: Period) -> None:
    # ISO text sorts like the periods themselves.
    assert (a < b) == (str(a) < str(b))
    if a.year < 9999 or a.month < 12:
        assert a < a.next()


@given(st.text(max_size=10))
def test_parsers_on_any_text_return_a_period_or_value_error(text: str) -> None:
    for parse in (Period.parse, Period.parse_mmyyyy, Period.parse_mmyy):
        try:
            p = parse(text)
        except ValueError:
            continue
        assert isinstance(p, Period)
        assert text in (str(p), p.format_mmyyyy(), p.format_mmyy())
