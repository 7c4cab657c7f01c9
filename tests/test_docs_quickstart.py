"""The partner developer's quickstart runs as written and prints what it says it prints.

Every block runs in document order in one temporary folder, as a reader would run them:
the Python blocks in one namespace, the shell blocks with ``sh -e`` and this environment's
``pes`` first on PATH, so that a block using a file no earlier block wrote fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "quickstart" / "partner-developer.md"
BLOCK = re.compile(r"```(python|sh)\n(.*?)```", re.S)
# `print(...)  # expected output` comments in the doc are claims this test checks.
CLAIM = re.compile(r"print\(.*\)\s+#\s+(.+)$", re.M)


def _installs(code: str) -> bool:
    # The install block is for a reader's own environment; this one has the kit installed
    # (and tests/test_dist.py installs from the wheels).
    lines = [ln for ln in code.splitlines() if ln.strip() and not ln.startswith("#")]
    return bool(lines) and all(ln.startswith("pip install") for ln in lines)


def test_partner_quickstart_runs_and_prints_its_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pes_sdk.plugins import get_host

    if "sber-debts" not in get_host().formats():
        pytest.fail("the CSV adapter (pes-sdk-csv) must be installed: make test installs it")
    text = DOC.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert sum(1 for lang, _ in blocks if lang == "python") >= 4
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    namespace: dict[str, object] = {}
    shell_runs = 0
    for lang, code in blocks:
        if lang == "python":
            exec(compile(code, str(DOC), "exec"), namespace)
        elif not _installs(code):
            done = subprocess.run(
                ["sh", "-e", "-c", code],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, (
                f"{code}\nexit {done.returncode}:\n{done.stdout}{done.stderr}"
            )
            shell_runs += 1
    assert shell_runs >= 1
    out = capsys.readouterr().out
    claims = [c for c in CLAIM.findall(text) if not c.startswith("line ")]
    assert claims, "the doc states expected outputs"
    for claim in claims:
        assert claim.strip() in out, f"the doc claims {claim!r}; the code printed:\n{out}"
    assert (tmp_path / "7707083893_40702810900000000001_001_1126.txt").exists()
    assert (tmp_path / "payments.csv").exists()  # the shell block's conversion
