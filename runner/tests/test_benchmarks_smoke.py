"""The runner's benchmark scripts run end to end at their smoke size (``--quick``).

No timing is asserted: each script is run as a subprocess, as a user runs it, and must
exit 0 having printed every line of its report, with its own checks passed (every
confirmation answered is in the store, every payment of the day is in a closed registry).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
NUMBER = r"[\d,]+(\.\d+)?"


def run(script: str, tmp_path: Path, *options: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--dir", str(tmp_path), *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # the temporary folder went away with its files
    return done.stdout


def lines_of(report: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in report.splitlines())}


def test_lookups_reports_the_rate_with_both_baselines(tmp_path: Path) -> None:
    report = lines_of(run("lookups.py", tmp_path))
    assert report["accounts loaded"].startswith("20,000 (SQLite")
    for key in ("store.find_services direct", "GET /healthz", "GET /v1/services (address)"):
        assert re.match(NUMBER + " /s", report[key]), report
    assert re.search(r"p50 +\d+\.\d+ ms +p99 +\d+\.\d+ ms", report["GET /v1/services (address)"])
    assert re.fullmatch(NUMBER, report["ratio look-ups / direct"])
    assert re.fullmatch(NUMBER, report["ratio look-ups / healthz"])


def test_payments_confirms_every_basket_and_loses_none(tmp_path: Path) -> None:
    report = lines_of(run("payments.py", tmp_path))
    for key in ("bare durable commits", "create (POST /v1/payments)", "confirm (signed webhooks)"):
        assert re.match(NUMBER + " /s", report[key]), report
    assert re.fullmatch(NUMBER, report["ratio confirm / bare"])
    assert report["target confirm >= 1,000/s"] in ("met", "missed")
    assert report["check"] == "succeeded 200 of 200, ledger credits 400 of 400"


def test_close_day_closes_every_partner(tmp_path: Path) -> None:
    report = lines_of(run("close_day.py", tmp_path))
    assert report["partners, payments"].startswith("12, 1,000")
    assert re.match(NUMBER + r" s +\(", report["baseline read + write only"])
    # 12 registries, and a transfer order for the two thirds with a transfer format
    assert re.match(NUMBER + r" s +\(.* 20 files\)", report["close_day, every partner"])
    assert re.match(r"median +\d+\.\d ms, max +\d+\.\d ms", report["per partner"])
    assert report["target close < 10 s"] in ("met", "missed")


def test_cabinet_measures_the_payment_page_against_the_json_look_up(tmp_path: Path) -> None:
    report = lines_of(run("cabinet.py", tmp_path))
    assert report["accounts loaded"].startswith("20,100 (SQLite")
    assert report["sessions"].startswith("10 concurrent")
    for key in ("GET /v1/services, before", "GET /cabinet/pay (the page)"):
        assert re.match(NUMBER + r" /s +p50 +\d+\.\d ms +p95 +\d+\.\d ms", report[key]), report
    assert re.fullmatch(NUMBER, report["ratio page / look-ups"])
    assert report["goal >= 0.5 and p95 < 50 ms"] in ("met", "missed")


def test_fleet_confirms_every_basket_on_each_shape(tmp_path: Path) -> None:
    """One serve on SQLite, one and two on PostgreSQL (skipped without a local server)."""
    if not _postgres_listens():
        if os.environ.get("CI"):
            pytest.fail("CI is set but no PostgreSQL listens on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL listens on 127.0.0.1:5432")
    # the shapes' names are padded into a column: one space between words here
    report = {" ".join(k.split()): v for k, v in lines_of(run("fleet.py", tmp_path)).items()}
    for shape in ("sqlite x1", "postgresql x1", "postgresql x2"):
        for what in ("bare commits", "create", "confirm"):
            assert re.match(NUMBER + " /s", report[f"{shape} {what}"]), report
        cpu = report[f"{shape} CPU/confirm"]
        # the servers' CPU, and each process's share: two of them on the two-server shape
        shares = 2 if shape.endswith("x2") else 1
        assert re.match(
            r"serve \d+\.\d\d ms \(" + " \\+ ".join([r"\d+\.\d\d ms"] * shares) + r"\); database",
            cpu,
        ), cpu
        assert re.fullmatch(NUMBER, report[f"{shape} ratio to bare"])
        assert report[f"{shape} check"] == "succeeded 200 of 200, ledger credits 400 of 400"
    assert re.fullmatch(NUMBER, report["ratio pg x1 / sqlite x1"])
    assert re.fullmatch(NUMBER, report["ratio pg x2 / pg x1"])
    assert report["goal pg x2 >= 1,000/s"] in ("met", "missed")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_ingest_loads_every_row_beside_the_bare_load(store: str, tmp_path: Path) -> None:
    """The store's ingest and the bare load of the same rows (``executemany`` on SQLite,
    ``COPY`` on PostgreSQL), each checked row for row; the databases it made are gone."""
    if store == "postgresql" and not _postgres_listens():
        if os.environ.get("CI"):
            pytest.fail("CI is set but no PostgreSQL listens on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL listens on 127.0.0.1:5432")
    before = _bench_databases() if store == "postgresql" else set()
    report = lines_of(run("ingest.py", tmp_path, "--store", store))
    assert report["store"] == {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[store]
    assert report["rows"] == "20,000"
    bare = "bare executemany" if store == "sqlite" else "bare COPY (write_row)"
    server = ", " + NUMBER + " s in PostgreSQL" if store == "postgresql" else ""
    for key in (bare, "store.ingest_debt_registry"):
        line = report[key]
        assert re.fullmatch(
            NUMBER + r" s +\( *" + NUMBER + r" rows/s\); CPU " + NUMBER + " s here" + server, line
        ), line
    assert re.fullmatch(NUMBER + " MB", report["peak RSS after the store"])
    assert re.fullmatch(NUMBER, report["ratio (target <= 2.0)"])
    assert report["check"] == "20,000 rows and their total in each table"
    if store == "postgresql":
        assert _bench_databases() == before  # both databases dropped


def _bench_databases() -> set[str]:
    import psycopg

    with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", connect_timeout=10) as c:
        rows = c.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_ingest_%'")
        return {r[0] for r in rows}


def _postgres_listens() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 2):
            return True
    except OSError:
        return False
