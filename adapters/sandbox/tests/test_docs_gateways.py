"""docs/gateways.md's quick example runs as written and prints what its comments claim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "gateways.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
CLAIM = re.compile(r"print\(.*\)\s+#\s+(.+)$", re.M)


def test_quick_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = BLOCK.findall(DOC.read_text(encoding="utf-8"))[0]
    claims = CLAIM.findall(code)
    assert len(claims) == 4
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_gateways"})
    assert capsys.readouterr().out.split() == claims


def test_documented_switches_exist() -> None:
    import attrs
    from pes_sdk_sandbox import Switches

    text = DOC.read_text(encoding="utf-8")
    for field in attrs.fields(Switches):
        assert f"`{field.name}`" in text, f"switch {field.name} is not documented"
