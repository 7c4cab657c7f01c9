"""The cabinet in a real browser (issue 15's "Tests in a real browser"): Chromium logs in
with the code read from the sandbox SMS outbox, links two accounts, sees the services of
three partners at the address, unticks one and changes an amount while the script keeps the
total and the agent fee right (partner-paid and client-paid plans), pays on the sandbox's
page and sees the result page turn paid after the webhook, then logs out and finds its old
session cookie refused. It counts the clicks to the acquirer's page, completes a payment by
keyboard alone, and screenshots every page at a phone's and a laptop's size into
build/screenshots/ (to be looked at). No console error (a CSP violation is one) is allowed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ACCOUNT, Running
from browser import VIEWPORTS
from cabinet_browser import Tab, link, login
from cabinet_web import PHONE, serve_cabinet
from pes_sdk_runner.bills import make_bills

NBSP = "\u00a0"
#: What the server takes for a PNG photo: its magic bytes.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        yield r


def rub(text: str) -> str:
    return text.replace(" ", NBSP) + NBSP + "руб."


def keys(page: Any) -> list[str]:
    found: list[str] = page.locator('input[name="tick"]').evaluate_all(
        "nodes => nodes.map(n => n.value)"
    )
    return found


def test_the_whole_path_in_a_browser(browser: Any, running: Running) -> None:
    from playwright.sync_api import expect

    r = running
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ru-RU")
    tab = Tab(context)
    page = tab.page
    login(page, r, tab.shoot)
    expect(page.get_by_role("heading", name="Мои лицевые счета")).to_be_visible()
    tab.shoot("accounts-empty")

    # Мои лицевые счета: a wrong proof is refused in Russian; two accounts are linked.
    link(page, r.inns[0], premises="13")
    expect(page.get_by_role("alert")).to_contain_text("Лицевой счёт не найден")
    tab.shoot("accounts-refused")
    link(page, r.inns[0])
    expect(page.get_by_role("status")).to_have_text("Лицевой счёт привязан.")
    link(page, r.inns[1], premises="12а", due="3001.00")
    expect(page.locator(".account")).to_have_count(2)
    tab.shoot("accounts")

    # The payment page of the current account: every partner's services at the address.
    page.get_by_role("link", name="Оплата").click()
    expect(page.get_by_role("heading", name="Пополнение лицевого счёта")).to_be_visible()
    names = {r.config.partners[i].partner.name for i in range(3)}
    for name in names:
        expect(page.locator("td.supplier", has_text=name).first).to_be_visible()
    expect(page.get_by_text("Автоплатёж: не подключён")).to_be_visible()
    expect(page.get_by_role("heading", name="Найдены услуги по вашему адресу")).to_be_visible()
    tab.shoot("pay")
    p0a, p0b, p1a, _p1b, p2a, _p2b = keys(page)
    total, fee = page.locator("#total-sum"), page.locator("#total-fee")
    expect(total).to_have_text(rub("6 032,02"))
    expect(fee).to_have_text(rub("30,02"))
    expect(page.locator(f"#fee-{p0a}")).to_have_text("отсутствует")  # partner-paid plan
    expect(page.locator(f"#fee-{p1a}")).to_have_text(rub("15,01"))  # client-paid, 1%

    # Untick one, change an amount: the script keeps the total and the fee right.
    page.locator(f"#tick-{p0b}").uncheck()
    expect(total).to_have_text(rub("4 531,52"))
    page.locator(f"#amount-{p1a}").fill("1000,50")
    expect(page.locator(f"#fee-{p1a}")).to_have_text(rub("10,01"))
    expect(total).to_have_text(rub("4 026,52"))  # 1500,50 + 1000,50 + 1500,50 + 25,02
    expect(fee).to_have_text(rub("25,02"))
    page.locator(f"#amount-{p0a}").fill("12,345")
    expect(page.locator(f"#error-{p0a}")).to_have_text("Введите сумму цифрами, например 1500,50")
    page.locator(f"#amount-{p0a}").fill("1500.5")
    expect(page.locator(f"#error-{p0a}")).to_be_hidden()
    expect(total).to_have_text(rub("4 026,52"))
    tab.shoot("pay-changed")

    # Pay: the sandbox's page, then back to the result page, paid after the webhook.
    page.get_by_label("Получить электронный чек на почту").check()
    page.get_by_label("Адрес электронной почты для чека").fill("client@example.ru")
    page.get_by_role("button", name="Оплатить").click()
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    expect(page.locator("body")).to_contain_text("4026.52")
    tab.shoot("sandbox")
    page.get_by_role("button", name="Оплатить / Pay").click()
    page.wait_for_url("**/cabinet/payments/**")
    expect(page.locator("#result")).to_have_attribute("data-state", "succeeded", timeout=15000)
    expect(page.get_by_role("heading", name="Платёж оплачен")).to_be_visible()
    tab.shoot("result")

    # One click to the acquirer's page for services already ticked ...
    page.goto(r.base + "/cabinet/")
    tab.clicks = 0
    tab.click(page.get_by_role("button", name="Оплатить"))
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    assert tab.clicks == 1
    # ... two (tick, pay) for a service found at the address.
    page.goto(r.base + "/cabinet/")
    tab.clicks = 0
    tab.click(page.locator(f"#tick-{p2a}"))
    tab.click(page.get_by_role("button", name="Оплатить"))
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    assert tab.clicks == 2
    accepted = r.store.acceptances("cabinet:1")
    assert any(a.partner_inn == r.inns[2] and a.service == "Отопление" for a in accepted)

    # Начисления и платежи: the registry's charges and the payment, paid, with its lines.
    page.goto(r.base + "/cabinet/")
    page.get_by_role("link", name="Начисления и платежи").click()
    expect(page.get_by_role("heading", name="Начисления и платежи", level=1)).to_be_visible()
    expect(page.locator(".charges td.period").first).to_have_text("ноябрь 2026")
    paid = page.locator(".payment", has=page.locator(".state-succeeded")).first
    expect(paid).to_contain_text("оплачен")
    expect(paid.locator(".payment-lines li").first).to_contain_text(rub("1 500,50"))
    tab.shoot("charges")

    # Показания: a new meter's reading with a photo; a lower one is refused beside the field.
    page.get_by_role("link", name="Показания").click()
    expect(page.get_by_role("heading", name="Показания", level=1)).to_be_visible()
    page.get_by_label("Номер счётчика").fill("ХВ-123")
    page.get_by_label("Что измеряет").select_option(label="Холодная вода")
    month_ago = dt.date.today() - dt.timedelta(days=30)
    page.get_by_label("Дата снятия показаний").fill(month_ago.isoformat())
    page.get_by_label("Т1 (или единый тариф)").fill("123,456")
    page.get_by_label("Фото счётчика (JPEG или PNG, до 5 МБ)").set_input_files(
        {"name": "meter.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.get_by_role("button", name="Передать показания").click()
    expect(page.get_by_role("status")).to_have_text("Показания приняты.")
    expect(page.locator(".readings-history tbody tr")).to_have_count(1)
    expect(page.locator(".meter")).to_contain_text("Холодная вода")
    tab.shoot("readings")
    page.get_by_label("Дата снятия показаний").fill(dt.date.today().isoformat())
    page.get_by_label("Т1 (или единый тариф)").fill("100")
    page.get_by_role("button", name="Передать показания").click()
    expect(page.locator("#error-value1")).to_contain_text("меньше предыдущего")
    expect(page.get_by_label("Т1 (или единый тариф)")).to_have_attribute("aria-invalid", "true")
    tab.shoot("readings-refused")
    assert len(r.store.readings(r.inns[0], ACCOUNT)) == 1

    # Архив квитанций: the first account's bill, made as the job engine makes it, the
    # second's not yet; and the paid payments' receipts.
    registry = next(i for i in r.store.debt_registries(r.inns[0]) if i.active)
    make_bills(r.store, r.config.partners[0].partner, registry, r.config.service.data)
    page.get_by_role("link", name="Архив квитанций").click()
    expect(page.get_by_role("heading", name="Архив квитанций", level=1)).to_be_visible()
    bills = page.locator(".bill-account")
    expect(bills).to_have_count(2)
    expect(bills.nth(1)).to_contain_text("квитанция формируется")
    with page.expect_download() as got:
        bills.nth(0).get_by_role("link", name="Скачать PDF").click()
    assert got.value.suggested_filename == f"квитанция-{ACCOUNT}-2026-11.pdf"
    saved = got.value.path()
    assert saved is not None and Path(saved).read_bytes().startswith(b"%PDF")
    expect(page.locator(".receipt-card").first).to_contain_text("Итого")
    tab.shoot("receipts")

    # An unknown page says so in Russian.
    page.goto(r.base + "/cabinet/payments/00000000-0000-0000-0000-000000000000")
    expect(page.get_by_role("heading", name="Страница не найдена")).to_be_visible()
    tab.shoot("not-found")

    # Log out: the old session cookie is refused afterwards.
    old = [c for c in context.cookies() if c["name"] == "pes_cabinet"]
    assert old and old[0]["httpOnly"] and old[0]["sameSite"] == "Lax"
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/cabinet/login")
    replay = browser.new_context()
    replay.add_cookies(old)
    again = replay.new_page()
    again.goto(r.base + "/cabinet/accounts")
    assert again.url.endswith("/cabinet/login")
    replay.close()
    # The sandbox's page is another site's (its favicon is its business); the refused link
    # (422) and the 404 were asked for.
    asked = ("status of 422", "/cabinet/payments/0000")
    ours = [e for e in tab.errors if r.base in e and not any(a in e for a in asked)]
    assert ours == []
    context.close()


def test_a_payment_by_keyboard_alone(browser: Any, running: Running) -> None:
    from playwright.sync_api import expect

    r = running
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="ru-RU")
    tab = Tab(context)
    page = tab.page
    login(page, r)
    link(page, r.inns[0])
    page.goto(r.base + "/cabinet/")
    found = keys(page)[-1]  # a service found at the address, not ticked

    def tab_to(selector: str) -> None:
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to(f"#tick-{found}")
    page.keyboard.press("Space")
    expect(page.locator(f"#tick-{found}")).to_be_checked()
    expect(page.locator("#total-sum")).not_to_have_text(rub("3 001,00"))  # it joined the sum
    tab_to(".pay-button")
    page.keyboard.press("Enter")
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    tab_to('button[value="pay"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/cabinet/payments/**")
    expect(page.locator("#result")).to_have_attribute("data-state", "succeeded", timeout=15000)
    assert [e for e in tab.errors if r.base in e] == []
    context.close()


def test_the_pages_work_without_javascript(browser: Any, running: Running) -> None:
    from playwright.sync_api import expect

    r = running
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    tab = Tab(context)
    page = tab.page
    login(page, r)
    link(page, r.inns[0])
    page.goto(r.base + "/cabinet/")
    first = keys(page)[0]
    page.locator(f"#amount-{first}").fill("100")
    expect(page.locator("#total-sum")).to_have_text(rub("3 001,00"))  # no script: unchanged
    page.get_by_role("button", name="Пересчитать").click()
    expect(page.locator("#total-sum")).to_have_text(rub("1 600,50"))
    tab.shoot("pay-no-script")
    page.get_by_role("button", name="Оплатить").click()
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    context.close()


def test_a_branded_cabinet_is_deleted_after_a_confirmation(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    logo = tmp_path / "logo.svg"
    logo.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32" viewBox="0 0 64 32">'
        '<rect width="64" height="32" rx="6" fill="#fff"/>'
        '<text x="32" y="22" font-size="16" text-anchor="middle" fill="#7a1f5c">ЕРЦ</text></svg>'
    )
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    branding = {
        "service_name": "ЕРЦ Пермь",
        "primary_color": "#7a1f5c",
        "accent_color": "#4d123a",
        "logo": logo,
    }
    with serve_cabinet(url, tmp_path, **branding) as r:
        context = browser.new_context(viewport=VIEWPORTS["phone"], locale="ru-RU")
        tab = Tab(context)
        page = tab.page
        login(page, r)
        expect(page).to_have_title("Мои лицевые счета — ЕРЦ Пермь")
        expect(page.locator(".brand img.logo")).to_be_visible()
        colour = page.locator(".top").evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(122, 31, 92)"
        # The menu is one row on a phone (it scrolls sideways), not three wrapped lines.
        items = page.locator(".menu li")
        tops = {
            round(b["y"])
            for b in items.evaluate_all("nodes => nodes.map(n => n.getBoundingClientRect())")
        }
        assert len(tops) == 1
        link(page, r.inns[0])
        tab.shoot("branded-accounts")
        page.get_by_role("link", name="Удалить кабинет…").click()
        expect(page.get_by_role("heading", name="Удалить кабинет?")).to_be_visible()
        tab.shoot("delete")
        page.get_by_role("button", name="Удалить кабинет").click()
        expect(page.get_by_role("heading", name="Кабинет удалён")).to_be_visible()
        assert r.store.cabinet_by_phone(PHONE) is None
        page.goto(r.base + "/cabinet/accounts")
        assert page.url.endswith("/cabinet/login")
        assert [e for e in tab.errors if r.base in e] == []
        context.close()
