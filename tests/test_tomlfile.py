"""Configuration TOML: exact numbers, and every way of failing a typed error with a line.

The cases below were found by fuzzing PARTNERS.toml and the runner configuration (issue
13); each was a traceback (InvalidOperation, RecursionError, Overflow) before.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pes_sdk.partners_file import PartnersFileError, parse_partners
from pes_sdk.tomlfile import MAX_NESTING, TomlError, loads


def test_floats_are_exact_decimals() -> None:
    assert loads("rate = 0.0136\nfee = 100.10\n", "x.toml") == {
        "rate": Decimal("0.0136"),
        "fee": Decimal("100.10"),
    }


@pytest.mark.parametrize(
    ("doc", "line", "reason"),
    [
        ("a = 1\nversion = 1e9999999999999999999\n", 2, "out of range"),
        ("a = 1\n\nscan_interval = nan\n", 3, "nan is not a number"),
        ("x = [1.0, -inf]\n", 1, "-inf is not a number"),
        ("a = 1\nx = " + "[" * 1000 + "]" * 1000 + "\n", 2, f"nested more than {MAX_NESTING}"),
        ("x = " + "{ a = " * 200 + "1" + " }" * 200 + "\n", 1, "nested more than"),
    ],
    ids=["huge-exponent", "nan", "inf-in-array", "deep-arrays", "deep-tables"],
)
def test_what_the_parser_cannot_take_is_a_typed_error_with_its_line(
    doc: str, line: int, reason: str
) -> None:
    with pytest.raises(TomlError) as caught:
        loads(doc, "runner.toml")
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"runner.toml: line {line}: ")


def test_a_syntax_error_keeps_tomllibs_line_and_column() -> None:
    with pytest.raises(TomlError, match=r"not valid TOML: .*line 2"):
        loads("a = 1\nb = = 2\n", "x.toml")


def test_real_nesting_is_fine() -> None:
    doc = "x = " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n[[partners]]\nfee = { a = 1 }\n"
    assert loads(doc, "x.toml")["partners"] == [{"fee": {"a": 1}}]


_TOMLISH = st.text(alphabet=st.sampled_from(list("[]{}=,.\"'\n #abc019eE+-_nainf")), max_size=300)


@given(doc=_TOMLISH)
def test_any_text_loads_or_is_a_typed_error(doc: str) -> None:
    with contextlib.suppress(TomlError):
        loads(doc, "fuzz.toml")


def test_a_rate_no_decimal_can_hold_names_its_key() -> None:
    doc = """
version = 1
[service]
name = "ООО «Энергосбыт-Платежи»"
inn = "7701012342"
kpp = "770101001"
bank = { bik = "044525225", account = "40702810500000001234", name = "Б", city = "г. Москва" }
[[partners]]
inn = "5003012349"
kpp = "500301001"
name = "ООО «УК Дом»"
bank = { bik = "044525974", account = "40702810200000005678", name = "Б", city = "г. Москва" }
fee = { plan = "percent", rate = "1e9999999%" }
"""
    with pytest.raises(PartnersFileError) as caught:
        parse_partners(doc)
    assert caught.value.problems == (
        "partners[0].fee.rate: a rate is a fraction in [0, 1), not '1e9999999%'",
    )


def test_partners_file_reports_the_line_of_a_bad_number() -> None:
    with pytest.raises(PartnersFileError) as caught:
        parse_partners("version = 1\nx = nan\n")
    assert caught.value.problems == ("line 2: nan is not a number (nan and inf are not accepted)",)
