"""Benchmark: the encoding rule (pes_sdk.formats.text) against charset-normalizer.

Not a test: run it by hand and paste its markdown into docs/performance.md::

    .venv/bin/python benchmarks/encoding_rule.py [--random 20000]

Accuracy, on the corpus of Russian registry text in tests/data/registry-text-ru.txt: every
window of k consecutive corpus lines (k = 1, 3, 5, 10) becomes a sber-debts registry, one
line a row with the text as its service, and is written in each of UTF-8, cp1251, KOI8-R
and cp866 (characters an encoding lacks, « » — № ·, replaced as a writer in it would) and
judged as each of the four. Counted: *false refusals* (the right encoding refused),
*misses* (a wrong one-byte encoding accepted: mojibake let through), *unnamed* (a one-byte
file declared UTF-8, which strict decoding refuses anyway, without the encoding named) and
*misnamed* (refused, naming another encoding than the file's).

Then *random* registries: up to five rows of up to 40 characters drawn from Cyrillic
letters and ASCII (the conformance suite's alphabet), written in a one-byte encoding and
judged as that encoding: every refusal is a false one.

Speed: one judgement of a sample of a sber-debts registry (the sample the reader takes:
:func:`pes_sdk.formats.text.read_sample`), each way, best of 20.

charset-normalizer is judged two ways: *best* (refuse when its best guess is not the
declared encoding) and *plausible* (refuse only when it finds the declared encoding
implausible, naming its best guess), both limited to the four encodings
(``cp_isolation``).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pes_sdk.formats import text

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "tests" / "data" / "registry-text-ru.txt"
ENCODINGS = ("utf-8", "cp1251", "koi8-r", "cp866")
ONE_BYTE = ENCODINGS[1:]
SUBSTITUTES = {"«": '"', "»": '"', "—": "-", "№": "N", "·": "."}
HOUSE = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
ALPHABET = (
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
    "abcxyzABCXYZ0123456789 .,()/-"
)

#: A judge: (file bytes, declared encoding) -> None (accepted) or the encoding it names.
Judge = Callable[[bytes, str], str | None]


def corpus_lines() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln and not ln.startswith("#")]


def encode(text: str, encoding: str) -> bytes:
    for char, ascii_ in SUBSTITUTES.items():
        try:
            char.encode(encoding)
        except UnicodeEncodeError:
            text = text.replace(char, ascii_)
    return text.encode(encoding)


def registry(services: list[str]) -> str:
    return "".join(f"0100149;{HOUSE};;1047,86;112026;{s}\r\n" for s in services)


def ours(data: bytes, declared: str) -> str | None:
    wrong = text.judge_encoding(data, declared)
    return None if wrong is None else text._codec(wrong.likely)


def _normalizer(policy: str) -> Judge:
    from charset_normalizer import from_bytes

    names = {"utf_8": "utf-8", "cp1251": "cp1251", "koi8_r": "koi8-r", "cp866": "cp866"}

    def judge(data: bytes, declared: str) -> str | None:
        results = from_bytes(data, cp_isolation=["utf_8", "cp1251", "koi8_r", "cp866"])
        found = [names.get(r.encoding, r.encoding) for r in results]
        if not found or "ascii" in found:
            return None if data.isascii() else "?"
        if policy == "best":
            return None if found[0] == declared else found[0]
        return None if declared in found else found[0]

    return judge


def accuracy(judge: Judge, lines: list[str], k: int) -> tuple[int, int, int, int, int]:
    """(judgements, false refusals, misses, unnamed, misnamed) over every window of k
    lines. A miss is mojibake accepted; *unnamed* a one-byte file declared UTF-8 that the
    judge names nothing for (strict decoding refuses it all the same)."""
    n = false = missed = unnamed = misnamed = 0
    for i in range(len(lines) - k + 1):
        window = lines[i : i + k]
        if all(ln.isascii() for ln in window):
            continue
        for actual in ENCODINGS:
            data = encode(registry(window), actual)
            for declared in ENCODINGS:
                named = judge(data, declared)
                n += 1
                if actual == declared:
                    false += named is not None
                elif named is None and declared == "utf-8":
                    unnamed += 1
                elif named is None:
                    missed += 1
                elif named != actual:
                    misnamed += 1
    return n, false, missed, unnamed, misnamed


def random_refusals(judge: Judge, count: int) -> int:
    rng = random.Random(2026)
    refused = 0
    for _ in range(count):
        rows = [
            "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
            for _ in range(rng.randint(1, 5))
        ]
        encoding = rng.choice(ONE_BYTE)
        refused += judge(encode(registry(rows), encoding), encoding) is not None
    return refused


def speed(judge: Judge, sample: bytes, declared: str) -> float:
    best = float("inf")
    for _ in range(20):
        start = time.perf_counter()
        judge(sample, declared)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=20000, help="random registries judged")
    args = parser.parse_args(argv)
    judges: dict[str, Judge] = {"pes_sdk.formats.text": ours}
    try:
        judges["charset-normalizer, best"] = _normalizer("best")
        judges["charset-normalizer, plausible"] = _normalizer("plausible")
    except ImportError:
        print("charset-normalizer is not installed: measuring the rule alone", file=sys.stderr)
    lines = corpus_lines()
    print("| judge | lines | judgements | false refusals | misses | unnamed | misnamed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, judge in judges.items():
        for k in (1, 3, 5, 10):
            n, false, missed, unnamed, misnamed = accuracy(judge, lines, k)
            print(f"| {name} | {k} | {n} | {false} | {missed} | {unnamed} | {misnamed} |")
    print()
    print("| judge | random registries | false refusals |\n|---|---:|---:|")
    for name, judge in judges.items():
        print(f"| {name} | {args.random} | {random_refusals(judge, args.random)} |")
    print()
    sys.path.insert(0, str(HERE))
    from csv_read import generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.txt"
        generate(path, 2000)
        sample = text.read_sample(path)
    utf8 = sample.decode("cp1251").encode("utf-8")
    print(
        f"| judge | {len(sample) // 1024} KiB sample, cp1251 as cp1251, ms | "
        "as KOI8-R, ms | UTF-8 as cp1251, ms |"
    )
    print("|---|---:|---:|---:|")
    for name, judge in judges.items():
        print(
            f"| {name} | {speed(judge, sample, 'cp1251'):.2f} | "
            f"{speed(judge, sample, 'koi8-r'):.2f} | {speed(judge, utf8, 'cp1251'):.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
