"""The partner developer's quickstart runs as written and prints what it says it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "quickstart" / "partner-developer.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# `print(...)  # expected output` comments in the doc are claims this test checks.
CLAIM = re.compile(r"print\(.*\)\s+#\s+(.+)$", re.M)


def test_partner_quickstart_runs_and_prints_its_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pes_sdk.plugins import get_host

    if "sber-debts" not in get_host().formats():
        pytest.fail("the CSV adapter (pes-sdk-csv) must be installed: make test installs it")
    text = DOC.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    claims = [c for c in CLAIM.findall(text) if not c.startswith("line ")]
    assert claims, "the doc states expected outputs"
    for claim in claims:
        assert claim.strip() in out, f"the doc claims {claim!r}; the code printed:\n{out}"
    assert (tmp_path / "7707083893_40702810900000000001_001_1126.txt").exists()
