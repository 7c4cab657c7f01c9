"""The cabinet driven by a real browser: a tab that keeps its console errors and takes
screenshots, the sign-in by the SMS code, and linking an account.

The browser is the ``browser`` fixture (conftest.py: Playwright driving Debian's Chromium,
support/browser.py); the cabinet is :func:`cabinet_web.serve_cabinet`'s. Shared by the
test_cabinet_browser*.py modules, which cannot import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_harness import ACCOUNT, Running
from browser import SCREENSHOTS, VIEWPORTS
from cabinet_web import PHONE, last_code

__all__ = ["Tab", "link", "login"]


class Tab:
    """One browser page with its click count, console errors and screenshots.

    ``errors`` holds each console error (a CSP violation is one) and uncaught exception, a
    console error followed by the address it came from, for the tests to filter by origin.
    """

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.clicks = 0
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"{m.text} {m.location.get('url', '')}")
                if m.type == "error"
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def click(self, locator: Any) -> None:
        """Click ``locator``, counted (the clicks to the acquirer's page are checked)."""
        self.clicks += 1
        locator.click()

    def shoot(self, name: str) -> None:
        """The page as it is, at every size, as ``build/screenshots/cabinet-NAME-SIZE.png``
        (the page's own size is restored after)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        before = self.page.viewport_size
        for size, viewport in VIEWPORTS.items():
            self.page.set_viewport_size(viewport)
            shot = SCREENSHOTS / f"cabinet-{name}-{size}.png"
            self.page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
        self.page.set_viewport_size(before)


def login(page: Any, r: Running, shoot: Callable[[str], None] | None = None) -> None:
    """Sign in as :data:`cabinet_web.PHONE` with the code from the SMS outbox: from the
    cabinet's start (sent to the login page) to «Мои лицевые счета». ``shoot`` (a
    :meth:`Tab.shoot`) saves the login and code pages on the way."""
    page.goto(r.base + "/cabinet/")
    assert page.url.endswith("/cabinet/login")
    if shoot is not None:
        shoot("login")
    page.get_by_label("Номер телефона").fill("8 916 123-45-67")
    page.get_by_role("button", name="Получить код").click()
    page.wait_for_url("**/cabinet/login/code")
    if shoot is not None:
        shoot("code")
    page.get_by_label("Код из СМС").fill(last_code(r, PHONE))
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/cabinet/accounts")


def link(page: Any, inn: str, premises: str = "кв. 12А", due: str = "3001,00") -> None:
    """Link :data:`api_harness.ACCOUNT` of partner ``inn`` on «Мои лицевые счета», proved by
    the premises and the amount due of the last bill (the form is sent; its answer is the
    test's to check)."""
    page.get_by_label("Поставщик услуги").select_option(inn)
    page.get_by_label("Номер лицевого счёта").fill(ACCOUNT)
    page.get_by_label("Номер помещения (квартиры)").fill(premises)
    page.get_by_label("Сумма к оплате по последней квитанции, руб.").fill(due)
    page.get_by_role("button", name="Привязать").click()
