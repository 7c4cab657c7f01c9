"""docs/gateway-yookassa.md's example runs as written; its switches table is complete."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from pes_sdk_yookassa import DEFAULT_WEBHOOK_NETWORKS, Switches

DOC = Path(__file__).resolve().parents[3] / "docs" / "gateway-yookassa.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
CLAIM = re.compile(r"print\(.*\)\s+#\s+(.+)$", re.M)


def test_quick_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = BLOCK.findall(DOC.read_text(encoding="utf-8"))[0]
    claims = CLAIM.findall(code)
    assert claims == ["qr", "succeeded"]
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_yookassa"})
    assert capsys.readouterr().out.split() == claims


def test_documented_switches_and_networks() -> None:
    text = DOC.read_text(encoding="utf-8")
    for field in attrs.fields(Switches):
        assert f"`{field.name}`" in text, f"switch {field.name} is not documented"
    for cidr in DEFAULT_WEBHOOK_NETWORKS:
        assert cidr.removesuffix("/32") in text, cidr
