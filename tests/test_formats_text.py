"""The rule every text registry is read under (pes_sdk.formats.text): not empty, and
plausibly in its declared encoding (issue 11).

Tested on a corpus of Russian registry text (tests/data/registry-text-ru.txt: services,
suppliers, premises, addresses), written in each of UTF-8, cp1251, KOI8-R and cp866 and
judged as each of them. benchmarks/encoding_rule.py measures the same rule on the same
corpus (and charset-normalizer beside it); docs/performance.md has the figures.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pes_sdk.errors import RegistryRefused
from pes_sdk.formats.text import (
    EMPTY_FILE,
    SAMPLE_BYTES,
    judge_encoding,
    read_sample,
    refuse_empty,
    text_file_issue,
)

CORPUS = Path(__file__).parent / "data" / "registry-text-ru.txt"
ENCODINGS = ("utf-8", "cp1251", "koi8-r", "cp866")
NAMED = {"utf-8": "UTF-8", "cp1251": "cp1251", "koi8-r": "KOI8-R", "cp866": "cp866"}
HOUSE = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
# What a writer in cp866 or KOI8-R puts for characters its encoding lacks.
SUBSTITUTES = {"«": '"', "»": '"', "—": "-", "№": "N", "·": "."}


def load_corpus() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], [])
        elif line and not line.startswith("#"):
            current.append(line)
    return sections


SECTIONS = load_corpus()
LINES = [line for lines in SECTIONS.values() for line in lines]


def encode(text: str, encoding: str) -> bytes:
    for char, ascii_ in SUBSTITUTES.items():
        if _lacks(encoding, char):
            text = text.replace(char, ascii_)
    return text.encode(encoding)


def _lacks(encoding: str, char: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return True
    return False


def registry(rows: list[tuple[str, str]]) -> str:
    """A sber-debts-like registry: (premises, service) per row, the rest ASCII."""
    return "".join(
        f"{i:07d};{HOUSE};{premises};1047,86;112026;{service}\r\n"
        for i, (premises, service) in enumerate(rows)
    )


def test_the_corpus_has_what_registries_hold() -> None:
    assert set(SECTIONS) == {"services", "suppliers", "premises", "addresses", "other"}
    text = "\n".join(LINES)
    for needle in ("Содержание жилья", "Взнос на капремонт", "ООО «УК Дом»", "кв. 12а"):
        assert needle in text
    for needle in ("ул. Ленина", "№", "«", "»", "—", "ё"):
        assert needle in text


# -- every pairing, on the corpus ---------------------------------------------------------------


def windows(size: int) -> list[list[str]]:
    return [LINES[i : i + size] for i in range(0, len(LINES) - size + 1)]


@pytest.mark.parametrize("declared", ENCODINGS)
@pytest.mark.parametrize("actual", ENCODINGS)
def test_every_pairing_on_the_corpus(actual: str, declared: str) -> None:
    """The whole corpus, and every ten consecutive lines of it, as registry rows: refused
    when the encoding is wrong (naming the right one), accepted when it is right."""
    samples = [LINES, *windows(10)]
    for lines in samples:
        data = encode(registry([("", line) for line in lines]), actual)
        wrong = judge_encoding(data, declared)
        if actual == declared:
            assert wrong is None, (lines, wrong)
        else:
            assert wrong is not None, (actual, declared, lines)
            assert wrong.likely == actual, (lines, wrong)
            assert f"it is most likely {NAMED[actual]}" in wrong.message


@pytest.mark.parametrize("declared", ENCODINGS)
def test_plain_ascii_is_fine_in_any_encoding(declared: str) -> None:
    data = registry([("12", "HVS"), ("12/1", "Elektrosnabzhenie"), ("", "")]).encode("ascii")
    assert judge_encoding(data, declared) is None


def test_each_corpus_line_in_its_own_encoding_is_never_refused() -> None:
    # The rule leans towards accepting: no line of real registry text, alone, in its own
    # encoding, is refused (a short sample that cannot tell is accepted as declared).
    for line in LINES:
        for encoding in ENCODINGS:
            assert judge_encoding(encode(registry([("", line)]), encoding), encoding) is None


# -- random registry text -----------------------------------------------------------------------

ROWS = st.lists(
    st.tuples(
        st.sampled_from(["", *SECTIONS["premises"]]),
        st.sampled_from(SECTIONS["services"]),
    ),
    min_size=5,
    max_size=40,
)
PAIRS = st.tuples(st.sampled_from(ENCODINGS), st.sampled_from(ENCODINGS))


@settings(max_examples=min(settings.default.max_examples, 2000))
@given(ROWS, PAIRS)
def test_random_registry_text_in_x_declared_y(
    rows: list[tuple[str, str]], pair: tuple[str, str]
) -> None:
    """Random registries (rows of premises and a service, each a corpus line) in encoding
    X, declared as Y: refused, naming X, when X is not Y; accepted when it is."""
    actual, declared = pair
    wrong = judge_encoding(encode(registry(rows), actual), declared)
    if actual == declared:
        assert wrong is None
    else:
        assert wrong is not None and wrong.likely == actual


# -- what the refusal says ----------------------------------------------------------------------


def test_the_message_names_the_encoding_and_the_first_line_that_shows_it() -> None:
    data = registry([("12", ""), ("12а", "Электроснабжение")]).encode("utf-8")
    wrong = judge_encoding(data, "cp1251")
    assert wrong is not None
    assert (wrong.line, wrong.likely_text, wrong.declared_text) == (2, "12а", "12Р°")
    assert wrong.message == (
        "the text is not cp1251: it is most likely UTF-8 "
        "(line 2 reads '12а' in UTF-8, '12Р°' in cp1251)"
    )
    # A sample from further on in a file: its lines count from there.
    later = judge_encoding(data, "windows-1251", first_line=41)
    assert later is not None and later.line == 42


@pytest.mark.parametrize(
    ("bom", "name"),
    [(codecs.BOM_UTF8, "UTF-8"), (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")],
)
@pytest.mark.parametrize("declared", ["cp1251", "cp866", "koi8-r"])
def test_a_unicode_bom_proves_a_one_byte_declaration_wrong(
    bom: bytes, name: str, declared: str
) -> None:
    wrong = judge_encoding(bom + b"0100149;12\r\n", declared)
    assert wrong is not None and wrong.line == 1
    assert (
        wrong.message
        == f"the file starts with a {name} byte-order mark: it is {name}, not " + (NAMED[declared])
    )


def test_a_utf8_bom_is_fine_in_utf8() -> None:
    data = codecs.BOM_UTF8 + registry([("кв. 7", "Отопление")]).encode("utf-8")
    assert judge_encoding(data, "utf-8") is None
    assert judge_encoding(data, "utf-8-sig") is None


def test_a_sample_cut_mid_character_is_still_utf8() -> None:
    data = registry([("кв. 7", "Содержание жилья")] * 5).encode("utf-8")
    cut = data[: data.rindex("жилья".encode()) + 1]  # half of "ж"
    assert judge_encoding(cut, "utf-8") is None
    wrong = judge_encoding(cut, "cp1251")
    assert wrong is not None and wrong.likely == "utf-8"


# -- the sample and the empty file --------------------------------------------------------------


def test_the_sample_grows_past_an_ascii_head_and_ends_on_a_line(tmp_path: Path) -> None:
    ascii_rows = registry([("12", "")] * 2000).encode("ascii")  # > 64 KiB without Cyrillic
    cyrillic = registry([("кв. 7", "Взнос на капремонт")] * 400).encode("utf-8")
    path = tmp_path / "r.txt"
    path.write_bytes(ascii_rows + cyrillic + b"0100149;" * 10000)
    sample = read_sample(path)
    assert len(sample) > len(ascii_rows) > SAMPLE_BYTES
    assert sample.endswith(b"\n")
    issue = text_file_issue(path, "cp1251")
    assert issue is not None and issue.field == "encoding" and issue.line == 2001
    assert "it is most likely UTF-8" in issue.message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(RegistryRefused) as exc:
        refuse_empty(path)
    assert exc.value.message == EMPTY_FILE == "the file is empty"
    assert [(i.line, i.field, i.message) for i in exc.value.issues] == [(0, "", EMPTY_FILE)]
    issue = text_file_issue(path, "cp1251")
    assert issue is not None and issue.message == EMPTY_FILE
    path.write_bytes(b"\n")
    refuse_empty(path)  # one byte is not empty: the format says what it makes of it
    assert text_file_issue(path, "cp1251") is None
