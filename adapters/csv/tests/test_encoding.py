"""Registries in another encoding than the dialect's are refused whole (issue 11).

A UTF-8 or cp866 file read as cp1251 decodes without an error, into mojibake (``12Р°``):
the reader judges a sample of the file first (:mod:`pes_sdk.formats.text`, whose own
tests, on a corpus of registry text, are in tests/test_formats_text.py) and refuses,
naming the encoding the file most likely is and the first line that shows it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from pes_sdk_csv import DialectFormat

from pes_sdk.errors import RegistryRefused
from pes_sdk.formats import Policy
from pes_sdk.formats.text import EMPTY_FILE, read_sample
from pes_sdk.operations import validate
from pes_sdk.plugins import get_host

HOUSE = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
NAME = "7707083893_40702810938000000001_001_1126.txt"
ENCODINGS = ("utf-8", "cp1251", "koi8-r", "cp866")
NAMED = {"utf-8": "UTF-8", "cp1251": "cp1251", "koi8-r": "KOI8-R", "cp866": "cp866"}

#: A debt registry as partners send it: (account, premises, amount, service). Text every
#: one of the four encodings can hold (cp866 and KOI8-R have no « » — №).
ROWS = [
    ("0100149", "кв. 12а", "1047,86", "Содержание жилья"),
    ("0100149", "кв. 12а", "1371,79", "Взнос на капремонт"),
    ("0100150", "12/1", "-150,40", "Электроснабжение"),
    ("0100151", "12, ком. 3", "872,10", "Холодное водоснабжение"),
    ("0100152", "пом. 3", "95,00", "Вывоз ТКО"),
    ("0100153", "", "1203,55", "Отопление"),
]


def registry_text(rows: list[tuple[str, str, str, str]] = ROWS) -> str:
    lines = [f"{a};{HOUSE};{p};{amount};112026;{s}" for a, p, amount, s in rows]
    total = sum(Decimal(r[2].replace(",", ".")) for r in rows)
    footer = f"={len(rows)};{total}".replace(".", ",")
    return "".join(line + "\r\n" for line in [*lines, footer])


def sber_debts_in(encoding: str) -> DialectFormat:
    """The sber-debts dialect, declared in ``encoding``."""
    fmt = get_host().format("sber-debts")
    assert isinstance(fmt, DialectFormat)
    return DialectFormat(
        attrs.evolve(fmt.dialect, name=f"sber-debts-{encoding}", encoding=encoding)
    )


@pytest.mark.parametrize("declared", ENCODINGS)
@pytest.mark.parametrize("actual", ENCODINGS)
def test_every_pairing_is_refused_when_wrong_and_read_when_right(
    tmp_path: Path, actual: str, declared: str
) -> None:
    path = tmp_path / NAME
    path.write_bytes(registry_text().encode(actual))
    fmt = sber_debts_in(declared)
    with fmt.open(path, policy=Policy.QUARANTINE) as reader:
        if actual == declared:
            records = list(reader)
            assert [r.service for r in records] == [r[3] for r in ROWS]
            assert [str(r.premises) for r in records][:2] == ["кв. 12а", "кв. 12а"]
            assert reader.report.valid
            return
        with pytest.raises(RegistryRefused) as refused:
            list(reader)
    # Nothing of a refused registry stands, and the refusal says what the file is.
    assert reader.report.refused is not None and reader.report.records == 0
    assert f"it is most likely {NAMED[actual]}" in refused.value.message
    [issue] = refused.value.issues
    assert (issue.line, issue.field) == (1, "encoding")
    # validate() (what `pes validate` runs) checks without building records: same verdict.
    report = validate(path, fmt)
    assert not report.valid and report.refused is not None
    assert f"most likely {NAMED[actual]}" in report.refused


def test_the_issue_case_names_utf8_and_shows_the_line(tmp_path: Path) -> None:
    # Issue 11's file: a UTF-8 registry without a BOM, declared sber-debts (cp1251). It
    # used to pass as valid, and convert wrote "12Р°" and "Р­Р»РµРєС‚СЂРѕ…".
    rows = [
        ("0100147", "12", "10,00", ""),  # nothing outside ASCII: cannot show it
        ("0100148", "12а", "1047,86", "Электроснабжение"),
        *ROWS[1:],
    ]
    path = tmp_path / NAME
    path.write_bytes(registry_text(rows).encode("utf-8"))
    report = validate(path, "sber-debts")
    assert not report.valid
    assert report.refused == (
        "line 2: the text is not cp1251: it is most likely UTF-8 "
        "(line 2 reads '12а' in UTF-8, '12Р°' in cp1251)"
    )
    assert [(i.line, i.field) for i in report.issues] == [(2, "encoding")]


def test_a_pure_ascii_registry_is_read_in_any_encoding(tmp_path: Path) -> None:
    rows = [("0100149", "12", "1047,86", "HVS"), ("0100150", "12/1", "-150,40", "")]
    path = tmp_path / NAME
    path.write_bytes(registry_text(rows).encode("ascii"))
    for encoding in ENCODINGS:
        with sber_debts_in(encoding).open(path) as reader:
            assert len(list(reader)) == 2
        assert reader.report.valid, encoding


@pytest.mark.parametrize("name", ["sber-debts", "sber-payments", "pes-debts", "pes-payments"])
def test_an_empty_file_is_refused_by_every_dialect(tmp_path: Path, name: str) -> None:
    # sber-debts (no header, optional footer) used to read 0 bytes as a valid empty
    # registry; the runner refused it. One rule now: pes_sdk.formats.text.
    path = tmp_path / NAME
    path.write_bytes(b"")
    with get_host().format(name).open(path) as reader, pytest.raises(RegistryRefused) as exc:
        list(reader)
    assert exc.value.message == EMPTY_FILE
    assert reader.report.refused == EMPTY_FILE


def test_a_wrong_encoding_past_the_sample_still_names_the_likely_one(tmp_path: Path) -> None:
    # The rule judges the file's head. Past it, strict decoding still refuses bytes a
    # UTF-8 dialect cannot read, and the message now says what they most likely are.
    fmt = get_host().format("pes-debts")
    header = fmt.dialect.header  # type: ignore[attr-defined]
    good = [f"{i:07d};{HOUSE};кв. 7;1.00;2026-11;Содержание жилья" for i in range(20000)]
    bad = f"9999999;{HOUSE};кв. 8;2.00;2026-11;Взнос на капремонт"
    path = tmp_path / "7707083893_202611_001.csv"
    text = "\n".join([header, *good]) + "\n"
    path.write_bytes(text.encode("utf-8") + bad.encode("cp1251") + b"\n=20001;20002.00\n")
    assert len(read_sample(path)) < path.stat().st_size // 10  # line 20002 is far past it
    report = validate(path, fmt)
    assert report.refused is not None
    assert report.refused.startswith("line 20002: bytes that are not utf-8")
    assert "it is most likely cp1251 (line 20002 reads 'кв. 8' in cp1251" in report.refused
