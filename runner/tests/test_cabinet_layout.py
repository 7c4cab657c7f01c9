"""The cabinet's top menu in a real browser (Chromium under Playwright, Debian's
``chromium``: see support/browser.py), measured rather than looked at.

On a laptop (1280, 1366 and 1920 px wide) every item of the menu sits on one row: the
same top, inside the window, not cut off or scrolled, and the service's name beside or
above it on one line. When «Оплатить по QR» was added the name broke onto two lines at
1366 px and "Выйти" fell off the window at 1280 px, so each page is measured with its
own item current (bold, hence wider). On a tablet (768, 1024 px) the menu may take two
rows but stays inside the window. On a phone (375 px) the menu is one row that scrolls
sideways (the cabinet has no menu button): every item can be scrolled into the window
and clicked there. The text is never made smaller than 15 px to fit. The fonts are the
machine's: Debian's DejaVu Sans, wider than most laptops' system fonts, is the harder
case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import Running
from cabinet_browser import Tab, login
from cabinet_web import serve_cabinet

#: Each item's link in the menu and the pages it leads to ("Выйти" is a button, on all).
PAGES = ("", "qr", "accounts", "charges", "readings", "receipts", "autopay", "notifications")
#: The smallest menu text the layout may shrink to, in CSS pixels: readable on a laptop
#: and a phone (the body's text is 16 px).
MIN_FONT_PX = 15.0
#: A laptop's window height; the menu's row does not depend on it.
HEIGHT = 768

#: Each item's text, its box in the window and its text's size in px.
MEASURE = """nodes => nodes.map(n => {
  const box = n.getBoundingClientRect();
  return {
    text: n.textContent.trim(), top: box.top, left: box.left, right: box.right,
    bottom: box.bottom, font: parseFloat(getComputedStyle(n).fontSize),
  };
})"""
ITEMS = ".menu li > a, .menu li button"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        yield r


def signed_in(browser: Any, r: Running, width: int) -> Tab:
    """A tab signed in to the cabinet, its window ``width`` px wide."""
    context = browser.new_context(viewport={"width": width, "height": HEIGHT}, locale="ru-RU")
    tab = Tab(context)
    login(tab.page, r)
    return tab


def items(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.locator(ITEMS).evaluate_all(MEASURE)
    assert len(found) == len(PAGES) + 1, found  # the pages and "Выйти"
    return found


def brand_lines(page: Any) -> int:
    """How many lines the service's name in the header takes."""
    lines: int = page.locator(".brand span").evaluate(
        "s => Math.round(s.getBoundingClientRect().height"
        " / parseFloat(getComputedStyle(s).lineHeight))"
    )
    return lines


def sideways(page: Any) -> int:
    """How far the whole page scrolls sideways, in px (0: it does not)."""
    extra: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return extra


def in_window(box: dict[str, float] | None, width: int) -> bool:
    """Whether ``box`` is shown across, within a pixel of the window's edges (the row
    scrolls by whole pixels, the items' positions are not whole)."""
    return box is not None and box["x"] >= -1 and box["x"] + box["width"] <= width + 1


@pytest.mark.parametrize("width", [1920, 1366, 1280])
def test_the_menu_is_one_row_on_a_laptop(browser: Any, running: Running, width: int) -> None:
    tab = signed_in(browser, running, width)
    page = tab.page
    for path in PAGES:
        page.goto(f"{running.base}/cabinet/{path}")
        boxes = items(page)
        tops = {round(b["top"]) for b in boxes}
        assert len(tops) == 1, f"/{path} at {width} px: the menu's rows start at {tops}: {boxes}"
        outside = [b["text"] for b in boxes if b["left"] < 0 or b["right"] > width]
        assert outside == [], f"/{path} at {width} px: outside the window: {outside}"
        # Nothing hidden behind a sideways scroll either: the row fits as it is.
        overflow = page.locator(".menu ul").evaluate("u => u.scrollWidth - u.clientWidth")
        assert overflow <= 0, f"/{path} at {width} px: the row is {overflow} px too wide"
        small = [(b["text"], b["font"]) for b in boxes if b["font"] < MIN_FONT_PX]
        assert small == [], f"/{path} at {width} px: text made too small: {small}"
        assert brand_lines(page) == 1, f"/{path} at {width} px: the service's name is broken"
        assert sideways(page) <= 0, f"/{path} at {width} px: the page scrolls sideways"
    assert [e for e in tab.errors if running.base in e] == []
    tab.page.context.close()


@pytest.mark.parametrize("width", [1024, 768])
def test_the_menu_stays_in_the_window_on_a_tablet(
    browser: Any, running: Running, width: int
) -> None:
    tab = signed_in(browser, running, width)
    page = tab.page
    for path in PAGES:
        page.goto(f"{running.base}/cabinet/{path}")
        boxes = items(page)
        outside = [b["text"] for b in boxes if b["left"] < 0 or b["right"] > width]
        assert outside == [], f"/{path} at {width} px: outside the window: {outside}"
        assert sideways(page) <= 0, f"/{path} at {width} px: the page scrolls sideways"
    tab.page.context.close()


@pytest.mark.parametrize("width", [375])
def test_every_menu_item_is_reachable_on_a_phone(
    browser: Any, running: Running, width: int
) -> None:
    tab = signed_in(browser, running, width)
    page = tab.page
    for path in PAGES:
        page.goto(f"{running.base}/cabinet/{path}")
        boxes = items(page)
        # One row that scrolls sideways, not a wall of wrapped lines over the page.
        assert len({round(b["top"]) for b in boxes}) == 1, boxes
        small = [(b["text"], b["font"]) for b in boxes if b["font"] < MIN_FONT_PX]
        assert small == [], f"/{path} at {width} px: text made too small: {small}"
        assert sideways(page) <= 0, f"/{path} at {width} px: the page scrolls sideways"
        current = page.locator(".menu [aria-current]")
        # The script brings the current page's item into view.
        assert in_window(current.bounding_box(), width), f"/{path}: the current item is not"
        for item in page.locator(ITEMS).all():
            item.scroll_into_view_if_needed()
            box = item.bounding_box()
            assert in_window(box, width), (
                f"/{path}: {item.text_content()} cannot be brought into the window: {box}"
            )
            # Playwright's own checks of a click (visible, stable, not covered by the
            # fade or anything else), without clicking.
            item.click(trial=True)
    assert [e for e in tab.errors if running.base in e] == []
    tab.page.context.close()
