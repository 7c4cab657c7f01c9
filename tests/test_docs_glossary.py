"""docs/glossary.md names every domain term, in English and Russian, in well-formed tables."""

from __future__ import annotations

from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "glossary.md"

TERMS = [
    "лицевой счёт",
    "ЕЛС",
    "ИЖКУ",
    "ИПД",
    "УК",
    "РСО",
    "реестр задолженности",
    "реестр оплат",
    "платёжный агент",
    "ИНН",
    "КПП",
    "БИК",
    "р/с",
    "к/с",
    "НДС",
    "ГИС ЖКХ",
    "ФИАС",
    "ГАР",
    "помещение",
    "галочка-акцепт",
    "платёжное поручение",
    "выписка",
    "расчётный период",
    "прибор учёта",
    "СБП",
]


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("term", TERMS)
def test_term_is_in_a_table_row(text: str, term: str) -> None:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert any(term in row.split(" | ")[1] for row in rows if row.count(" | ") >= 2), term


def test_every_row_has_three_cells(text: str) -> None:
    for line in text.splitlines():
        if line.startswith("|"):
            cells = line.replace("\\|", "").strip("|").split("|")
            assert len(cells) == 3, line
