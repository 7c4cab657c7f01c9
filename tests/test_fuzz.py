"""Every reader and loader of outside input raises typed errors only, on any bytes.

The targets are those of ``fuzz/targets.py`` (one per readable registry format, both
configuration loaders, the XML prolog guard). Here hypothesis feeds them random bytes and
mutations of the kit's own files (``make fuzz`` does the same, coverage-guided, with
atheris), and every input a fuzzer ever kept in ``fuzz/crashes/`` is replayed: a target
that raises anything but a :class:`~pes_sdk.errors.PesError` fails the test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"


def _targets_module() -> ModuleType:
    # fuzz/ is a folder of scripts, not a package: load its module by path.
    spec = importlib.util.spec_from_file_location("pes_fuzz_targets", FUZZ / "targets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


T = _targets_module()
TARGETS = T.targets()
# Each example writes a file and reads it through a plugin: far slower than a pure
# function, so fewer examples than the profile's (the atheris runs go deeper).
EXAMPLES = min(settings.default.max_examples, 150)


def test_every_readable_format_is_a_target() -> None:
    names = set(TARGETS)
    assert {"partners-file", "runner-config", "xml-guard"} <= names
    assert {"format-sber-debts", "format-1c-xml-debts", "format-1c-clientbank"} <= names
    assert {"format-1c-directbank", "format-excel-payments", "format-gorod-debts"} <= names


def _mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """A seed file cut, with bytes flipped, inserted or repeated: near-valid input, where
    bugs hide (a random byte string is refused at the first line)."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 4))):
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            how = draw(st.sampled_from(["flip", "insert", "cut", "repeat", "delete"]))
            if how == "flip":
                data[at] = draw(st.integers(0, 255))
            elif how == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            elif how == "cut":
                del data[at:]
            elif how == "repeat":
                data[at:at] = data[at : at + draw(st.integers(1, 64))]
            else:
                del data[at : at + draw(st.integers(1, 16))]
        return bytes(data)

    return mutate()


def _inputs(name: str) -> st.SearchStrategy[bytes]:
    seeds = [p.read_bytes() for p in T.seeds(name)]
    choices = [st.binary(max_size=512)]
    if seeds:
        choices.append(st.sampled_from(seeds).flatmap(_mutated))
    return st.one_of(choices)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_any_input_gives_a_typed_error_or_none(name: str) -> None:
    target = TARGETS[name]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=_inputs(name))
    def check(data: bytes) -> None:
        target(data)  # anything but a PesError escapes and fails the test

    check()


def test_every_input_a_fuzzer_kept_stays_fixed() -> None:
    kept = [(name, path) for name in sorted(TARGETS) for path in T.crashes(name)]
    for name, path in kept:
        try:
            TARGETS[name](path.read_bytes())
        except Exception as exc:
            raise AssertionError(f"{name}: {path.name} crashes again: {exc!r}") from exc


def test_the_replay_finds_kept_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the regression replay above is only as good as its discovery of fuzz/crashes/
    (tmp_path / "xml-guard").mkdir()
    (tmp_path / "xml-guard" / "crash-1").write_bytes(b"<!DOCTYPE a><a/>")
    monkeypatch.setattr(T, "CRASHES", tmp_path)
    assert [p.name for p in T.crashes("xml-guard")] == ["crash-1"]
