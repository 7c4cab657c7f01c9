"""Benchmark (not a test): the client cabinet's payment page against the JSON look-up.

What is measured:

* **Set-up**: the example configuration's three partners (УК, water, heat) serve every
  premises of 5,334 houses of 50 flats: 800,100 personal accounts (лицевые счета), one per
  partner and premises, with 2 + 2 + 1 services (1,333,500 debt lines), ingested with
  ``Store.ingest_debt_registry`` into SQLite. The database is prepared once and kept in
  ``runner/benchmarks/data/`` (git-ignored; ``--rebuild`` makes it again); each run copies
  it, so the run's cabinets and ticks never reach the kept file.
* **Sessions**: ``--sessions`` cabinets (one per phone, logged in with a code as a client
  is), each with the three accounts of its own address linked and every service there
  ticked once through the page (a returning client: the basket is priced at once).
* **The figure**: ``GET /cabinet/pay/{inn}/{account}`` (Пополнение лицевого счёта: the
  УК account's 2 services and the 3 others found at the address, priced by the partners'
  fee plans), each connection with its own session's cookie, ``--sessions`` concurrent
  keep-alive connections from two other processes, for ``--seconds``, against the runner
  served by uvicorn in its own process (``_bench.py serve --cabinet``).
* **Baseline**, same run, same server, same connections: ``GET /v1/services?house=…``
  for the same addresses with an app's token (the JSON look-up of the same 5 services).
  Measured before and after the page, and the page's ratio taken against their mean.
* **Goal** (issue 15): the page at least half the look-up's rate, p95 under 50 ms.

    .venv/bin/python runner/benchmarks/cabinet.py [--seconds 8] [--sessions 50]
    .venv/bin/python runner/benchmarks/cabinet.py --quick   # 20,100 accounts, 10 sessions
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import random
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import _bench
from pes_sdk_runner.cabinet import Cabinets
from pes_sdk_runner.store import open_store

from pes_sdk.models.debts import DebtRecord
from pes_sdk.notifications import Notification, NotificationChannel, SendResult
from pes_sdk.period import Period
from pes_sdk.premises import Premises

FLATS = 50
#: The example configuration's partners and the services each bills every premises for.
SERVICES = {
    "5003012349": ("Содержание жилья", "Взнос на капремонт"),
    "7720123457": ("Холодное водоснабжение", "Водоотведение"),
    "5904123453": ("Отопление",),
}
PER_ADDRESS = sum(len(s) for s in SERVICES.values())
KEPT = Path(__file__).resolve().parent / "data"
SESSION_COOKIE = "pes_cabinet"


def house(h: int) -> str:
    return str(uuid.UUID(int=0xCAB1_0000_0000_0000_0000_0000_0000_0000 + h))


def account(inn: str, h: int, flat: int) -> str:
    return f"{inn[-3:]}{h:05d}{flat:03d}"


def premises(flat: int) -> str:
    return f"кв. {flat}"


def records(inn: str, houses: int) -> Iterator[DebtRecord]:
    written = [Premises(premises(f)) for f in range(1, FLATS + 1)]
    for h in range(houses):
        guid = house(h)
        for f in range(1, FLATS + 1):
            for service, amount in _amounts(inn, h, f):
                yield DebtRecord.from_checked(
                    account(inn, h, f), guid, written[f - 1], amount, service=service
                )


def prepare(path: Path, houses: int, config: Any) -> tuple[int, float]:
    """Ingest every partner's registry into a new SQLite file; (accounts, seconds)."""
    url = f"sqlite:///{path}"
    store = _bench.unsynced_store(url)  # set-up only: nothing measured writes through it
    store.upsert_partners(p.partner for p in config.partners)
    started = time.perf_counter()
    for inn in SERVICES:
        store.ingest_debt_registry(inn, Period(2026, 11), 1, records(inn, houses), sha256=inn)
    elapsed = time.perf_counter() - started
    store.close()
    return houses * FLATS * len(SERVICES), elapsed


class _HandedBack(NotificationChannel):
    """Login codes handed back to the benchmark instead of written to an outbox."""

    name = "bench"
    kinds = ("sms",)

    def __init__(self) -> None:
        self.texts: list[str] = []

    def send(self, notification: Notification) -> SendResult:
        self.texts.append(notification.text)
        return SendResult(f"bench-{len(self.texts)}", dt.datetime.now(dt.UTC))


def log_in(url: str, data: Path, count: int) -> list[str]:
    """``count`` logged-in cabinets (a code each, as a client logs in): session tokens."""
    store = open_store(url)
    channel = _HandedBack()
    cabinets = Cabinets(store, _bench.cabinet_config(data), channel)
    tokens = []
    try:
        for i in range(count):
            sent = cabinets.login.request_code(f"+7900{i:07d}", "127.0.0.1")
            code = re.search(r"\d{6}", channel.texts[-1])
            assert code is not None
            issued = cabinets.login.confirm(sent.attempt, code.group(0), "127.0.0.1")
            tokens.append(issued.token)
    finally:
        store.close()
    return tokens


def due(inn: str, h: int, f: int) -> Decimal:
    """The amount due on the account's bill: the proof that links it."""
    return sum((r.amount for r in records_at(inn, h, f)), Decimal(0))


def records_at(inn: str, h: int, f: int) -> list[DebtRecord]:
    return [
        DebtRecord.from_checked(
            account(inn, h, f), house(h), Premises(premises(f)), amount, service=service
        )
        for service, amount in _amounts(inn, h, f)
    ]


def _amounts(inn: str, h: int, f: int) -> list[tuple[str, Decimal]]:
    return [
        (service, Decimal(50_000 + (h * 37 + f * 101 + s * 7) % 900_000).scaleb(-2))
        for s, service in enumerate(SERVICES[inn])
    ]


def page_path(h: int, f: int) -> str:
    inn = next(iter(SERVICES))
    return f"/cabinet/pay/{inn}/{account(inn, h, f)}"


def link_all(base: str, token: str, h: int, f: int) -> None:
    """Link the address's three accounts through the cabinet's page, as a client does
    (premises and amount due as the proof; linking ticks the account's services), and
    check that the payment page then has every service there ticked and priced."""
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    for inn in SERVICES:
        status, body = _bench.get(base, "/cabinet/accounts", cookie)
        fields = {
            "csrf": _field(body.decode(), "csrf"),
            "partner": inn,
            "account": account(inn, h, f),
            "premises": premises(f),
            "due": f"{due(inn, h, f):.2f}".replace(".", ","),
        }
        status, body = _post(base, "/cabinet/accounts/link", fields, cookie)
        if status != 303:
            raise SystemExit(f"linking answered {status}: {_errors(body.decode())}")
    path = page_path(h, f)
    status, body = _bench.get(base, path, cookie)
    page = body.decode()
    keys = re.findall(r'name="tick" value="([0-9a-f]{16})"', page)
    if status != 200 or len(keys) != PER_ADDRESS or _errors(page):
        raise SystemExit(f"GET {path} answered {status}, {len(keys)} services: {_errors(page)}")


def _post(
    base: str, path: str, fields: dict[str, str], headers: dict[str, str]
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    try:
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", path, body=urllib.parse.urlencode(fields), headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _errors(page: str) -> list[str]:
    return re.findall(r'class="[^"]*(?:error|refusal)[^"]*"[^>]*>([^<]+)<', page)


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}"[^>]*?value="([^"]*)"', page)
    return found.group(1) if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--houses", type=int, default=5334, help="50 flats × 3 accounts each")
    parser.add_argument("--seconds", type=float, default=8.0, help="for each measurement")
    parser.add_argument("--sessions", type=int, default=50, help="concurrent, one each")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,100 accounts")
    parser.add_argument("--rebuild", action="store_true", help="prepare the database again")
    parser.add_argument("--dir", default=None, help="where the run's files go")
    parser.add_argument(
        "--profile", default=None, help="py-spy of the server during the page's run to this SVG"
    )
    args = parser.parse_args()
    houses = 134 if args.quick else args.houses
    sessions = 10 if args.quick else args.sessions
    seconds = 0.5 if args.quick else args.seconds
    rng = random.Random(2026)
    addresses = [(rng.randrange(houses), rng.randrange(1, FLATS + 1)) for _ in range(sessions)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        data = folder / "data"
        db = folder / "runner.db"
        config = _bench.runner_config(data, f"sqlite:///{db}", cabinet=True)
        # The quick run builds its own small file: a test leaves nothing behind.
        kept = None if args.quick else KEPT / f"cabinet-{houses}.db"
        if kept is not None and kept.exists() and not args.rebuild:
            accounts, ingest, how = houses * FLATS * len(SERVICES), 0.0, f"kept {kept.name}"
            started = time.perf_counter()
            shutil.copyfile(kept, db)
            copied = time.perf_counter() - started
            how += f", copied in {copied:.1f} s"
        else:
            accounts, ingest = prepare(db, houses, config)
            how = f"ingested in {ingest:.1f} s"
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(db, kept)
        url = f"sqlite:///{db}"
        tokens = log_in(url, data, sessions)
        pages: list[_bench.Request] = [
            ("GET", page_path(h, f), None, {"Cookie": f"{SESSION_COOKIE}={t}"})
            for (h, f), t in zip(addresses, tokens, strict=True)
        ]
        query = urllib.parse.urlencode
        looks: list[_bench.Request] = [
            ("GET", f"/v1/services?{query({'house': house(h), 'premises': f})}", None, _bench.AUTH)
            for h, f in addresses
        ]
        with _bench.server(url, data, cabinet=True) as base:
            for (h, f), token in zip(addresses, tokens, strict=True):
                link_all(base, token, h, f)
            status, body = _bench.get(base, looks[0][1], _bench.AUTH)
            if status != 200 or body.count(b'"partner_inn"') != PER_ADDRESS:
                raise SystemExit(f"GET /v1/services answered {status}: {body[:300]!r}")
            warm = max(1.0, seconds / 4) if not args.quick else 0.3
            _bench.drive(base, looks, connections=sessions, seconds=warm)
            _bench.drive(base, pages, connections=sessions, seconds=warm)
            before = _bench.drive(base, looks, connections=sessions, seconds=seconds)
            with _profiled(url, args.profile, seconds):
                page = _bench.drive(base, pages, connections=sessions, seconds=seconds)
            after = _bench.drive(base, looks, connections=sessions, seconds=seconds)
    for run, what in ((before, "look-ups"), (page, "payment page"), (after, "look-ups")):
        if run.failed:
            raise SystemExit(f"{what}: {run.failed} failed, first: {run.first_failure}")
    lookup_rate = (before.rate + after.rate) / 2
    ratio = page.rate / lookup_rate
    met = ratio >= 0.5 and page.percentile(95) < 50
    print(f"machine:                       {_bench.machine()}")
    print(f"accounts loaded:               {accounts:,} (SQLite; {how})")
    print(f"sessions:                      {sessions} concurrent, {seconds:g} s each measurement")
    print(f"GET /v1/services, before:      {_rate(before)}  (baseline)")
    print(f"GET /cabinet/pay (the page):   {_rate(page)}")
    print(f"GET /v1/services, after:       {_rate(after)}  (baseline)")
    print(f"ratio page / look-ups:         {ratio:8.3f}")
    print(f"goal >= 0.5 and p95 < 50 ms:   {'met' if met else 'missed'}")


@contextlib.contextmanager
def _profiled(store_url: str, svg: str | None, seconds: float) -> Iterator[None]:
    """py-spy (``--gil``: the interpreter's own time) of the server while the block runs."""
    if svg is None:
        yield
        return
    pid = subprocess.check_output(["pgrep", "-f", f"serve --store {store_url}"], text=True)
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--gil",
            "--nonblocking",
            "-p",
            pid.split()[0],
            "-o",
            svg,
            "-d",
            str(int(seconds)),
            "--format",
            "raw" if svg.endswith(".txt") else "flamegraph",
        ]
    )
    try:
        yield
    finally:
        spy.wait()


def _rate(load: _bench.Load) -> str:
    return (
        f"{load.rate:8,.0f} /s  p50 {load.percentile(50):5.1f} ms"
        f"  p95 {load.percentile(95):5.1f} ms  p99 {load.percentile(99):5.1f} ms"
    )


if __name__ == "__main__":
    main()
