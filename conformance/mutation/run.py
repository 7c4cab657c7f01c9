"""Mutation testing of the conformance suite: how many broken adapters does it catch?

    python conformance/mutation/run.py                      # every target, both levels
    python conformance/mutation/run.py example --levels default
    MUTATION_TARGETS=1c-xml make mutation

What is measured is the suite, not an adapter: mutmut breaks one adapter's modules one
change at a time, and only that adapter's conformance tests judge each mutant (never its own
unit tests). A mutant the suite lets through is a mistake an adapter could ship with the
suite's blessing, unless it is *equivalent* (it changes nothing the contract covers, such as
the wording of an error message): those are listed, each with its reason, in
``equivalent.toml`` beside this file, and left out of the score.

Each target and level runs in a copy of the repository of its own (under ``--workdir``), so
the checkout gets no ``mutants/`` folder and the two levels keep separate results. The copy
holds the target's code only: the suite and the SDK are imported from the checkout (the
editable installs of ``make``), so a change to the suite is measured by the next run.

At ``latest`` only the mutants the default level did not kill are run again (with both
levels asked for): a check that fails at the default level fails at ``latest`` too. Neither
there nor with ``--baseline`` are the mutants listed in ``equivalent.toml`` run again.

Score = killed / (mutants - equivalent), where a timeout counts as killed (the suite did
notice) and "no tests" (no check reaches the mutated code) as survived. The exit status is 1
when a target's score at the default level is under ``--min-score``.

Before and after a change to the suite: ``--suite-rev HEAD`` measures the suite as
committed (the copy gets ``conformance/src`` of that revision, and its tests import it),
then ``--baseline`` with that run's ``outcome.json`` measures the working tree's suite by
running again only the mutants the baseline did not kill.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass(frozen=True)
class Target:
    folder: str  # the distribution, relative to the repository root
    modules: tuple[str, ...]  # what mutmut breaks, relative to the folder
    tests: tuple[str, ...] = ("tests/test_conformance.py",)  # what judges each mutant
    # Rows of the streaming checks under mutation (--pes-streaming-rows), None: the test
    # class's own. A mutant runs its checks in mutmut's trampolines, several times slower
    # than the adapter's code alone, and the streaming checks were most of a run.
    streaming_rows: int | None = None


TARGETS: dict[str, Target] = {
    "example": Target("examples/jsonl-format", ("src/pes_example_jsonl/plugin.py",)),
    "1c-xml": Target(
        "adapters/onec-xml",
        tuple(f"src/pes_sdk_1c_xml/{m}.py" for m in ("reader", "writer", "codec", "formats")),
        # 4000 rows (and 1000): the file still grows by over twice the memory bound
        # (debts 555 KB, readings 697 KB, payments 904 KB against 2 x 256 KiB), so a
        # reader that keeps its records or their text is caught as at 12,000 rows; a third
        # of the time. The suite fails the check if the files are too small to tell.
        streaming_rows=4000,
    ),
    # The gateway family's target: the module list and test file are the gateway
    # measurement's to settle.
    "yookassa": Target("adapters/yookassa", ("src/pes_sdk_yookassa/client.py",)),
}

LEVELS: dict[str, tuple[str, ...]] = {
    "default": (),
    "latest": ("--pes-conformance-level=latest",),
}

#: The seed of ``--sample``: the same sample every run, so runs can be compared.
SEED = 14
#: A mutant name that matches nothing: ``mutmut run`` then only makes the mutants and the
#: map of tests, and fails.
NO_MUTANT = "no-such-mutant"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
LINE = re.compile(r"^\s+(\S+): (.+)$")


@dataclass
class Outcome:
    target: str
    level: str
    statuses: dict[str, str]
    equivalent: dict[str, str]
    seconds: float
    survivors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.survivors = sorted(
            m for m, s in self.statuses.items() if s not in KILLED and m not in self.equivalent
        )

    @property
    def killed(self) -> int:
        return sum(s in KILLED for s in self.statuses.values())

    @property
    def equivalent_count(self) -> int:
        return sum(m in self.equivalent and s not in KILLED for m, s in self.statuses.items())

    @property
    def score(self) -> float:
        judged = len(self.statuses) - self.equivalent_count
        return self.killed / judged if judged else 1.0

    def line(self) -> str:
        return (
            f"mutation: {self.target} at {self.level}: {len(self.statuses)} mutants, "
            f"{self.killed} killed, {len(self.survivors)} survived, "
            f"{self.equivalent_count} equivalent; score {self.score:.1%} "
            f"({self.seconds / 60:.1f} min)"
        )


def equivalents(target: str) -> dict[str, str]:
    """The mutants of ``target`` that change nothing the contract covers, with the reason."""
    table = tomllib.loads((HERE / "equivalent.toml").read_text("utf-8"))
    reasons: dict[str, str] = table.get(target, {})
    return reasons


def copy_repository(into: Path) -> None:
    """The checkout's files as they are now (committed or not, never ignored ones)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def later_checks() -> list[str]:
    """The checks that entered the suite above the default level (``@since_level``)."""
    from pes_sdk_conformance import formats, gateways, levels, transfers

    names = set()
    for module in (formats, transfers, gateways):
        for cls in vars(module).values():
            for name, check in vars(cls).items() if isinstance(cls, type) else ():
                level = getattr(check, levels.SINCE_LEVEL_ATTRIBUTE, levels.DEFAULT_LEVEL)
                if name.startswith("test_") and level > levels.DEFAULT_LEVEL:
                    names.add(name)
    return sorted(names)


def configure(
    folder: Path, target: Target, level: str, quick: bool, later: bool, old_suite: bool = False
) -> None:
    """mutmut's settings, in the copy's pyproject.toml (mutmut reads only that file).

    ``later``: run only the checks above the default level (what a mutant that survived
    the default level can still fail at ``latest``). ``old_suite``: the suite of
    ``--suite-rev``, which may not know ``--pes-streaming-rows``.
    """
    words = [" or ".join(later_checks())] if later else []
    words += ["not streaming"] if quick else []
    select = ["-k", " and ".join(f"({w})" for w in words)] if words else []
    if target.streaming_rows and not quick and not old_suite:
        select.append(f"--pes-streaming-rows={target.streaming_rows}")
    settings = {
        "source_paths": ["src"],
        "only_mutate": list(target.modules),
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", *LEVELS[level], *select],
        # mutmut's CPU limit per mutant is 2 x multiplier x (the tests' time + constant):
        # its defaults (15, 1 s) let a mutant that loops forever in the streaming checks
        # run for ten minutes. A mutant that makes the suite 4 times slower is a timeout,
        # which counts as killed: the suite did notice.
        "timeout_multiplier": 2.0,
        "timeout_constant": 5.0,
    }
    lines = ["[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text("utf-8").split("\n[tool.mutmut]\n")[0]
    pyproject.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n", "utf-8")


def run(
    name: str,
    level: str,
    workdir: Path,
    children: int,
    *,
    resume: bool = False,
    only: dict[str, str] | None = None,
    sample: int = 0,
    quick: bool = False,
    suite_rev: str | None = None,
) -> Outcome:
    """Run mutmut over target ``name`` at ``level``.

    ``only``: the verdicts of a stricter-or-equal run to start from; just the mutants it did
    not kill are run again (a check that fails at the default level fails at ``latest``
    too, so a mutant killed there is killed here).
    """
    target = TARGETS[name]
    copy = workdir / f"{name}-{level}"
    if not (resume and copy.exists()):
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir(parents=True)
        copy_repository(copy)
    if suite_rev:
        shutil.rmtree(copy / "conformance" / "src")
        archive = subprocess.run(
            ["git", "archive", suite_rev, "conformance/src"],
            cwd=ROOT, check=True, capture_output=True,
        ).stdout  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(copy, filter="data")
    folder = copy / target.folder
    configure(
        folder, target, level, quick,
        later=only is not None and level != "default", old_suite=suite_rev is not None,
    )  # fmt: skip
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # The suite of the copy, ahead of the checkout's editable install.
        PYTHONPATH=str(copy / "conformance" / "src"),
    )
    mutmut = [sys.executable, "-m", "mutmut"]
    # Listed equivalents change nothing a check can see: not run again (a stricter suite
    # that killed one would show it was misjudged, so list them with care).
    listed = equivalents(name)
    again = sorted(m for m, s in (only or {}).items() if s not in KILLED and m not in listed)

    def mutmut_run(*names: str, check: bool = True) -> None:
        subprocess.run(
            ["nice", *mutmut, "run", "--max-children", str(children), *names],
            cwd=folder, env=env, check=check,
        )  # fmt: skip

    def results() -> dict[str, str]:
        listed = subprocess.run(
            [*mutmut, "results", "--all", "true"],
            cwd=folder, env=env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        return {m[1]: m[2] for m in map(LINE.match, listed.splitlines()) if m}

    print(f"mutation: {name} at {level}: mutmut in {folder}", flush=True)
    started = time.monotonic()
    chosen: list[str] = []
    if only is not None:
        if again:
            mutmut_run(*again)
    elif sample:
        # Makes the mutants and the map of tests, then stops: the name matches no mutant.
        mutmut_run(NO_MUTANT, check=False)
        chosen = sorted(random.Random(SEED).sample(sorted(results()), sample))
        mutmut_run(*chosen)
    else:
        mutmut_run()
    seconds = time.monotonic() - started
    found = results()
    if only is not None:
        statuses = {**only, **{m: found[m] for m in again if m in found}}
    else:
        statuses = {m: found[m] for m in chosen} if chosen else found
    outcome = Outcome(name, level, statuses, equivalents(name), seconds)
    (copy / "outcome.json").write_text(
        json.dumps(
            {"statuses": statuses, "seconds": seconds, "survivors": outcome.survivors},
            indent=1,
        ),
        encoding="utf-8",
    )
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "targets", nargs="*",
        default=os.environ.get("MUTATION_TARGETS", "").replace(",", " ").split(),
        help=f"targets (default: $MUTATION_TARGETS, or all: {', '.join(TARGETS)})",
    )  # fmt: skip
    parser.add_argument("--levels", default="default,latest", help="default, latest or both")
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "mutation")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run at once")
    parser.add_argument("--min-score", type=float, default=0.9, help="at the default level")
    parser.add_argument(
        "--resume", action="store_true",
        help="go on with an interrupted run in its copy (mutmut keeps the verdicts it has)",
    )  # fmt: skip
    parser.add_argument(
        "--sample", type=int, default=0,
        help="check only a random sample of this many mutants (seeded): a time-bounded estimate",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true",
        help="leave out the streaming (memory) checks, the slowest: mutants only they would "
        "kill count as survived, so the score is a lower bound",
    )  # fmt: skip
    parser.add_argument("--suite-rev", help="measure the suite of this git revision instead")
    parser.add_argument(
        "--baseline", type=Path,
        help="outcome.json of an earlier run (one target, one level): run again only the "
        "mutants it did not kill",
    )  # fmt: skip
    args = parser.parse_args()
    chosen = args.targets or list(TARGETS)
    levels = [lv for lv in args.levels.replace(",", " ").split() if lv]
    unknown = [t for t in chosen if t not in TARGETS] + [lv for lv in levels if lv not in LEVELS]
    if unknown:
        parser.error(f"unknown target(s) or level(s): {', '.join(unknown)}")
    outcomes = []
    for t in chosen:
        default: Outcome | None = None
        for lv in levels:
            only = default.statuses if default is not None and lv == "latest" else None
            if args.baseline is not None and only is None:
                only = json.loads(args.baseline.read_text("utf-8"))["statuses"]
            outcome = run(
                t, lv, args.workdir, args.max_children,
                resume=args.resume, only=only, sample=args.sample, quick=args.quick,
                suite_rev=args.suite_rev,
            )  # fmt: skip
            default = outcome if lv == "default" else default
            outcomes.append(outcome)
    low = []
    for outcome in outcomes:
        print(outcome.line())
        for mutant in outcome.survivors:
            print(f"    survived: {mutant} ({outcome.statuses[mutant]})")
        if outcome.level == "default" and outcome.score < args.min_score:
            low.append(outcome.target)
    if low:
        print(f"mutation: under {args.min_score:.0%} at the default level: {', '.join(low)}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
