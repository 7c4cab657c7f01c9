"""The job-engine benchmark's recovery section, end to end: the engine's contract.

Not a timing test. docs/decisions/0001-job-engine.md builds on what this run shows of DBOS
Transact, and a DBOS upgrade that changed it must fail here: after a SIGKILL inside the
second of a workflow's three steps, the workflow is finished by the restarted executor
(SQLite and PostgreSQL) or by another process recovering the dead executor's workflows
(PostgreSQL); the first step is not run again, the killed one is (steps are at-least-once,
which is why every step must be idempotent by the store).

PostgreSQL is the server at ``PES_TEST_POSTGRES_URL`` (as in conftest.py); the benchmark
creates and drops a scratch database on it. Without one listening the test skips, except
under CI.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "job_engine.py"
PG_URL = os.environ.get("PES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.slow


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def test_a_killed_workflow_resumes_and_only_the_killed_step_runs_again(tmp_path: Path) -> None:
    if not _listening(PG_URL):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but no PostgreSQL listens at {PG_URL}")
        pytest.skip(f"no PostgreSQL listens at {PG_URL}")
    command = [sys.executable, str(SCRIPT), "--quick", "--only", "recovery"]
    command += ["--dir", str(tmp_path), "--postgres", PG_URL.split("?")[0]]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout
    cases = re.findall(r"^-- (.+)$", report, re.MULTILINE)
    assert cases == [
        "SQLite, the same executor restarted",
        "PostgreSQL, the same executor restarted",
        "PostgreSQL, another executor recovers the dead one's",
    ], report
    # each case: step 1 once, the killed step 2 twice (its second attempt is the result),
    # step 3 once, and the workflow ended on the executor that recovered it
    runs = re.findall(r"step runs (\{.*?\}); result (\d+) .*? ended on executor (\w+)", report)
    assert runs == [
        ("{'first': 1, 'slow': 2, 'last': 1}", "2", "w1"),
        ("{'first': 1, 'slow': 2, 'last': 1}", "2", "w1"),
        ("{'first': 1, 'slow': 2, 'last': 1}", "2", "w2"),
    ], report
    assert list(tmp_path.iterdir()) == []  # the temporary folder went away with its files
