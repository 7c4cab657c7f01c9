"""Coverage-guided fuzzing of every target in ``fuzz/targets.py`` with atheris (libFuzzer).

    python fuzz/run.py                     # every target, 30 s each (make fuzz)
    python fuzz/run.py --seconds 200 format-sber-debts xml-guard

Each target runs in a process of its own, seeded with the kit's own files, for a bounded
time. An input that makes a target raise anything but a typed error is written to
``fuzz/crashes/<target>/``: commit it, fix the code, and ``tests/test_fuzz.py`` keeps it as
a regression test for good. The exit status is 1 when any target found a crash.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import targets as fuzz_targets  # noqa: E402  (a script beside its module, not a package)


def _one(name: str) -> None:
    """Fuzz ``name`` in this process until libFuzzer's time limit ends it."""
    import atheris

    target = fuzz_targets.targets()[name]  # loads every plugin the target needs
    target(b"")  # and whatever the target imports on first use
    atheris.instrument_all()  # coverage for every function loaded by now
    atheris.Setup(sys.argv[:1] + sys.argv[3:], target)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="target names (default: every target)")
    parser.add_argument("--seconds", type=int, default=30, help="time per target")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    args = parser.parse_args()
    every = fuzz_targets.targets()
    if args.list:
        print("\n".join(every))
        return 0
    chosen = args.targets or list(every)
    unknown = [t for t in chosen if t not in every]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}; see --list")
    found = []
    for name in chosen:
        crashes = fuzz_targets.CRASHES / name
        crashes.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as corpus:
            for seed in fuzz_targets.seeds(name):
                shutil.copy(seed, Path(corpus) / seed.name)
            command = [
                sys.executable, __file__, "--one", name,
                f"-max_total_time={args.seconds}", f"-artifact_prefix={crashes}/",
                "-rss_limit_mb=4096", "-timeout=20", corpus,
            ]  # fmt: skip
            print(f"fuzz: {name}: {args.seconds} s", flush=True)
            result = subprocess.run(command, check=False)
        if result.returncode != 0:
            found.append(name)
            print(f"fuzz: {name}: crash kept in {crashes}", flush=True)
        if not any(crashes.iterdir()):
            crashes.rmdir()
    print(f"fuzz: {len(chosen)} targets, {len(found)} with crashes: {', '.join(found) or '-'}")
    return 1 if found else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        _one(sys.argv[2])
    else:
        sys.exit(main())
