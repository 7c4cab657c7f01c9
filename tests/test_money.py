"""Money: amounts, the one rounding rule, kopecks, and allocation by largest remainder."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pes_sdk.money import (
    CENT,
    ROUNDING,
    ZERO,
    allocate,
    amount,
    from_kopecks,
    parse_amount,
    round_money,
    to_kopecks,
)

D = Decimal

kopecks = st.integers(min_value=-(10**15), max_value=10**15)
money = kopecks.map(lambda k: D(k).scaleb(-2))
positive_money = st.integers(min_value=1, max_value=10**11).map(lambda k: D(k).scaleb(-2))
weight = st.integers(min_value=0, max_value=10**9).map(lambda k: D(k).scaleb(-2))

# Properties beyond the ones issue 2 asks 10,000 examples of: at most 2,000 even in CI.
MEDIUM = settings(max_examples=min(settings.default.max_examples, 2000))


def two_places(d: Decimal) -> bool:
    return d.as_tuple().exponent == -2


# -- amount() --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0.1, 1.0, 10.5, float("nan"), float("inf"), -0.0])
def test_amount_refuses_float(bad: float) -> None:
    with pytest.raises(TypeError, match="float"):
        amount(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, False])
def test_amount_refuses_bool(bad: bool) -> None:
    # bool is an int subclass: without the explicit check True would be 1.00 rouble.
    with pytest.raises(TypeError, match="bool"):
        amount(bad)


@pytest.mark.parametrize("bad", [None, [1], b"1.00", Fraction(1, 2)])
def test_amount_refuses_other_types(bad: object) -> None:
    with pytest.raises(TypeError):
        amount(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [D("1.005"), D("0.001"), D("-12.345"), "1.005", "0.001"])
def test_amount_refuses_three_decimals(bad: Decimal | str) -> None:
    # A given value is never rounded silently.
    with pytest.raises(ValueError):
        amount(bad)


@pytest.mark.parametrize(
    "bad", ["1,50", "1e5", " 1.00", "1.00 ", "", "+1", "NaN", "1 000.00", "1_000", "١٢"]
)
def test_amount_refuses_bad_text(bad: str) -> None:
    # A decimal comma is accepted only where a file is parsed (parse_amount), not here.
    with pytest.raises(ValueError):
        amount(bad)


@pytest.mark.parametrize("bad", [D("NaN"), D("Infinity"), D("-Infinity"), D("sNaN")])
def test_amount_refuses_non_finite(bad: Decimal) -> None:
    with pytest.raises(ValueError):
        amount(bad)


@pytest.mark.parametrize("huge", [10**30, D(10) ** 40, -(10**28)])
def test_amount_out_of_range_is_a_value_error(huge: int | Decimal) -> None:
    with pytest.raises(ValueError):
        amount(huge)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (D("5"), "5.00"),
        (D("1.5"), "1.50"),
        (D("1272.26"), "1272.26"),
        (D("-0.1"), "-0.10"),
        (7, "7.00"),
        (0, "0.00"),
        (-3, "-3.00"),
        ("1272.26", "1272.26"),
        ("1272.2", "1272.20"),
        ("-5", "-5.00"),
        (D("1.500"), "1.50"),  # trailing zeros are not a third decimal
    ],
)
def test_amount_quantizes_to_two_places(given: Decimal | int | str, expected: str) -> None:
    got = amount(given)
    assert str(got) == expected
    assert two_places(got)


@given(money)
def test_amount_of_any_kopeck_value_is_itself_with_two_places(d: Decimal) -> None:
    assert amount(d) == d
    assert two_places(amount(d))
    assert amount(str(d)) == d


# -- parse_amount() --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1272,26", "1272.26"),
        ("1272.26", "1272.26"),
        ("-5", "-5.00"),
        ("5,5", "5.50"),
        ("0,01", "0.01"),
        ("-0,5", "-0.50"),
        ("000123,40", "123.40"),
    ],
)
def test_parse_amount_comma_or_dot(text: str, expected: str) -> None:
    got = parse_amount(text)
    assert str(got) == expected


def test_parse_amount_dot_only_refuses_comma() -> None:
    assert parse_amount("1.50", decimal_comma=False) == D("1.50")
    with pytest.raises(ValueError, match="1,50"):
        parse_amount("1,50", decimal_comma=False)


@pytest.mark.parametrize(
    "bad",
    ["", " ", "1,234.56", "1 000,00", "1.234", "1,234", "abc", "1e3", "--1", "1.", ",5", "∞"],
)
def test_parse_amount_refuses_bad_text_naming_it(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_amount(bad)
    assert repr(bad) in str(info.value)


@given(money, st.sampled_from([",", "."]))
def test_parse_amount_reads_back_what_is_written(d: Decimal, sep: str) -> None:
    text = str(d).replace(".", sep)
    assert parse_amount(text) == d
    assert two_places(parse_amount(text))


@given(st.text(max_size=30))
@example("1,5")
@example("1.5.5")
@example("٣")  # a non-ASCII digit: \d in Python matches it, Decimal parses it
def test_parse_amount_on_any_text_returns_an_amount_or_value_error(text: str) -> None:
    try:
        got = parse_amount(text)
    except ValueError:
        return
    assert isinstance(got, Decimal)
    assert two_places(got)
    assert got.is_finite()


# -- round_money(): half-up, defined once ----------------------------------------------


def test_rounding_rule_is_half_up() -> None:
    assert ROUNDING == ROUND_HALF_UP
    assert D("0.01") == CENT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("2.675", "2.68"),  # a float 2.675 is 2.67499...: Decimal keeps it exact
        ("-0.005", "-0.01"),  # half away from zero, symmetric
        ("0.025", "0.03"),  # banker's rounding would give 0.02
        ("0.015", "0.02"),
        ("0.0049999", "0.00"),
        ("1.999", "2.00"),
        ("-2.675", "-2.68"),
        ("10", "10.00"),
    ],
)
def test_round_money_known_answers(value: str, expected: str) -> None:
    got = round_money(D(value))
    assert str(got) == expected


def test_round_money_refuses_float() -> None:
    with pytest.raises(TypeError):
        round_money(2.675)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=0, max_value=3))
def test_round_money_is_nearest_kopeck_half_up(mills: int, extra: int) -> None:
    value = D(mills).scaleb(-3 - extra)
    got = round_money(value)
    assert two_places(got)
    assert abs(got - value) <= D("0.005")
    assert round_money(-value) == -got
    # Half-up, written independently of decimal's rounding modes.
    scaled = Fraction(abs(value)) * 100
    nearest = int(scaled + Fraction(1, 2))
    assert abs(got) == D(nearest).scaleb(-2)


# -- kopecks ---------------------------------------------------------------------------


def test_kopecks_known_answers() -> None:
    assert to_kopecks(D("1272.26")) == 127226
    assert to_kopecks(D("-0.01")) == -1
    assert to_kopecks(D("0")) == 0
    assert from_kopecks(127226) == D("1272.26")
    assert str(from_kopecks(5)) == "0.05"
    assert str(from_kopecks(-100)) == "-1.00"


def test_kopecks_refuse_bad_types() -> None:
    with pytest.raises(TypeError):
        from_kopecks(True)
    with pytest.raises(TypeError):
        from_kopecks(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        to_kopecks(D("1.001"))
    with pytest.raises(TypeError):
        to_kopecks(1.5)  # type: ignore[arg-type]


@MEDIUM
@given(kopecks)
def test_kopecks_round_trip(k: int) -> None:
    d = from_kopecks(k)
    assert two_places(d)
    assert to_kopecks(d) == k
    assert from_kopecks(to_kopecks(d)) == d


# -- allocate(): largest remainder -----------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        # 1.00 over three equal weights: 33.33… kopecks each, floor 33 + 33 + 33 = 99,
        # the one kopeck left goes to the first (a tie, the earlier share wins).
        ("1.00", ["1.00", "1.00", "1.00"], ["0.34", "0.33", "0.33"]),
        # 0.01 over two equal weights: floor 0 + 0, the kopeck goes to the first.
        ("0.01", ["5.00", "5.00"], ["0.01", "0.00"]),
        # 0.10 over 1 : 2 : 7 splits exactly.
        ("0.10", ["1.00", "2.00", "7.00"], ["0.01", "0.02", "0.07"]),
        # 1.36 over 100.00 and 0.50: exact 1.3532… and 0.0067…; floors 135 + 0 = 135,
        # the remainders are 32/100.5 vs 67/100.5 kopecks, so the second gets the kopeck.
        ("1.36", ["100.00", "0.50"], ["1.35", "0.01"]),
        # A zero weight gets nothing, even with kopecks left over.
        ("0.05", ["0.00", "1.00", "1.00", "0.00"], ["0.00", "0.03", "0.02", "0.00"]),
        # A negative total is split the same way, with the sign.
        ("-1.00", ["1.00", "1.00", "1.00"], ["-0.34", "-0.33", "-0.33"]),
        ("0.00", ["0.00", "0.00"], ["0.00", "0.00"]),
        ("0.00", [], []),
    ],
)
def test_allocate_known_answers(total: str, weights: list[str], expected: list[str]) -> None:
    got = allocate(D(total), [D(w) for w in weights])
    assert [str(s) for s in got] == expected


@pytest.mark.parametrize(
    ("total", "weights"),
    [
        ("1.00", ["1.00"] * 3),  # naive: 0.33 × 3 = 0.99
        ("2.00", ["1.00"] * 3),  # naive: 0.67 × 3 = 2.01
        ("0.05", ["1.00"] * 2),  # naive: 0.03 + 0.03 = 0.06 (half-up on 0.025)
        ("10.00", ["1.00"] * 7),  # naive: 1.43 × 7 = 10.01
    ],
)
def test_allocate_differs_from_naive_rounding_and_stays_exact(
    total: str, weights: list[str]
) -> None:
    t = D(total)
    ws = [D(w) for w in weights]
    whole = sum(ws, ZERO)
    naive = [round_money(t * w / whole) for w in ws]
    assert sum(naive, ZERO) != t  # rounding each share on its own loses or invents kopecks
    shares = allocate(t, ws)
    assert sum(shares, ZERO) == t
    assert shares != naive


@given(money, st.lists(weight, min_size=1, max_size=30))
@example(D("1.00"), [D("1.00")] * 3)
@example(D("-0.01"), [D("0.00"), D("0.01")])
def test_allocate_properties(total: Decimal, weights: list[Decimal]) -> None:
    whole = sum(weights, ZERO)
    if whole == 0:
        if total != 0:
            with pytest.raises(ValueError):
                allocate(total, weights)
            return
        assert allocate(total, weights) == [ZERO] * len(weights)
        return
    shares = allocate(total, weights)
    assert len(shares) == len(weights)
    # 1. the shares sum exactly to the total
    assert sum(shares, ZERO) == total
    for share, w in zip(shares, weights, strict=True):
        assert two_places(share)
        # 2. each share is within one kopeck of its exact proportional share
        exact = Fraction(total) * Fraction(w) / Fraction(whole)
        assert abs(Fraction(share) - exact) < Fraction(1, 100)
        # 3. a zero weight gets a zero share
        if w == 0:
            assert share == 0
    # 4. deterministic
    assert allocate(total, list(weights)) == shares


@MEDIUM
@given(money, st.lists(weight, min_size=1, max_size=30))
def test_allocate_naive_rounding_differs_only_when_it_is_wrong(
    total: Decimal, weights: list[Decimal]
) -> None:
    """Where half-up rounding of each share already sums to the total, both may agree;
    where it does not, largest remainder must differ from it and still be exact."""
    whole = sum(weights, ZERO)
    if whole == 0:
        return
    naive = [round_money(total * w / whole) for w in weights]
    shares = allocate(total, weights)
    if sum(naive, ZERO) != total:
        assert shares != naive
    assert sum(shares, ZERO) == total


def test_allocate_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="negative"):
        allocate(D("1.00"), [D("1.00"), D("-1.00")])
    with pytest.raises(ValueError):
        allocate(D("1.00"), [])
    with pytest.raises(ValueError):
        allocate(D("1.00"), [ZERO, ZERO])
    with pytest.raises(ValueError):
        allocate(D("1.001"), [D("1.00")])
    with pytest.raises(TypeError):
        allocate(D("1.00"), [1.0])  # type: ignore[list-item]
