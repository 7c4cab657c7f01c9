"""benchmarks/bills.py still runs, on a tiny registry (its figures are docs/performance.md's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_bills_benchmark_runs_on_a_small_registry() -> None:
    pytest.importorskip("zxingcpp")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bills.py"), "--rows", "40", "--bills", "6",
         "--render", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "## Bills (квитанции): 6 of a 40-row registry" in done.stdout
    assert "6 files written" in done.stdout
