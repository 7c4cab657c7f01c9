"""Premises (помещение): kind, number, room and the matching key; the original text kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pes_sdk.premises import MAX_PREMISES_LENGTH, Premises, PremisesKind, matching_key

K = PremisesKind

# Not a money or parser property: a few hundred examples even in CI.
LIGHT = settings(max_examples=min(settings.default.max_examples, 500))


@pytest.mark.parametrize(
    ("text", "kind", "number", "room", "key"),
    [
        ("кв. 12А", K.APARTMENT, "12а", "", "12а"),
        ("12a", K.APARTMENT, "12а", "", "12а"),  # Latin a → Cyrillic а
        ("12А", K.APARTMENT, "12а", "", "12а"),
        ("Квартира №12", K.APARTMENT, "12", "", "12"),
        ("кв12", K.APARTMENT, "12", "", "12"),
        ("КВ. 12", K.APARTMENT, "12", "", "12"),
        ("12", K.APARTMENT, "12", "", "12"),
        ("12/1", K.APARTMENT, "12/1", "", "12/1"),
        ("12-1", K.APARTMENT, "12-1", "", "12-1"),
        ("012", K.APARTMENT, "012", "", "012"),  # a string, never an integer
        ("12, ком. 3", K.ROOM, "12", "3", "12к3"),
        ("кв. 12, комн. 3", K.ROOM, "12", "3", "12к3"),
        ("ком. 3", K.ROOM, "", "3", "к3"),
        ("комната 3", K.ROOM, "", "3", "к3"),
        ("пом. 5", K.NON_RESIDENTIAL, "5", "", "н5"),
        ("Нежилое помещение 5", K.NON_RESIDENTIAL, "5", "", "н5"),
        ("оф.7", K.NON_RESIDENTIAL, "7", "", "н7"),
        ("офис 7", K.NON_RESIDENTIAL, "7", "", "н7"),
        ("блок 3", K.BLOCK, "3", "", "б3"),
        ("блок 3, комн 2", K.BLOCK_ROOM, "3", "2", "б3к2"),
        ("", K.NONE, "", "", ""),
        ("   ", K.NONE, "", "", ""),
        ("подвал", K.OTHER, "подвал", "", "?подвал"),
        ("Гараж 5", K.OTHER, "гараж5", "", "?гараж5"),
        ("пом. 5, ком. 2", K.OTHER, "пом.5,ком.2", "", "?пом.5,ком.2"),  # no rooms in offices
        ("12, 13, 14", K.OTHER, "12,13,14", "", "?12,13,14"),
    ],
)
def test_normalisation_table(text: str, kind: K, number: str, room: str, key: str) -> None:
    p = Premises(text)
    assert (p.kind, p.number, p.room, p.key) == (kind, number, room, key)
    assert p.text == text  # the original is kept exactly
    assert str(p) == text
    assert matching_key(text) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("кв. 12А", "12a"),  # Latin look-alike
        ("Квартира №12", "12"),
        ("12, ком. 3", "кв.12, комн.3"),
        ("оф.7", "пом. 7"),  # an office and a non-residential premises are the same kind
        ("12Е", "12e"),
        ("12ё", "12е"),
    ],
)
def test_same_premises_match(a: str, b: str) -> None:
    assert Premises(a).matches(Premises(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("12", "12а"),
        ("12", "пом. 12"),  # flat 12 is not office 12
        ("12", "блок 12"),
        ("12, ком. 3", "ком. 3"),  # a room of flat 12 is not a lone room 3
        ("12/1", "121"),
        ("подвал", "12"),
    ],
)
def test_different_premises_do_not_match(a: str, b: str) -> None:
    assert not Premises(a).matches(Premises(b))


def test_premises_length_and_type() -> None:
    assert Premises("1" * MAX_PREMISES_LENGTH).text == "1" * 255
    with pytest.raises(ValueError, match="255"):
        Premises("1" * 256)
    with pytest.raises(TypeError):
        Premises(12)  # type: ignore[arg-type]


@LIGHT
@given(st.text(max_size=40))
def test_any_text_parses_and_is_kept(text: str) -> None:
    p = Premises(text)
    assert p.text == text
    assert isinstance(p.kind, PremisesKind)
    # The key is a function of the folded text: case and spacing never matter.
    assert Premises(text.upper()).key == p.key or p.kind is K.OTHER
    assert Premises(" ".join(text)).key == p.key or p.kind is K.OTHER
