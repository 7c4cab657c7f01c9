"""docs/gateway-tbank.md's example runs as written; every documented switch exists."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from pes_sdk_tbank import TBankSwitches

DOC = Path(__file__).resolve().parents[3] / "docs" / "gateway-tbank.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
CLAIM = re.compile(r"print\(.*\)\s+#\s+(.+)$", re.M)


def test_quick_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = BLOCK.findall(DOC.read_text(encoding="utf-8"))[0]
    claims = CLAIM.findall(code)
    assert len(claims) == 3
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_tbank"})
    assert capsys.readouterr().out.split() == claims


def test_documented_switches_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    for field in attrs.fields(TBankSwitches):
        assert f"`{field.name}`" in text, f"switch {field.name} is not documented"
