"""«Оплатить по QR» in a real browser: Chromium (Playwright, Debian's ``chromium``: see
support/browser.py) uploads a photo of a paper bill's QR code drawn by the library
(segno), reaches the payment page of the bill's account, which is not linked, ticks its
services while the script keeps the total right, and pays on the sandbox's page. A photo
without a code is refused in Russian. Each step is saved at a phone's and a laptop's size
as ``build/screenshots/cabinet-qr-*.png``; no console error (a CSP violation is one).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_harness import ACCOUNT, Running
from browser import SCREENSHOTS, VIEWPORTS, launched
from cabinet_web import PHONE, last_code, serve_cabinet

from pes_sdk.qr import Charset, PaymentDetails, save_png

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as b:
        yield b


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        yield r


def rub(text: str) -> str:
    return text.replace(" ", NBSP) + NBSP + "руб."


def shoot(page: Any, name: str) -> None:
    """The page at every size (as test_cabinet_browser.py's Tab.shoot)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        shot = SCREENSHOTS / f"cabinet-qr-{name}-{size}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
    page.set_viewport_size(before)


def bill_png(tmp_path: Path, inn: str) -> Path:
    details = PaymentDetails(
        "АО «Водоканал»",
        "40702810938000012345",
        "ПАО Сбербанк",
        "044525225",
        "30101810400000000225",
        payee_inn=inn,
        pers_acc=ACCOUNT,
        sum=Decimal("2500.00"),
        purpose="Оплата ЖКУ за ноябрь 2026",
    )
    path = tmp_path / "bill-qr.png"
    save_png(details, path, charset=Charset.WIN1251, scale=4)
    return path


def test_paying_a_paper_bill_by_its_qr_code(browser: Any, running: Running, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    r = running
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="ru-RU")
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} {m.location.get('url', '')}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(r.base + "/cabinet/login")
    page.get_by_label("Номер телефона").fill(PHONE)
    page.get_by_role("button", name="Получить код").click()
    page.wait_for_url("**/cabinet/login/code")
    page.get_by_label("Код из СМС").fill(last_code(r, PHONE))
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/cabinet/accounts")

    # No account linked: the bill's code alone finds its account.
    page.get_by_role("link", name="Оплатить по QR").click()
    expect(page.get_by_role("heading", name="Оплатить по QR")).to_be_visible()
    shoot(page, "form")

    # A photo with no code in it is refused plainly.
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (300, 200), "white").save(blank)
    page.get_by_label("Фото QR-кода (JPEG или PNG, до 5 МБ)").set_input_files(str(blank))
    page.get_by_role("button", name="Найти квитанцию").click()
    expect(page.get_by_role("alert")).to_contain_text("На фото не найден QR-код")
    shoot(page, "refused")

    page.get_by_label("Фото QR-кода (JPEG или PNG, до 5 МБ)").set_input_files(
        str(bill_png(tmp_path, r.inns[1]))
    )
    page.get_by_role("button", name="Найти квитанцию").click()
    expect(page.get_by_role("heading", name="Пополнение лицевого счёта")).to_be_visible()
    expect(page.locator("#qr-notice")).to_contain_text("АО «Водоканал», лицевой счёт " + ACCOUNT)
    expect(page.locator("#qr-notice")).to_contain_text(rub("2 500,00"))
    expect(page.get_by_role("link", name="Привязать лицевой счёт")).to_be_visible()
    ticks = page.locator('input[name="tick"]')
    expect(ticks).to_have_count(2)
    total = page.locator("#total-sum")
    expect(total).to_have_text(rub("0,00"))  # nothing ticked: the tick is the acceptance
    shoot(page, "pay")

    # Ticking: the script asks the server (the page's qr token with it) for the total.
    ticks.nth(0).check()
    ticks.nth(1).check()
    expect(total).to_have_text(rub("2 525,01"))  # 1500,50 + 999,50 and Водоканал's 1% fee
    shoot(page, "pay-ticked")
    page.get_by_role("button", name="Оплатить").click()
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    expect(page.locator("body")).to_contain_text("2525.01")
    accepted = {(a.partner_inn, a.service) for a in r.store.acceptances("cabinet:1")}
    assert accepted == {(r.inns[1], "Отопление"), (r.inns[1], "Электроэнергия")}

    # "Привязать лицевой счёт" fills in the code's partner and account.
    page.goto(r.base + f"/cabinet/accounts?partner={r.inns[1]}&account={ACCOUNT}")
    expect(page.get_by_label("Поставщик услуги")).to_have_value(r.inns[1])
    expect(page.get_by_label("Номер лицевого счёта")).to_have_value(ACCOUNT)
    # The sandbox's page is another site's (its favicon is its business); the refused
    # photo's 422 was asked for.
    assert [e for e in errors if r.base in e and "status of 422" not in e] == []
    context.close()
