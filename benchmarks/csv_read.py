"""Benchmark: reading a large ``sber-debts`` registry, against bare ``csv.reader`` and pandas.

Not a test: run it by hand (or ``make bench``) and paste its markdown into
docs/performance.md::

    .venv/bin/pip install -r benchmarks/requirements.txt   # pandas, psutil: benchmark only
    .venv/bin/python benchmarks/csv_read.py [--rows 1000000] [--repeat 3] [--profile 200000]

It generates a ``sber-debts`` file (cp1251, no header, decimal comma, Cyrillic premises such
as ``12а`` and ``кв. 7``, real-looking house GUIDs, accounts with leading zeros, a control
footer) into benchmarks/data/ (git-ignored; kept between runs), then times, each in a fresh
subprocess so that the peak RSS belongs to that measurement alone (``os.wait4`` returns the
child's own ``ru_maxrss``):

* ``pes validate FILE --format sber-debts``: the real CLI path, through the console script;
* ``pes convert`` sber-debts → pes-debts: read, validate, model, write;
* the SDK reader through its Python API (no CLI), iterated for its records;
* ``pes_sdk.operations.validate()`` through the Python API: what ``pes validate`` runs,
  without the command line (it checks every row without building records);
* the encoding rule the reader applies first (``pes_sdk.formats.text.wrong_encoding``: a
  sample of the file's head, judged), 100 times in one process;
* bare ``csv.reader`` over the decoded file, doing nothing per row (the baseline);
* ``pandas.read_csv(dtype=str)``: unvalidated, the target to beat (skipped without pandas);
* Python starting and exiting, the fixed cost inside every figure above.

Each figure is the fastest of ``--repeat`` runs (the least disturbed by the machine) and the
largest peak RSS seen. pandas and psutil are benchmark-only: they are in
benchmarks/requirements.txt, not in any runtime dependency.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
INN = "7707083893"
PARTNER_ACCOUNT = "40702810938000000001"
#: ``ИНН_РС_НОМЕР_ММГГ.txt``: the name a partner's sber-debts registry for 2026-11 carries.
FILE_NAME = f"{INN}_{PARTNER_ACCOUNT}_001_1126.txt"

#: Targets from issue 2.
TARGET_RATIO = 2.0
TARGET_RSS_MB = 150.0

SERVICES = [
    "Электроснабжение",
    "Содержание жилья",
    "Холодное водоснабжение",
    "Горячее водоснабжение",
    "Отопление",
    "Вывоз ТКО",
    "",
]


# -- the data ----------------------------------------------------------------------------------


def _premises(rng: random.Random) -> str:
    n = rng.randint(1, 400)
    kind = rng.random()
    if kind < 0.45:
        return str(n)
    if kind < 0.60:
        return f"{n}{rng.choice('абвг')}"
    if kind < 0.75:
        return f"кв. {n}"
    if kind < 0.85:
        return f"{n}/{rng.randint(1, 4)}"
    if kind < 0.92:
        return f"{n}, ком. {rng.randint(1, 5)}"
    if kind < 0.97:
        return f"пом. {rng.randint(1, 30)}"
    return ""  # a private house: no premises


def generate(path: Path, rows: int, seed: int = 2026) -> None:
    """Write a ``rows``-line sber-debts registry to ``path`` (streaming, bounded memory)."""
    rng = random.Random(seed)
    houses = [
        str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(max(rows // 200, 1))
    ]
    total = 0
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="cp1251", newline="") as fh:
        buf: list[str] = []
        for i in range(rows):
            # Leading zeros of different lengths: unique, and kept as text by any reader.
            account = "0" * rng.randint(0, 3) + f"{i:08d}"
            kopecks = rng.randint(-50_000, 2_500_000)  # advances included
            total += kopecks
            sign = "-" if kopecks < 0 else ""
            amount = f"{sign}{abs(kopecks) // 100},{abs(kopecks) % 100:02d}"
            buf.append(
                f"{account};{rng.choice(houses)};{_premises(rng)};{amount};112026;"
                f"{SERVICES[i % len(SERVICES)]}\r\n"
            )
            if len(buf) >= 10_000:
                fh.writelines(buf)
                buf.clear()
        fh.writelines(buf)
        sign = "-" if total < 0 else ""
        fh.write(f"={rows};{sign}{abs(total) // 100},{abs(total) % 100:02d}\r\n")
    tmp.replace(path)


def data_file(rows: int, regenerate: bool) -> Path:
    folder = DATA / f"sber-debts-{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    if regenerate or not path.exists():
        start = time.perf_counter()
        print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
        generate(path, rows)
        print(f"  done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return path


# -- measuring -------------------------------------------------------------------------------

BARE_CSV = """
import csv, sys
with open(sys.argv[1], encoding="cp1251", newline="") as fh:
    for row in csv.reader(fh, delimiter=";"):
        pass
"""

PANDAS = """
import sys
import pandas as pd
df = pd.read_csv(sys.argv[1], dtype=str, sep=";", encoding="cp1251", header=None)
assert len(df) > 0
"""

SDK_API = """
import sys
from pathlib import Path
from pes_sdk.formats.base import Policy
from pes_sdk.plugins import get_host
reader = get_host().format("sber-debts").open(Path(sys.argv[1]), policy=Policy.STRICT)
with reader:
    for record in reader:
        pass
assert reader.report.valid, reader.report
"""

SDK_VALIDATE = """
import sys
from pes_sdk.operations import validate
report = validate(sys.argv[1], "sber-debts")
assert report.valid, report
"""

# The encoding rule the reader applies before its first line (issue 11): a sample of the
# file's head, judged. Timed alone, in process, so that Python's start does not hide it.
SDK_ENCODING = """
import sys, time
from pes_sdk.formats.text import wrong_encoding
start = time.perf_counter()
for _ in range(100):
    assert wrong_encoding(sys.argv[1], "cp1251") is None
print(f"encoding rule: {(time.perf_counter() - start) * 10:.2f} ms a file")
"""


@dataclass
class Result:
    name: str
    seconds: float  #: wall clock, fastest run
    cpu: float  #: user + system CPU of the process, in the fastest run
    peak_rss_mb: float
    ok: bool
    note: str = ""


def run_once(argv: Sequence[str]) -> tuple[float, float, float, int, str]:
    """Run ``argv`` to the end: wall seconds, CPU seconds, own peak RSS in MB, exit, output."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        # wait4 reaps this very child and gives its own rusage (not a max over all children).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    kb = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, kb / 1024, proc.returncode, output


def measure(name: str, argv: Sequence[str], repeat: int, ok_codes: Sequence[int] = (0,)) -> Result:
    runs: list[tuple[float, float]] = []
    peaks = []
    for _ in range(repeat):
        seconds, cpu, peak, code, output = run_once(argv)
        if code not in ok_codes:
            tail = " | ".join(output.strip().splitlines()[-3:])
            print(f"  {name}: exit {code}: {tail}", file=sys.stderr)
            return Result(name, seconds, cpu, peak, False, f"exit {code}: {tail}"[:200])
        runs.append((seconds, cpu))
        peaks.append(peak)
        print(f"  {name}: {seconds:.2f} s wall, {cpu:.2f} s CPU, {peak:.0f} MB", file=sys.stderr)
    best = min(runs)
    return Result(name, best[0], best[1], max(peaks), True)


def pes_command() -> str:
    beside = Path(sys.executable).parent / "pes"
    found = str(beside) if beside.exists() else shutil.which("pes")
    if found is None:
        raise SystemExit("the `pes` console script is not installed (make demo installs it)")
    return found


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    facts = [
        f"CPU: {cpu}, {os.cpu_count()} logical cores (`nproc`); load average at the end: {load}",
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
    ]
    try:
        import psutil  # type: ignore[import-untyped]

        facts.append(f"RAM: {psutil.virtual_memory().total / 2**30:.1f} GiB")
    except ImportError:
        pass
    try:
        facts.append(f"pandas {importlib.metadata.version('pandas')}")
    except importlib.metadata.PackageNotFoundError:
        facts.append("pandas: not installed")
    return facts


# -- reporting -------------------------------------------------------------------------------


def table(results: list[Result], baseline: Result, rows: int, size_mb: float) -> list[str]:
    lines = [
        f"{rows:,} rows, {size_mb:.0f} MB file. Fastest of the runs (wall clock, and the CPU "
        "time of that run); peak RSS is the measured process's own, the largest of the runs.",
        "",
        "| measurement | wall, s | × bare | CPU, s | × bare (CPU) | peak RSS, MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if not r.ok:
            note = r.note.replace("|", "/")
            lines.append(f"| {r.name} | failed: {note} | | | | |")
            continue
        lines.append(
            f"| {r.name} | {r.seconds:.2f} | {r.seconds / baseline.seconds:.2f} "
            f"| {r.cpu:.2f} | {r.cpu / baseline.cpu:.2f} | {r.peak_rss_mb:.0f} |"
        )
    return lines


def verdict(results: dict[str, Result], baseline: Result) -> list[str]:
    v = results.get("validate")
    if v is None or not v.ok:
        return ["- `pes validate` did not run: no verdict."]
    out = []
    ratio = v.seconds / baseline.seconds
    out.append(
        f"- `pes validate` is {ratio:.2f}× bare csv.reader in wall time "
        f"({v.cpu / baseline.cpu:.2f}× in CPU time; target about {TARGET_RATIO:.0f}×): "
        f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    pandas = results.get("pandas")
    if pandas is not None and pandas.ok:
        out.append(
            f"- against pandas' unvalidated read ({pandas.seconds:.2f} s): "
            f"{'no slower: met' if v.seconds <= pandas.seconds else 'slower: MISSED'}"
        )
    out.append(
        f"- peak RSS {v.peak_rss_mb:.0f} MB (target < {TARGET_RSS_MB:.0f} MB): "
        f"{'met' if v.peak_rss_mb < TARGET_RSS_MB else 'MISSED'}"
    )
    return out


def profile(rows: int, regenerate: bool, top: int) -> None:
    """cProfile the ``pes validate`` path and print the top entries by cumulative time."""
    import pstats

    path = data_file(rows, regenerate)
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "validate.prof"
        argv = [sys.executable, "-m", "cProfile", "-o", str(stats), pes_command()]
        argv += ["validate", str(path), "--format", "sber-debts"]
        code = subprocess.call(argv, stdout=subprocess.DEVNULL)
        if not stats.exists():
            raise SystemExit(f"profiling failed (exit {code})")
        print(f"\n## cProfile of `pes validate`, {rows:,} rows (top {top} by cumulative time)\n")
        print("```")
        p = pstats.Stats(str(stats))
        p.strip_dirs().sort_stats("cumulative").print_stats(top)
        print("```")
        print(f"\n## The same, top {top} by own time (tottime)\n")
        print("```")
        p.sort_stats("tottime").print_stats(top)
        print("```")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--regenerate", action="store_true", help="write the file anew")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="ROWS",
        default=0,
        help="instead of timing, cProfile `pes validate` on a file of ROWS rows",
    )
    parser.add_argument("--top", type=int, default=30, help="profile entries to print")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")

    if args.profile:
        profile(args.profile, args.regenerate, args.top)
        return 0

    path = data_file(args.rows, args.regenerate)
    size_mb = path.stat().st_size / 2**20
    pes = pes_command()
    py = sys.executable
    converted = path.with_name("converted.pes-debts.csv")
    results: dict[str, Result] = {}

    plan: list[tuple[str, str, list[str]]] = [
        ("startup", "Python start and exit (fixed cost inside every figure)", [py, "-c", "pass"]),
        ("bare", "bare `csv.reader`, nothing per row (baseline)", [py, "-c", BARE_CSV, str(path)]),
    ]
    if importlib.util.find_spec("pandas") is not None:
        plan.append(
            ("pandas", "`pandas.read_csv(dtype=str)`, unvalidated", [py, "-c", PANDAS, str(path)])
        )
    else:
        print(
            "pandas is not installed: skipping it (pip install -r benchmarks/requirements.txt)",
            file=sys.stderr,
        )
    plan += [
        (
            "api",
            "SDK reader via the Python API (parse + validate + model)",
            [py, "-c", SDK_API, str(path)],
        ),
        (
            "encoding",
            "the encoding rule alone, 100 times (`pes_sdk.formats.text.wrong_encoding`)",
            [py, "-c", SDK_ENCODING, str(path)],
        ),
        (
            "api-validate",
            "SDK `validate()` via the Python API (checks, no records built)",
            [py, "-c", SDK_VALIDATE, str(path)],
        ),
        (
            "validate",
            "`pes validate --format sber-debts`",
            [pes, "validate", str(path), "--format", "sber-debts"],
        ),
        (
            "convert",
            "`pes convert` sber-debts → pes-debts",
            [
                pes,
                "convert",
                str(path),
                str(converted),
                "--from",
                "sber-debts",
                "--to",
                "pes-debts",
            ],
        ),
    ]
    labels = {}
    try:
        for key, label, cmd in plan:
            print(f"{label}:", file=sys.stderr)
            results[key] = measure(label, cmd, args.repeat)
            labels[key] = label
    finally:
        converted.unlink(missing_ok=True)

    bare = results["bare"]
    if not bare.ok:
        print("the baseline failed; no ratios", file=sys.stderr)
        return 1
    print("\n## Machine\n")
    for fact in machine():
        print(f"- {fact}")
    print("\n## Results\n")
    for line in table(list(results.values()), bare, args.rows, size_mb):
        print(line)
    print("\n## Against the targets of issue 2\n")
    for line in verdict(results, bare):
        print(line)
    return 0 if all(r.ok for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
