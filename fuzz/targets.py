"""What the fuzzers feed: every reader and loader of outside input, as ``bytes -> None``.

A target returns normally, or raises :class:`~pes_sdk.errors.PesError` (the kit's typed
errors: a refused registry, a bad configuration, hostile XML): that is the contract. Any
other exception is a crash — a traceback a user would see — and the fuzzer keeps the input.

Both fuzzers use these targets: ``fuzz/run.py`` (atheris, coverage-guided, ``make fuzz``)
and ``tests/test_fuzz.py`` (hypothesis on bytes and on mutated seed files, in
``make test``), which also replays every input the fuzzers ever kept in
``fuzz/crashes/<target>/``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pes_sdk.errors import PesError
from pes_sdk.formats import Policy
from pes_sdk.operations import validate
from pes_sdk.partners_file import load_partners
from pes_sdk.plugins import get_host
from pes_sdk.safexml import check_prolog_bytes

REPO = Path(__file__).resolve().parents[1]
CRASHES = Path(__file__).resolve().parent / "crashes"
Target = Callable[[bytes], None]

_SCRATCH = Path(tempfile.mkdtemp(prefix="pes-fuzz-"))
atexit.register(shutil.rmtree, _SCRATCH, True)  # one folder per process, gone with it
# A runner configuration needs its tokens from the environment.
_TOKENS = {"PES_CLIENT_TOKENS": "c" * 32, "PES_OPERATOR_TOKENS": "o" * 32}


def _file(name: str, data: bytes) -> Path:
    path = _SCRATCH / name
    path.write_bytes(data)
    return path


def _format_target(name: str) -> Target:
    def target(data: bytes) -> None:
        host = get_host()
        path = _file(f"{name}.in", data)
        rejects = _SCRATCH / f"{name}.rejects.csv"
        # validate() reports bad data rather than raising; a PesError is still typed.
        with contextlib.suppress(PesError):
            validate(path, host.format(name), Policy.QUARANTINE, rejects_path=rejects, host=host)

    return target


def partners_file(data: bytes) -> None:
    with contextlib.suppress(PesError):
        load_partners(_file("PARTNERS.toml", data))


def runner_config(data: bytes) -> None:
    from pes_sdk_runner.config.loader import load_runner_config

    saved = {k: os.environ.get(k) for k in _TOKENS}
    os.environ.update(_TOKENS)
    try:
        with contextlib.suppress(PesError):
            load_runner_config(_file("runner.toml", data))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def xml_guard(data: bytes) -> None:
    with contextlib.suppress(PesError):
        check_prolog_bytes(data)


def qr_strict(data: bytes) -> None:
    from pes_sdk.qr import decode

    with contextlib.suppress(PesError):
        decode(data)


def qr_tolerant(data: bytes) -> None:
    # what a bank app reads off a photographed paper bill: anything at all
    from pes_sdk.qr import decode

    with contextlib.suppress(PesError):
        decode(data, tolerant=True)


def targets() -> dict[str, Target]:
    """Every target by name: one per readable registry format, the two configuration
    loaders, the XML prolog guard and the payment QR string (strict and tolerant)."""
    found: dict[str, Target] = {
        "partners-file": partners_file,
        "runner-config": runner_config,
        "xml-guard": xml_guard,
        "qr-strict": qr_strict,
        "qr-tolerant": qr_tolerant,
    }
    for name, fmt in sorted(get_host().formats().items()):
        if fmt.capabilities.read:
            found[f"format-{name}"] = _format_target(name)
    return found


def _globbed(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in REPO.glob(pattern) if p.is_file())


def seeds(target: str) -> list[Path]:
    """The kit's own files a target starts from (the fuzzers mutate them)."""
    contracts = Path(os.environ.get("PES_CONTRACTS_DIR", REPO.parent / "shared" / "contracts"))
    if target == "partners-file":
        return _globbed("tests/data/*.toml", "examples/**/PARTNERS*.toml")
    if target == "runner-config":
        return _globbed("runner/src/pes_sdk_runner/config/example.toml")
    if target.startswith("qr-"):
        return _globbed("tests/qr/golden/*")
    if target == "xml-guard" or target.startswith("format-1c-xml"):
        return _globbed("adapters/onec-xml/tests/golden/*.xml")
    if target == "format-1c-directbank":
        return sorted((contracts / "1c-directbank" / "samples").glob("*.xml"))
    if target == "format-1c-clientbank":
        return _globbed(
            "adapters/onec-bank/tests/statements/*", "adapters/onec-bank/tests/golden/*"
        )
    return _globbed("adapters/csv/tests/golden/*.*", "adapters/csv/tests/golden/layouts/*/*/*")


def crashes(target: str) -> Iterator[Path]:
    """Every input a fuzzer ever kept for ``target`` (replayed as regression tests)."""
    folder = CRASHES / target
    if folder.is_dir():
        yield from sorted(p for p in folder.iterdir() if p.is_file())
