"""Benchmark: monthly bills (квитанции) of a 1,000,000-row debt registry, as PDF files.

Not a test: run it by hand and paste its markdown into docs/performance.md::

    .venv/bin/python benchmarks/bills.py [--rows 1000000] [--bills 100000] [--encoder auto]

It ingests a registry of ``--rows`` rows (four services an account, so 250,000 accounts for
a million rows; a house directory of 2,000 houses, so the bills carry addresses) into a
SQLite store in benchmarks/data/ (git-ignored; kept between runs), then times, each in a
fresh subprocess so that its peak RSS is its own (``os.wait4``):

* **bills**: :func:`pes_sdk_runner.bills.make_bills` for the registry's first ``--bills``
  accounts, what the runner's job runs: the store read a page at a time, one bill built,
  rendered (:class:`pes_sdk.bills.BillRenderer`), compared with what is on disk and written
  atomically, into a scratch folder removed afterwards. Its peak RSS is taken after the
  first ``--bills`` / 10 bills too (``ru_maxrss`` then), so that "flat" is a measurement;
* **store read** (the baseline): the same accounts' rows read through the same pages,
  grouped by account, nothing else: what no bill can be faster than;
* **render only**: one bill rendered ``--render`` times, no store, no file: the renderer's
  own cost, with each QR encoder (zxing-cpp's writer, segno);
* **fpdf2** (when installed): the same bill through fpdf2 with the same font, what a PDF
  library costs (why the kit writes its PDFs itself: docs/bills.md).

Each figure is one run (the bills run takes minutes; ``--repeat`` for more, the fastest kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
INN = "7707083893"
SERVICES = ("Отопление", "Горячее водоснабжение", "Холодное водоснабжение", "Вывоз ТКО")
HOUSES = 2000
TARGET_RATE = 200.0


def _partner() -> Any:
    from pes_sdk.models.partners import BankDetails, Partner

    bank = BankDetails(
        "044525225", "40702810638000000000", "30101810400000000225", "ПАО СБЕРБАНК", "г. Москва"
    )
    return Partner(INN, "ООО «Управляющая компания «Дом»", bank, kpp="770701001")


def _house_ids() -> list[str]:
    rng = random.Random(7)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(HOUSES)]


def _records(rows: int) -> Any:
    from pes_sdk.models.debts import DebtRecord
    from pes_sdk.period import Period
    from pes_sdk.premises import Premises

    period = Period(2026, 11)
    houses = _house_ids()
    rng = random.Random(11)
    per = len(SERVICES)
    for n in range(rows // per):
        account = f"{n:09d}"
        house = houses[n % HOUSES]
        premises = Premises(f"кв. {n % 400 + 1}")
        for service in SERVICES:
            # some advances, as real registries have
            cents = rng.randint(-5000, 500000) if rng.random() < 0.05 else rng.randint(0, 500000)
            amount = (Decimal(cents) / 100).quantize(Decimal("0.01"))
            yield DebtRecord.from_checked(account, house, premises, amount, period, service)


def _db(rows: int) -> Path:
    """The store holding the registry (made once per row count)."""
    from pes_sdk_runner.store import House, open_store

    from pes_sdk.period import Period

    DATA.mkdir(parents=True, exist_ok=True)
    # A store made under other migrations would be refused (or migrated mid-measurement):
    # the cached file is named by the migrations' content too.
    import pes_sdk_runner.store as store_package

    migrations = Path(store_package.__file__).parent / "migrations"
    schema = hashlib.sha256()
    for sql in sorted(migrations.glob("*.sql")):
        schema.update(sql.name.encode() + sql.read_bytes())
    path = DATA / f"bills-{rows}-{schema.hexdigest()[:8]}.db"
    if path.exists():
        return path
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{tmp}")
    try:
        store.upsert_partners([_partner()])
        store.upsert_houses(
            House.from_address(guid, f"г. Пермь, ул. Ленина, д. {i + 1}")
            for i, guid in enumerate(_house_ids())
        )
        started = time.perf_counter()
        store.ingest_debt_registry(
            INN, Period(2026, 11), 1, _records(rows), sha256=hashlib.sha256(b"x").hexdigest()
        )
        print(f"ingested {rows:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        store.close()
    tmp.rename(path)
    return path


# -- the children ---------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: argparse.Namespace) -> dict[str, Any]:
    from pes_sdk_runner.bills import active_registry, make_bills
    from pes_sdk_runner.store import open_store

    from pes_sdk.period import Period

    store = open_store(f"sqlite:///{args.db}")
    registry = active_registry(store, INN, Period(2026, 11), 1)
    assert registry is not None
    if args.child == "read":
        import itertools

        from pes_sdk_runner.bills import _rows

        started, cpu = time.perf_counter(), time.process_time()
        accounts = 0
        for _, group in itertools.groupby(_rows(store, registry, None, 2000), lambda r: r.account):
            list(group)
            accounts += 1
            if accounts >= args.bills:
                break
        return {
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "accounts": accounts,
        }
    if args.child == "bills":
        from pes_sdk.bills import BillRenderer

        render = BillRenderer(qr_encoder=args.encoder)
        out = Path(args.out)
        partner = _partner()
        first = max(args.bills // 10, 1)
        started, cpu = time.perf_counter(), time.process_time()
        head = make_bills(store, partner, registry, out, max_accounts=first, render=render)
        rss_head = _maxrss_mb()
        rest = make_bills(
            store, partner, registry, out, after=head.last,
            max_accounts=args.bills - head.accounts, render=render,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        size = sum(f.stat().st_size for f in (out / "bills" / INN / "2026-11").iterdir())
        return {
            "seconds": seconds,
            "cpu": cpu,
            "accounts": head.accounts + rest.accounts,
            "written": head.written + rest.written,
            "rss_head": rss_head,
            "bytes": size,
            "encoder": render.qr_encoder,
        }
    raise SystemExit(f"unknown child {args.child}")


def _render_only(encoder: str, count: int) -> dict[str, Any]:
    from pes_sdk.bills import Bill, BillLine, BillRenderer
    from pes_sdk.period import Period

    started = time.perf_counter()
    render = BillRenderer(qr_encoder=encoder)
    setup = time.perf_counter() - started
    bill = Bill(
        _partner(), Period(2026, 11), "000123456", "кв. 12",
        [BillLine(s, Decimal("1234.56")) for s in SERVICES],
        address="г. Пермь, ул. Ленина, д. 10", registry_number=1,
    )  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        render.render(bill)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "count": count,
        "setup": setup,
    }


def _fpdf2(count: int) -> dict[str, Any] | None:
    try:
        from fpdf import FPDF
    except ImportError:
        return None
    from pes_sdk.bills import find_font, rubles

    font = str(find_font())
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        pdf = FPDF()
        pdf.add_page()
        pdf.add_font("DejaVu", "", font)
        pdf.set_font("DejaVu", size=10)
        pdf.cell(0, 6, "Квитанция на оплату за ноябрь 2026", new_x="LMARGIN", new_y="NEXT")
        for service in SERVICES:
            pdf.cell(0, 6, f"{service} {rubles(Decimal('1234.56'))}", new_x="LMARGIN", new_y="NEXT")
        pdf.output()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "count": count,
    }


def _run_child(argv: list[str]) -> tuple[dict[str, Any], float]:
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=sys.stderr)
        # wait4 reaps this very child and gives its own rusage (not a max over all children).
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"{argv[-1]} failed ({status})")
        out.seek(0)
        return json.loads(out.read().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bills", type=int, default=100_000)
    parser.add_argument("--render", type=int, default=300, help="bills of the render-only runs")
    parser.add_argument("--encoder", default="auto", choices=["auto", "zxing", "segno"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return

    db = _db(args.rows)
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--db", str(db), "--bills", str(args.bills), "--encoder", args.encoder]
    read, read_rss = min(
        (_run_child([*me, *common, "--child", "read"]) for _ in range(args.repeat)),
        key=lambda r: r[0]["seconds"],
    )
    runs = []
    for _ in range(args.repeat):
        out = Path(tempfile.mkdtemp(prefix="pes-bills-"))
        try:
            runs.append(_run_child([*me, *common, "--out", str(out), "--child", "bills"]))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    bills, bills_rss = min(runs, key=lambda r: r[0]["seconds"])
    renders = {enc: _render_only(enc, args.render) for enc in ("zxing", "segno")}
    fpdf = _fpdf2(max(args.render // 10, 5))

    def rates(count: int, r: dict[str, Any]) -> str:
        return f"{count / r['seconds']:,.1f} | {count / r['cpu']:,.1f}"

    rate = bills["accounts"] / bills["seconds"]
    cpu_rate = bills["accounts"] / bills["cpu"]
    read_rate = read["accounts"] / read["seconds"]
    load = os.getloadavg()[0]
    print(f"## Bills (квитанции): {bills['accounts']:,} of a {args.rows:,}-row registry\n")
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the end; QR encoder {bills['encoder']}; SQLite store. "
          "Per CPU-second: the rate one idle core would give.\n")  # fmt: skip
    print("| what | per second | per CPU-second | ratio to the store read | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    print(f"| store read (baseline): accounts grouped | {rates(read['accounts'], read)} | 1.00 | "
          f"{read_rss:.0f} MB |")  # fmt: skip
    print(f"| **bills**: read, render, compare, write | {rates(bills['accounts'], bills)} | "
          f"{rate / read_rate:.4f} | {bills_rss:.0f} MB (after the first tenth: "
          f"{bills['rss_head']:.0f} MB) |")  # fmt: skip
    for enc, r in renders.items():
        print(f"| render only, QR by {enc} | {rates(r['count'], r)} | "
              f"{r['count'] / r['seconds'] / read_rate:.4f} | (renderer set up in "
              f"{r['setup']:.2f} s) |")  # fmt: skip
    if fpdf is not None:
        print(f"| fpdf2, same font, no QR | {rates(fpdf['count'], fpdf)} | "
              f"{fpdf['count'] / fpdf['seconds'] / read_rate:.5f} | |")  # fmt: skip
    print(f"\n{bills['written']:,} files written, {bills['bytes'] / bills['accounts'] / 1024:.1f} "
          f"KB a bill on average. Goal: {TARGET_RATE:.0f} bills a second: "
          f"{'met' if rate >= TARGET_RATE else 'not met'} by the wall clock, "
          f"{'met' if cpu_rate >= TARGET_RATE else 'not met'} per CPU-second. Memory: peak "
          f"{bills['rss_head']:.0f} MB after {max(args.bills // 10, 1):,} bills, "
          f"{bills_rss:.0f} MB after {bills['accounts']:,}.")  # fmt: skip


if __name__ == "__main__":
    main()
