"""The browser toolchain itself: Playwright drives Debian's Chromium against a real runner.

The cabinet's page tests (issue 15) stand on this; it proves, on every CI run, that the
system browser starts, reaches a runner on loopback and renders Cyrillic, so that a broken
browser set-up shows here by name rather than as a failing cabinet test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from api_harness import serve
from browser import SCREENSHOTS, VIEWPORTS


def test_chromium_reaches_the_runner_on_loopback(browser: Any, tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        page = browser.new_page()
        answer = page.goto(r.base + "/healthz")
        assert answer is not None and answer.status == 200
        assert json.loads(page.inner_text("body"))["status"] == "ok"
        page.close()


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_cyrillic_renders_and_screenshots_are_written(browser: Any, size: str) -> None:
    page = browser.new_page(viewport=VIEWPORTS[size])
    page.set_content("<html lang=ru><meta charset=utf-8><h1>Пополнение лицевого счёта</h1></html>")
    assert page.inner_text("h1") == "Пополнение лицевого счёта"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"toolchain-{size}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000  # a PNG of a page, not an empty file
    page.close()
