"""docs/runner-api.md documents every operation of the API and every error code it answers.

The operations are read from :data:`pes_sdk_runner.api.OPERATIONS` (which another test
holds equal to the routes served); the error codes from the API's source, where each
``ApiError(status, "code", …)`` is written. A new endpoint or error code without a line in
the document fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pes_sdk_runner.api.app as app_module
from pes_sdk_runner.api import OPERATIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "runner-api.md"


def _operations_table(text: str) -> set[tuple[str, str]]:
    section = text.split("## Every operation", 1)[1]
    rows = re.findall(r"^\| `([A-Z]+)` \| `([^`]+)` \|", section, flags=re.M)
    return set(rows)


def test_every_operation_is_documented_and_nothing_else() -> None:
    text = DOC.read_text("utf-8")
    served = {(op.method.upper(), op.path) for op in OPERATIONS}
    assert _operations_table(text) == served
    for method, path in served:
        if path.startswith("/v1/"):  # each has its own section with the method and path
            assert f"### `{method} {path}`" in text, f"no section for {method} {path}"


def test_every_error_code_is_documented() -> None:
    text = DOC.read_text("utf-8")
    source = Path(app_module.__file__).read_text("utf-8")
    codes = set(re.findall(r"ApiError\(\s*\d{3},\s*\"([a-z-]+)\"", source))
    codes |= set(re.findall(r"\{\d{3}: \"([a-z-]+)\"", source))  # Starlette's 404/405
    assert {"not-refundable", "refund-exceeds", "too-large", "not-accepted"} <= codes
    missing = {c for c in codes if f"`{c}`" not in text}
    assert not missing, f"docs/runner-api.md does not name the error codes {sorted(missing)}"
    # The store's refusals of a reading reach the client as they are.
    for code in ("value-decreased", "value-above-later", "tariffs-changed"):
        assert f"`{code}`" in text
