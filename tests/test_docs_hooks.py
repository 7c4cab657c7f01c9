"""docs/hooks.md documents every hook with its exact signature, and no hook that isn't one.

In the manner of datasette's tests/test_docs.py: the signature text is built with inspect
from the spec function itself, so a changed spec fails until the docs follow.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pes_sdk.plugins import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
SPEC_MARK = f"{hookspecs.PROJECT_NAME}_spec"


def _specs() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, SPEC_MARK)
    }


SPECS = _specs()


def _annotation(value: Any) -> str:
    # hookspecs uses `from __future__ import annotations`: annotations are the source text.
    return value if isinstance(value, str) else inspect.formatannotation(value)


def signature_line(name: str, fn: Callable[..., Any]) -> str:
    """``def pes_registry_loaded(report: ReadReport) -> None``, as written in the spec."""
    sig = inspect.signature(fn)
    params = []
    for p in sig.parameters.values():
        text = p.name
        if p.annotation is not inspect.Parameter.empty:
            text += f": {_annotation(p.annotation)}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        params.append(text)
    ret = ""
    if sig.return_annotation is not inspect.Signature.empty:
        ret = f" -> {_annotation(sig.return_annotation)}"
    return f"def {name}({', '.join(params)}){ret}"


def _sections(text: str) -> dict[str, str]:
    """Each ``### `pes_…` `` heading's section, up to the next heading."""
    parts = re.split(r"^(#{1,3} .*)$", text, flags=re.M)
    out = {}
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        m = re.fullmatch(r"### `(\w+)`", heading.strip())
        if m:
            out[m.group(1)] = body
    return out


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_there_are_hooks() -> None:
    assert {"pes_registry_formats", "pes_fee_plans", "pes_registry_loaded"} <= set(SPECS)


def test_signature_line_known_answer() -> None:
    assert (
        signature_line("pes_registry_formats", SPECS["pes_registry_formats"])
        == "def pes_registry_formats() -> Sequence[RegistryFormat | PluginProblem]"
    )
    assert (
        signature_line("pes_registry_loaded", SPECS["pes_registry_loaded"])
        == "def pes_registry_loaded(report: ReadReport) -> None"
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_is_documented_with_its_exact_signature(doc: str, name: str) -> None:
    sections = _sections(doc)
    assert name in sections, f"docs/hooks.md has no '### `{name}`' section"
    expected = signature_line(name, SPECS[name])
    block = f"```python\n{expected}\n```"
    assert block in sections[name], f"docs/hooks.md must show, in its section:\n{block}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_section_states_firstresult_and_version(doc: str, name: str) -> None:
    section = _sections(doc).get(name)
    assert section is not None, f"docs/hooks.md has no '### `{name}`' section"
    opts = getattr(SPECS[name], SPEC_MARK)
    expected = "yes" if opts.get("firstresult") else "no"
    assert re.search(rf"\*\*firstresult\*\*: {expected}\b", section)
    added = re.search(r"versionadded:: ([\d.]+)", inspect.getdoc(SPECS[name]) or "")
    assert added, f"the spec of {name} must say `.. versionadded::`"
    assert f"**Added in**: {added.group(1)}" in section


def test_no_documented_hook_is_unknown(doc: str) -> None:
    headed = set(_sections(doc))
    signed = set(re.findall(r"^def (pes_\w+)\(", doc, flags=re.M))
    # `pes_sdk` is the entry-point group and the package, not a hook
    mentioned = set(re.findall(r"`(pes_(?!sdk\b)[a-z_]+)`", doc))
    # a misspelling is mentioned on purpose, as what gets a plugin refused
    mentioned.discard("pes_registry_format")
    unknown = (headed | signed | mentioned) - set(SPECS)
    assert not unknown, f"docs/hooks.md documents hooks that do not exist: {sorted(unknown)}"
    assert headed == set(SPECS)


def test_documented_signatures_parse_as_python(doc: str) -> None:
    lines = re.findall(r"^def pes_\w+\(.*\)(?: -> .*)?$", doc, flags=re.M)
    assert len(lines) == len(SPECS)
    for line in lines:
        compile(f"{line}:\n    ...\n", "<docs/hooks.md>", "exec")


def test_environment_switches_are_documented(doc: str) -> None:
    for term in ("PES_DISABLE_PLUGINS", "PES_TRACE_HOOKS", "entry-point group `pes_sdk`"):
        assert term in doc
