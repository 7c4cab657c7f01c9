"""The examples in docs/money.md are doctests: the figures on that page are the kit's own."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "money.md"


def test_money_doc_examples_run() -> None:
    result = doctest.testfile(
        str(DOC),
        module_relative=False,
        optionflags=doctest.ELLIPSIS,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 15
    assert result.failed == 0


def test_money_doc_states_the_rules() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "ROUND_HALF_UP" in text
    assert "largest-remainder" in text
    assert "2026-01-01 | **22%**" in text
