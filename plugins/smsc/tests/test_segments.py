"""Segment arithmetic: how many SMS a text takes, checked by examples and by properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pes_sdk_smsc import segments

CYRILLIC = st.characters(min_codepoint=0x0410, max_codepoint=0x044F)  # А..я
GSM_BASIC = st.sampled_from(sorted(segments.GSM7_BASIC))
ANY = st.characters(codec="utf-8", exclude_categories=("Cs",))


@pytest.mark.parametrize(
    ("text", "parts", "encoding"),
    [
        ("", 0, "gsm7"),
        ("Код для входа: 4821", 1, "ucs2"),
        ("я" * 70, 1, "ucs2"),
        ("я" * 71, 2, "ucs2"),
        ("я" * 134, 2, "ucs2"),
        ("я" * 135, 3, "ucs2"),
        ("a" * 160, 1, "gsm7"),
        ("a" * 161, 2, "gsm7"),
        ("a" * 306, 2, "gsm7"),
        ("a" * 307, 3, "gsm7"),
        ("€" * 80, 1, "gsm7"),  # 160 septets: the extension table takes two each
        ("€" * 81, 2, "gsm7"),  # 162 septets; 76 per part, an escape never split
        ("a" * 159 + "№", 3, "ucs2"),  # № is not in the GSM alphabet: all of it is UCS-2
        ("😀" * 35, 1, "ucs2"),  # 70 UTF-16 units
        ("😀" * 36, 2, "ucs2"),  # 33 pairs per part, a pair never split
        ("😀" * 67, 3, "ucs2"),
    ],
)
def test_examples(text: str, parts: int, encoding: str) -> None:
    size = segments.count(text)
    assert (size.parts, size.encoding) == (parts, encoding)


@given(st.text(CYRILLIC, max_size=1000))
def test_cyrillic_is_70_then_67_per_part(text: str) -> None:
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 70 else math.ceil(n / 67)
    size = segments.count(text)
    assert (size.parts, size.units) == (expected, n)
    assert size.encoding == ("ucs2" if n else "gsm7")


@given(st.text(GSM_BASIC, max_size=1000))
def test_gsm_basic_is_160_then_153_per_part(text: str) -> None:
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153)
    assert segments.count(text).parts == expected
    assert segments.count(text).encoding == "gsm7"


@given(st.text(ANY, max_size=400))
def test_parts_hold_the_units(text: str) -> None:
    size = segments.count(text)
    single, per_part = (160, 153) if size.encoding == "gsm7" else (70, 67)
    if size.units <= single:
        assert size.parts == (1 if text else 0)
    else:
        # never fewer than the units need; a character never split wastes at most one unit
        assert (
            math.ceil(size.units / per_part) <= size.parts <= math.ceil(size.units / (per_part - 1))
        )


@given(st.text(ANY, max_size=300), ANY)
def test_a_longer_text_never_takes_fewer_parts_in_one_encoding(text: str, more: str) -> None:
    longer = text + more
    if segments.encoding(text) == segments.encoding(longer):
        assert segments.count(longer).parts >= segments.count(text).parts


@given(st.text(ANY, min_size=1, max_size=600), st.integers(min_value=1, max_value=6))
def test_fit_is_the_longest_prefix_that_fits(text: str, parts: int) -> None:
    cut = segments.fit(text, parts)
    assert text.startswith(cut)
    assert segments.count(cut).parts <= parts
    if cut != text and segments.encoding(cut) == segments.encoding(text):
        assert segments.count(text[: len(cut) + 1]).parts > parts


def test_fit_needs_a_part() -> None:
    with pytest.raises(ValueError):
        segments.fit("текст", 0)
