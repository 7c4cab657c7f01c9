"""Russian address text normalised into a house key (pes_sdk.addresses)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pes_sdk.addresses import Address, address_key, house_designation, name_key, parse_address

CORPUS = Path(__file__).parent / "data" / "addresses-ru.tsv"


def _corpus() -> list[tuple[int, str, str, str]]:
    rows = []
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        text, key, premises = line.split("\t")
        rows.append((n, text, key, premises))
    return rows


@pytest.mark.parametrize(("line", "text", "key", "premises"), _corpus())
def test_corpus_spelling_gives_its_house_key(line: int, text: str, key: str, premises: str) -> None:
    parsed = parse_address(text)
    assert (parsed.key, parsed.premises_key) == (key, premises), f"{CORPUS.name}:{line}"


def test_corpus_is_large_enough_to_say_something() -> None:
    rows = _corpus()
    assert len(rows) >= 60
    assert len({key for _, _, key, _ in rows}) >= 20


def test_street_type_is_kept_beside_the_key() -> None:
    a = parse_address("г. Пермь, пер. Ленина, д. 10")
    b = parse_address("г. Пермь, ул. Ленина, д. 10")
    assert a.key == b.key
    assert (a.street_type, b.street_type) == ("пер", "ул")
    assert parse_address("Пермь,Ленина,10").street_type == ""


def test_village_and_house_both_written_d() -> None:
    a = parse_address("д. Кондратово, ул. Камская, д. 5")
    assert (a.place, a.street, a.house) == ("кондратово", "камская", "5")
    b = parse_address("с. Лобаново, ул. Центральная, д. 3, с. 2")
    assert (b.place, b.house) == ("лобаново", "3с2")


def test_incomplete_addresses_say_so() -> None:
    assert not parse_address("").complete
    assert not parse_address("г. Пермь, ул. Ленина").complete
    assert parse_address("ул. Ленина, 10").complete
    assert parse_address("ул. Ленина, 10").place == ""
    assert parse_address("ул. Ленина, 10").street_key == "ленина|10"


def test_house_designation_from_gar_parts_agrees_with_text() -> None:
    assert house_designation("10А", korpus="2") == parse_address("Пермь, Ленина, 10а корп 2").house
    assert house_designation("28", litera="А") == parse_address("Невский пр, 28 лит А").house
    assert house_designation("5", stroenie="1") == "5с1"
    assert house_designation("5", sooruzhenie="1") == "5соор1"


def test_name_key() -> None:
    assert name_key("1-я Красноармейская") == name_key("Красноармейская 1-я") == "1 красноармейская"
    assert name_key("Мамина-Сибиряка") == name_key("МАМИНА СИБИРЯКА")
    assert name_key("Ёлкина") == "елкина"


# --- properties ---------------------------------------------------------------------------

PLACES = ["Пермь", "Екатеринбург", "Нижний Новгород", "Кондратово", "Санкт-Петербург", "Чусовой"]
STREETS = ["Ленина", "Мамина-Сибиряка", "Комсомольский", "1-я Тверская-Ямская", "Карла Маркса",
           "Ёлкина", "Советской Армии", "Героев Хасана", "Мира", "Набережная"]  # fmt: skip
STREET_TYPES = {
    "ул": ["ул.", "ул", "улица", "УЛ."],
    "пр-кт": ["пр-кт", "пр-т", "проспект", "просп."],
    "пер": ["пер.", "переулок"],
    "б-р": ["б-р", "бульвар"],
    "ш": ["ш.", "шоссе"],
}
LETTERS = ["", "а", "б", "в", "А", "Б"]


@st.composite
def house_parts(draw: st.DrawFn) -> tuple[int, str, int, int]:
    return (
        draw(st.integers(1, 300)),
        draw(st.sampled_from(LETTERS)),
        draw(st.integers(0, 5)),  # корпус (0: none)
        draw(st.integers(0, 3)),  # строение (0: none)
    )


@st.composite
def spelling(
    draw: st.DrawFn, place: str, street: str, stype: str, house: tuple[int, str, int, int]
) -> str:
    """One of the many ways a registry writes this house."""
    number, letter, korpus, stroenie = house
    num = f"{number}{draw(st.sampled_from(['', ' ', '-']))}{letter}" if letter else str(number)
    if letter.lower() == "а" and draw(st.booleans()):
        num = f"{number}a"  # a Latin a, typed on the wrong layout
    house_parts_ = [draw(st.sampled_from(["д. ", "д.", "дом ", "", "Д "])) + num]
    if korpus:
        house_parts_.append(draw(st.sampled_from(["корп. ", "к.", "корпус ", "к "])) + str(korpus))
    if stroenie:
        house_parts_.append(draw(st.sampled_from(["стр. ", "строение ", "стр."])) + str(stroenie))
    house_text = draw(st.sampled_from([", ", " "])).join(house_parts_)
    typed = draw(st.booleans())
    tword = draw(st.sampled_from(STREET_TYPES[stype]))
    street_text = (
        draw(st.sampled_from([f"{tword} {street}", f"{street} {tword}"])) if typed else street
    )
    place_text = draw(st.sampled_from([f"г. {place}", f"г.{place}", f"город {place}", place]))
    parts = [place_text, street_text, house_text]
    if draw(st.booleans()):
        parts.insert(0, draw(st.sampled_from(["Пермский край", "Свердловская обл.", "614000"])))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["кв. 5", "5", "кв.5", "квартира 5"])))
    text = draw(st.sampled_from([", ", ",", " , "])).join(parts)
    return draw(st.sampled_from([text, text.upper(), text.lower()]))


@given(st.data())
def test_spelling_variants_of_one_house_give_one_key(data: st.DataObject) -> None:
    place = data.draw(st.sampled_from(PLACES))
    street = data.draw(st.sampled_from(STREETS))
    stype = data.draw(st.sampled_from(sorted(STREET_TYPES)))
    house = data.draw(house_parts())
    first = data.draw(spelling(place, street, stype, house))
    second = data.draw(spelling(place, street, stype, house))
    assert address_key(first) == address_key(second), (first, second)
    assert parse_address(first).complete


@given(st.data())
def test_different_houses_never_collide(data: st.DataObject) -> None:
    place = data.draw(st.sampled_from(PLACES))
    street = data.draw(st.sampled_from(STREETS))
    stype = data.draw(st.sampled_from(sorted(STREET_TYPES)))
    one = data.draw(house_parts())
    other = data.draw(house_parts().filter(lambda h: (h[0], h[1].lower(), h[2], h[3]) != (
        one[0], one[1].lower(), one[2], one[3])))  # fmt: skip
    a = data.draw(spelling(place, street, stype, one))
    b = data.draw(spelling(place, street, stype, other))
    assert address_key(a) != address_key(b), (a, b)


@given(st.text(max_size=80))
def test_normalising_is_idempotent_on_any_text(text: str) -> None:
    parsed = parse_address(text)
    again = parse_address(parsed.text())
    assert again.key == parsed.key
    assert again.premises_key == parsed.premises_key


@given(st.data())
def test_normalising_is_idempotent_on_addresses(data: st.DataObject) -> None:
    place = data.draw(st.sampled_from(PLACES))
    street = data.draw(st.sampled_from(STREETS))
    stype = data.draw(st.sampled_from(sorted(STREET_TYPES)))
    text = data.draw(spelling(place, street, stype, data.draw(house_parts())))
    parsed = parse_address(text)
    assert parse_address(parsed.text()) == parsed
    assert isinstance(parsed, Address)
