"""Benchmark (not a test): read and write 1,000,000 ``1c-xml-payments`` records.

Measures in one run, each step in its own subprocess so that its peak RSS is its own:

* ``bare``: a bare lxml ``iterparse`` loop over the file (end events filtered to the record
  element, clearing each element and deleting its preceding siblings), doing nothing else;
* ``read``: our reader (``1c-xml-payments``), building every ``PaymentRecord``;
* ``write``: our writer, writing the same records (generated on the fly, not held in memory).

Prints CPU seconds of each step (``time.process_time``: on a shared machine, wall time
measures the neighbours as much as the code), the ratio to the bare loop and peak RSS.
Targets (issue 4): read and write within 2x of the bare loop; read peak RSS under 150 MB.

    python adapters/onec-xml/benchmarks/xml_read.py [--records N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

HOUSES = 5000
TZ = dt.timezone(dt.timedelta(hours=3))


def records(n: int) -> Iterator[object]:
    """``n`` plausible payments of one day: 5,000 houses, Cyrillic premises, a few services."""
    from pes_sdk.models import PaymentRecord
    from pes_sdk.period import Period

    rnd = random.Random(4)
    houses = [str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(HOUSES)]
    services = ["Содержание жилья", "Холодное водоснабжение", "Отопление", "Вывоз ТКО"]
    suffixes = ["", "", "", "а", "/1", "-2"]
    period = Period(2026, 11)
    start = dt.datetime(2026, 11, 27, tzinfo=TZ)
    for i in range(n):
        kop = rnd.randint(100, 900_000)
        fee = (kop * 136 + 5000) // 10000
        yield PaymentRecord(
            paid_at=start + dt.timedelta(seconds=i * 86400 // n),
            operation_id=f"{i:012d}",
            account=f"{rnd.randint(0, 99_999_999):010d}",
            amount=Decimal(kop).scaleb(-2),
            transfer=Decimal(kop - fee).scaleb(-2),
            fee=Decimal(fee).scaleb(-2),
            house_id=rnd.choice(houses),
            premises=f"{rnd.randint(1, 400)}{rnd.choice(suffixes)}",
            period=period,
            service=rnd.choice(services),
            channel="app",
        )


def _header() -> object:
    from pes_sdk.models import RegistryHeader, RegistryKind

    return RegistryHeader(
        RegistryKind.PAYMENTS, partner_inn="7707083893", number=1, date=dt.date(2026, 11, 27)
    )


def step(name: str, path: Path, n: int) -> dict[str, float]:
    """Run one step in this process and return its figures."""
    from lxml import etree
    from pes_sdk_1c_xml import OneCXmlPayments
    from pes_sdk_1c_xml.schema import qname

    from pes_sdk.safexml import HARDENED_PARSER_OPTIONS

    fmt = OneCXmlPayments()
    count = 0
    if name == "write":
        # Generating the records costs as much as writing them: time it apart and subtract.
        w0 = time.perf_counter()
        t0 = time.process_time()
        for _ in records(n):
            pass
        gen_seconds = time.process_time() - t0
        gen_wall = time.perf_counter() - w0
        w0 = time.perf_counter()
        t0 = time.process_time()
        report = fmt.write(path, _header(), records(n))  # type: ignore[arg-type]
        seconds = time.process_time() - t0 - gen_seconds
        wall = time.perf_counter() - w0 - gen_wall
        count = report.records
    elif name == "bare":
        w0 = time.perf_counter()
        t0 = time.process_time()
        with open(path, "rb") as fh:
            for _, el in etree.iterparse(
                fh, events=("end",), tag=qname("Payment"), **HARDENED_PARSER_OPTIONS
            ):
                count += 1
                el.clear()
                while el.getprevious() is not None:
                    del el.getparent()[0]
        seconds = time.process_time() - t0
        wall = time.perf_counter() - w0
    elif name == "read":
        w0 = time.perf_counter()
        t0 = time.process_time()
        with fmt.open(path) as reader:
            for _ in reader:
                count += 1
        seconds = time.process_time() - t0
        wall = time.perf_counter() - w0
        assert reader.report.valid, reader.report
    else:
        raise SystemExit(f"unknown step {name}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": seconds, "wall": wall, "rss_mb": rss, "records": count}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument(
        "--rounds", type=int, default=3, help="run every step this many times, keep the best"
    )
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.file, args.records)))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "payments.xml"

        def run(name: str, target: Path) -> dict[str, float]:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--step",
                    name,
                    "--file",
                    str(target),
                    "--records",
                    str(args.records),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            return dict(json.loads(out))

        print(f"{args.records:,} 1c-xml-payments records, best of {args.rounds} rounds")
        results: dict[str, list[dict[str, float]]] = {"bare": [], "read": [], "write": []}
        results["write"].append(run("write", path))  # also makes the file the others read
        print(f"file: {path.stat().st_size / 1e6:.0f} MB")
        # Steps alternate, so that a load spike on a shared machine hits them alike.
        for i in range(args.rounds):
            results["bare"].append(run("bare", path))
            results["read"].append(run("read", path))
            if i:
                results["write"].append(run("write", Path(tmp) / "again.xml"))
        bare, read, write = (
            min(results[k], key=lambda r: r["seconds"]) for k in ("bare", "read", "write")
        )
        base = bare["seconds"]
        print(f"{'step':<8}{'CPU s':>8}{'x bare':>9}{'wall s':>9}{'peak RSS MB':>14}")
        for name, r in (("bare", bare), ("read", read), ("write", write)):
            ratio = r["seconds"] / base
            print(
                f"{name:<8}{r['seconds']:>8.2f}{ratio:>9.2f}{r['wall']:>9.2f}{r['rss_mb']:>14.0f}"
            )


if __name__ == "__main__":
    main()
