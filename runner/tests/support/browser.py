"""A real browser for the cabinet's tests: Playwright driving Debian's Chromium.

Browsers cannot be downloaded on the machines this kit is built on, so Playwright is pointed
at the system's binary (the Debian package ``chromium``; ``PES_CHROMIUM`` names another).
Without one the browser tests skip with the reason, except under ``CI``, where
``.ci/run`` installs the package: there a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = ["SCREENSHOTS", "VIEWPORTS", "chromium_path", "launched"]

#: Where screenshots of every page go, to be looked at (issue 15): the repository's build/.
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
#: A phone and a laptop, the two sizes the cabinet is checked at.
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


def chromium_path() -> str | None:
    """The Chromium binary to drive: ``PES_CHROMIUM``, else ``chromium`` on the PATH."""
    named = os.environ.get("PES_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium under Playwright, closed on exit (skips or fails when absent)."""
    binary = chromium_path()
    if binary is None:
        reason = "no Chromium here (apt-get install chromium, or set PES_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI is set but playwright is not installed (requirements-dev.txt)")
        pytest.skip("playwright is not installed (requirements-dev.txt)")
    with sync_playwright() as pw:
        # --no-sandbox: CI machines run the tests as root, where Chromium's sandbox cannot
        # start; the pages are our own, served on loopback.
        browser = pw.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
