"""The house directory (справочник домов): the store's table, CSV and ГАР imports, resolving."""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pes_sdk_runner.houses import HouseResolver, gar_files, import_csv, import_gar, read_houses_csv
from pes_sdk_runner.store import House, SqlStore

from pes_sdk.addresses import parse_address
from pes_sdk.errors import FormatError
from pes_sdk.i18n import collect_untranslated, translate, using_language

GAR = Path(__file__).parent / "data" / "gar" / "59"

G_LENINA_10 = "a1b2c3d4-0000-4000-8000-000000000100"
G_LENINA_10K2 = "a1b2c3d4-0000-4000-8000-000000000101"
G_PER_LENINA_10 = "a1b2c3d4-0000-4000-8000-000000000102"
G_KAMSKAYA_5 = "a1b2c3d4-0000-4000-8000-000000000103"
G_KOMSOMOLSKY_32A = "a1b2c3d4-0000-4000-8000-000000000104"
G_IVANOVSKAYA_7 = "a1b2c3d4-0000-4000-8000-000000000105"
G_CHUSOVOY_LENINA_10 = "a1b2c3d4-0000-4000-8000-000000000106"
G_NABEREZHNAYA_1 = "a1b2c3d4-0000-4000-8000-000000000110"


def test_houses_are_upserted_by_guid_and_found_by_key(store: SqlStore) -> None:
    h = House.from_address(G_LENINA_10.upper(), "г. Пермь, ул. Ленина, д. 10")
    assert store.upsert_houses([h]) == 1
    assert store.upsert_houses([h]) == 1  # again: the same house, not a second one
    assert store.house_count() == 1
    found = store.houses_by_key(parse_address("Пермь,Ленина,10").key)
    assert [x.guid for x in found] == [G_LENINA_10]
    assert store.houses_by_street_key("ленина|10") == found
    assert store.house_address(G_LENINA_10.upper()) == "г. Пермь, ул. Ленина, д. 10"
    assert store.house_address(G_KAMSKAYA_5) is None
    moved = House.from_address(G_LENINA_10, "г. Пермь, ул. Ленина, д. 10а")
    store.upsert_houses([moved])
    assert store.house_address(G_LENINA_10) == "г. Пермь, ул. Ленина, д. 10а"
    assert store.houses_by_key("пермь|ленина|10") == []


# -- CSV --------------------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "houses.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_csv_import_loads_and_repeats_harmlessly(store: SqlStore, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "\ufeffguid;address\r\n"
        f"{G_LENINA_10};г. Пермь, ул. Ленина, д. 10\r\n"
        "\r\n"
        f"{G_PER_LENINA_10.upper()};Пермь, пер. Ленина, 10\r\n",
    )
    assert import_csv(store, path) == 2
    assert import_csv(store, path) == 2
    assert store.house_count() == 2
    assert store.house_address(G_PER_LENINA_10) == "Пермь, пер. Ленина, 10"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (f"{G_LENINA_10};г. Пермь, ул. Ленина, д. 10\nnot-a-guid;Пермь, Ленина, 12\n", 2, "guid"),
        (f"{G_LENINA_10};\n", 1, "address"),
        (f"{G_LENINA_10} Пермь Ленина 10\n", 1, ""),
    ],
)
def test_a_bad_csv_line_is_named_and_nothing_is_loaded(
    store: SqlStore, tmp_path: Path, text: str, line: int, field: str
) -> None:
    path = _csv(tmp_path, text)
    with pytest.raises(FormatError) as err:
        import_csv(store, path)
    assert (err.value.path, err.value.line, err.value.field) == (path, line, field)
    assert store.house_count() == 0


def test_csv_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_bytes(f"{G_LENINA_10};г. Пермь, ул. Ленина, д. 10\n".encode("cp1251"))
    with pytest.raises(FormatError, match="line 1: not UTF-8"):
        list(read_houses_csv(path))


# -- ГАР ----------------------------------------------------------------------------------------


def test_gar_import_places_each_actual_house_under_its_street_and_locality(
    store: SqlStore,
) -> None:
    result = import_gar(store, GAR, batch_size=2)
    # 10 actual houses; 108 and 109 stand in no hierarchy row; 107 is not actual
    assert (result.houses, result.loaded, result.unplaced) == (10, 8, 2)
    assert store.house_count() == 8
    assert store.house_address(G_LENINA_10) == "Пермский край, г Пермь, ул Ленина, д. 10"
    assert store.house_address(G_KAMSKAYA_5) == "Пермский край, д Кондратово, ул Камская, д. 5"
    # the address as ГАР composes it resolves back to its house
    resolver = HouseResolver(store)
    for guid in (G_LENINA_10, G_LENINA_10K2, G_KAMSKAYA_5, G_KOMSOMOLSKY_32A, G_IVANOVSKAYA_7):
        text = store.house_address(guid)
        assert text is not None
        found = resolver.resolve(text).house
        assert found is not None and found.guid == guid, text
    # the street's old name (ISACTUAL=0) is not the street's name
    assert store.houses_by_key("пермь|ленинская|10") == []
    again = import_gar(store, GAR)  # a re-run, as after a crash: the same directory
    assert again.loaded == 8
    assert store.house_count() == 8


def test_gar_import_refuses_a_doctype(store: SqlStore, tmp_path: Path) -> None:
    folder = tmp_path / "59"
    shutil.copytree(GAR, folder)
    houses = gar_files(folder)["houses"]
    body = houses.read_text(encoding="utf-8")
    houses.write_text(
        body.replace(
            "<HOUSES>",
            '<!DOCTYPE HOUSES [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<HOUSES>',
        ),
        encoding="utf-8",
    )
    with pytest.raises(FormatError, match="DOCTYPE"):
        import_gar(store, folder)
    assert store.house_count() == 0


def test_gar_folder_without_its_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="AS_ADDR_OBJ"):
        gar_files(tmp_path)
    with pytest.raises(FormatError, match="not a folder"):
        gar_files(tmp_path / "none")


def test_broken_gar_xml_is_refused_with_its_line(store: SqlStore, tmp_path: Path) -> None:
    folder = tmp_path / "59"
    shutil.copytree(GAR, folder)
    hierarchy = gar_files(folder)["hierarchy"]
    hierarchy.write_text(
        hierarchy.read_text(encoding="utf-8").replace("</ITEMS>", ""), encoding="utf-8"
    )
    with pytest.raises(FormatError, match="not well-formed"):
        import_gar(store, folder)


# -- resolving ---------------------------------------------------------------------------------


@pytest.fixture
def directory(store: SqlStore) -> SqlStore:
    import_gar(store, GAR)
    return store


@pytest.mark.parametrize(
    ("text", "guid"),
    [
        ("г. Пермь, ул. Ленина, д. 10, кв. 5", G_LENINA_10),
        ("ПЕРМСКИЙ КРАЙ, Г ПЕРМЬ, УЛИЦА ЛЕНИНА, ДОМ 10", G_LENINA_10),
        ("Пермь, Ленина ул, 10 корп 2", G_LENINA_10K2),
        ("Пермь, пер. Ленина, 10", G_PER_LENINA_10),
        ("Пермский край, Пермский р-н, деревня Кондратово, Камская, 5", G_KAMSKAYA_5),
        ("Кондратово, ул. Камская, д. 5", G_KAMSKAYA_5),
        ("Пермь, Комсомольский проспект, 32а", G_KOMSOMOLSKY_32A),
        ("г. Пермь, мкр. Вышка-2, ул. Ивановская, 7", G_IVANOVSKAYA_7),
        ("ул. Ивановская, 7", G_IVANOVSKAYA_7),  # no locality: unique in the region
        ("Чусовой, Ленина, 10", G_CHUSOVOY_LENINA_10),
        ("Пермь, Набережная, 1", G_NABEREZHNAYA_1),
    ],
)
def test_an_address_resolves_to_its_one_house(directory: SqlStore, text: str, guid: str) -> None:
    r = HouseResolver(directory).resolve(text)
    assert r.house is not None, r.reason
    assert r.house.guid == guid


@pytest.mark.parametrize(
    ("text", "reason", "candidates"),
    [
        # ул. Ленина 10 and пер. Ленина 10 in Пермь: no type given, nothing to tell them apart
        ("Пермь,Ленина,10,5", "2 houses", {G_LENINA_10, G_PER_LENINA_10}),
        # Ленина 10 in Пермь (ул., пер.) and in Чусовой: no locality given
        ("ул. Ленина, д. 10", "houses of the directory", {G_LENINA_10, G_CHUSOVOY_LENINA_10}),
        ("г. Пермь, ул. Ленина, д. 11", "no house", set()),
        ("г. Пермь, ул. Ленина, д. 12", "no house", set()),  # not actual in ГАР
        ("г. Пермь, ул. Ленина", "no street or no house number", set()),
        ("", "no street or no house number", set()),
    ],
)
def test_an_address_matching_none_or_several_is_not_guessed(
    directory: SqlStore, text: str, reason: str, candidates: set[str]
) -> None:
    r = HouseResolver(directory).resolve(text)
    assert r.house is None
    assert reason in r.reason
    assert {c.guid for c in r.candidates} == candidates


# -- in Russian (issue 13) ----------------------------------------------------------------------


def _refusal(call: Callable[[], object]) -> str:
    """What ``call`` is refused with, as the accountant reads it: in Russian, nothing left over."""
    with pytest.raises(FormatError) as err:
        call()
    with using_language("ru"), collect_untranslated() as missed:
        text = str(err.value)
    assert missed == [], missed
    assert text != str.__str__(err.value.message) and re.search("[А-Яа-яЁё]", text), text
    return text


def test_house_refusals_read_in_russian(store: SqlStore, tmp_path: Path) -> None:
    bad_csv = [
        b"not-a-guid;\xd0\x9f\xd0\xb5\xd1\x80\xd0\xbc\xd1\x8c\n",
        f"{G_LENINA_10};\n".encode(),
        f"{G_LENINA_10} Пермь Ленина 10\n".encode(),
        f"{G_LENINA_10};г. Пермь\n".encode("cp1251"),
    ]
    for n, raw in enumerate(bad_csv):
        path = tmp_path / f"houses-{n}.csv"
        path.write_bytes(raw)
        assert "строка 1" in _refusal(functools.partial(list, read_houses_csv(path)))

    assert "не папка" in _refusal(lambda: gar_files(tmp_path / "none"))
    assert "AS_ADDR_OBJ_*.XML" in _refusal(lambda: gar_files(tmp_path))
    folder = tmp_path / "59"
    shutil.copytree(GAR, folder)
    files = gar_files(folder)
    hierarchy = files["hierarchy"]
    hierarchy.rename(tmp_path / hierarchy.name)
    assert "ни AS_ADM_HIERARCHY" in _refusal(lambda: gar_files(folder))
    (tmp_path / hierarchy.name).rename(hierarchy)
    twice = [folder / f"AS_HOUSES_2026010{n}_{n}.XML" for n in "12"]
    for extra in twice:
        shutil.copy(files["houses"], extra)
    assert "больше одного файла houses" in _refusal(lambda: gar_files(folder))
    for extra in twice:
        extra.unlink()
    shutil.copy(hierarchy, folder / "AS_MUN_HIERARCHY_20260101_2.XML")
    assert "больше одного файла иерархии" in _refusal(lambda: gar_files(folder))
    (folder / "AS_MUN_HIERARCHY_20260101_2.XML").unlink()
    hierarchy.write_text(
        hierarchy.read_text(encoding="utf-8").replace("</ITEMS>", ""), encoding="utf-8"
    )
    assert "XML составлен с ошибками" in _refusal(lambda: import_gar(store, folder))


def test_unresolved_addresses_say_why_in_russian(directory: SqlStore) -> None:
    resolver = HouseResolver(directory)
    with using_language("ru"), collect_untranslated() as missed:
        reasons = [
            translate(resolver.resolve(text).reason)
            for text in ("Пермь, Ленина, 10", "г. Пермь, ул. Ленина, д. 11", "г. Пермь")
        ]
    assert missed == []
    assert reasons == [
        "этот адрес у 2 домов справочника",
        "в справочнике нет дома с таким адресом",
        "в адресе нет улицы или номера дома",
    ]
