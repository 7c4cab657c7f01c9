"""Benchmark (not a test): one day closed for 300 partners holding 50,000 payments.

Issue target: under 10 s on the 2-core machine.

What is measured:

* **Set-up** (not timed): the example configuration's three partners copied into 300 (each
  with its own ИНН): payments files alternately ``sber-payments`` and ``pes-payments``,
  transfer orders through ``1c-clientbank``, ``1c-directbank`` or none (a third each),
  the examples' fee plans (percent, subscription) and cut-offs. 50,000 one-line payments,
  spread over the partners (166–167 each) and over each partner's day window, recorded
  as the processor records them: the paid entry in the book (``Store.add``) and its ledger
  credit with the confirmation time (``Store.ledger_append``, the credit
  ``credit_payment`` would book). The set-up's commits are not synced to disk (a store
  opened with ``synchronous=OFF``), which is set-up only.
* **Close** (the figure): ``pes_sdk_runner.close.close_day`` for every partner, one after
  the other, on a store opened normally (WAL, ``synchronous=FULL``): the day's credits read,
  each line's payment looked up for its address, the day settled by the fee plan, the
  registry number recorded, the registry file written atomically in the partner's format,
  the transfer order written, the fee and transfer ledger entries appended, the delivery
  opened.
* **Baseline**, same run, before the close: for every partner, the day's credits read from
  the store (``Store.ledger_entries`` over the day's window) and written as payment
  records with the same format, with no settlement, numbering, address look-up, transfer
  order, ledger or delivery: reading and writing alone.

    .venv/bin/python runner/benchmarks/close_day.py [--partners 300] [--payments 50000]
    .venv/bin/python runner/benchmarks/close_day.py --quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import _bench
import attrs
from pes_sdk_runner.close import close_day, day_window
from pes_sdk_runner.config.models import ChannelConfig, PartnerConfig, RunnerConfig
from pes_sdk_runner.store import LedgerEntry, LedgerKind, SqlStore, open_store

from pes_sdk.files import atomic_path
from pes_sdk.gateways.models import PaymentState
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod, PaymentRecord
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost, get_host

DAY = dt.date(2026, 11, 26)
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)  # every partner's day is over
PAYMENTS_FORMATS = ("sber-payments", "pes-payments")
TRANSFER_FORMATS = ("1c-clientbank", "1c-directbank", None)


def inn(n: int) -> str:
    """A valid 10-digit ИНН (check digit computed), distinct for each ``n``."""
    body = f"55{n:07d}"
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11 % 10
    return f"{body}{check}"


def partners(config: RunnerConfig, n: int) -> tuple[PartnerConfig, ...]:
    """``n`` partners made from the example's three, each with its own ИНН and folder."""
    out = []
    for p in range(n):
        template = config.partners[p % len(config.partners)]
        number = inn(p)
        partner = attrs.evolve(template.partner, inn=number, name=f"ООО «Партнёр {p}»")
        channel = ChannelConfig(
            "outbox",
            folder=config.service.data / "outbox" / number,
            format=PAYMENTS_FORMATS[p % 2],
        )
        out.append(
            attrs.evolve(
                template,
                partner=partner,
                channel=channel,
                transfer_format=TRANSFER_FORMATS[p % 3],
            )
        )
    return tuple(out)


def book(url: str, config: RunnerConfig, n: int) -> float:
    """Record ``n`` paid, credited one-line payments inside their partners' day windows."""
    started = time.perf_counter()
    store = _bench.unsynced_store(url)  # set-up only: the close runs on a normal store
    store.upsert_partners(p.partner for p in config.partners)
    zone = config.service.time_zone
    windows = [day_window(DAY, p.cutoff, zone) for p in config.partners]
    per = -(-n // len(config.partners))
    credits: list[LedgerEntry] = []
    for i in range(n):
        k = i % len(config.partners)
        partner = config.partners[k]
        start, end = windows[k]
        # spread over the window, never on its end (half-open)
        at = start + (end - start) * ((i // len(config.partners)) + 0.5) / per
        order = uuid.UUID(int=i + 1)
        line = PaymentLine(
            partner.inn,
            f"{k:03d}{i:07d}",
            Decimal(100 + (i * 7919) % 500_000).scaleb(-2),
            service=("Отопление", "Содержание жилья", "Водоснабжение")[i % 3],
            house_id=str(uuid.UUID(int=1_000_000 + i % 5000)),
            premises=f"кв. {1 + i % 300}",
            period=Period(2026, 11),
        )
        entry = PaymentEntry(
            Payment(order, at, PaymentMethod.CARD, [line]),
            uuid.uuid4().hex,
            state=PaymentState.SUCCEEDED,
            gateway_payment_id=f"gw-{order.hex}",
        )
        store.add(entry)
        credits.append(
            LedgerEntry(
                LedgerKind.CREDIT,
                partner.inn,
                line.amount,
                service=line.service,
                account=line.account,
                order_id=order,
                ref=f"credit:{order}:0",
                memo=f"payment {entry.gateway_payment_id}",
                at=at,
            )
        )
    store.ledger_append(credits)
    store.close()
    return time.perf_counter() - started


def baseline(
    store: SqlStore, config: RunnerConfig, host: PluginHost, out: Path
) -> tuple[float, int]:
    """Read each partner's day credits and write them with its format; no bookkeeping."""
    zone = config.service.time_zone
    written = 0
    _warm_up(host, out)
    started = time.perf_counter()
    for p in config.partners:
        start, end = day_window(DAY, p.cutoff, zone)
        entries = store.ledger_entries(p.inn, kind=LedgerKind.CREDIT, since=start, until=end)
        records = [
            PaymentRecord(
                paid_at=e.at.astimezone(zone).replace(microsecond=0) if e.at else end,
                operation_id=e.ref or "",
                account=e.account or "",
                amount=e.amount,
                transfer=e.amount,
                fee=Decimal("0.00"),
                service=e.service,
            )
            for e in entries
        ]
        paid = sum((r.amount for r in records), Decimal("0.00"))
        header = RegistryHeader(
            kind=RegistryKind.PAYMENTS,
            partner_inn=p.inn,
            partner_account=p.partner.bank.account,
            number=1,
            date=DAY,
            created_at=end.astimezone(zone).replace(tzinfo=None),
            control=ControlTotals(
                len(records), {"amount": paid, "transfer": paid, "fee": Decimal("0.00")}
            ),
        )
        fmt = host.format(p.channel.format or "pes-payments")
        path = out / f"{p.inn}.txt"
        with atomic_path(path) as tmp:
            fmt.write(tmp, header, records)
        written += len(records)
    return time.perf_counter() - started, written


def _warm_up(host: PluginHost, out: Path) -> None:
    """Load every format both timed runs use, so that neither pays for the imports."""
    record = PaymentRecord(NOW, "warm-up", "1", Decimal("1.00"), Decimal("1.00"), Decimal(0))
    header = RegistryHeader(kind=RegistryKind.PAYMENTS, partner_inn=inn(0), number=1, date=DAY)
    for name in PAYMENTS_FORMATS:
        with atomic_path(out / f"warm-up-{name}.txt") as tmp:
            host.format(name).write(tmp, header, [record])
    for transfer in TRANSFER_FORMATS:
        if transfer is not None:
            host.format(transfer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=300)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 12 partners, 1,000")
    parser.add_argument("--dir", default=None, help="where the database and files go")
    args = parser.parse_args()
    n_partners, n_payments = (12, 1000) if args.quick else (args.partners, args.payments)
    host = get_host()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'runner.db'}"
        config = _bench.runner_config(folder / "data", url)
        config = attrs.evolve(config, partners=partners(config, n_partners))
        setup = book(url, config, n_payments)
        store = open_store(url)
        try:
            (folder / "baseline").mkdir()
            base, base_records = baseline(store, config, host, folder / "baseline")
            each: list[float] = []
            records = files = 0
            started = time.perf_counter()
            for p in config.partners:
                t0 = time.perf_counter()
                done = close_day(store, config, host, p, DAY, now=NOW)
                each.append(time.perf_counter() - t0)
                records += len(done.registry.records) if done.registry else 0
                files += (done.registry_path is not None) + (done.transfer_path is not None)
            total = time.perf_counter() - started
        finally:
            store.close()
    if records != n_payments or base_records != n_payments:
        raise SystemExit(f"closed {records} and baseline {base_records} of {n_payments} payments")
    print(f"machine:                      {_bench.machine()}")
    print(f"partners, payments:           {n_partners:,}, {n_payments:,} (set-up {setup:.1f} s)")
    print(
        f"baseline read + write only:   {base:7.2f} s  "
        f"({base_records / base:,.0f} records/s; no settlement, numbers, ledger)"
    )
    print(
        f"close_day, every partner:     {total:7.2f} s  ({records / total:,.0f} records/s, "
        f"{files} files)"
    )
    print(
        f"per partner:                  median {statistics.median(each) * 1000:6.1f} ms, "
        f"max {max(each) * 1000:6.1f} ms"
    )
    print(f"ratio close / baseline:       {total / base:7.2f}")
    print(f"target close < 10 s:          {'met' if total < 10 else 'missed'}")


if __name__ == "__main__":
    main()
