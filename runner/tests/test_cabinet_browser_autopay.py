"""Автоплатёж in a real browser (issue 18's proof): Chromium connects autopay while paying
(the terms folded until ticked, the consent text following the terms as the client types,
a fault beside its field), approves the payment on the sandbox acquirer's page, finds the
autopay on the Автоплатёж page and on the payment page, and cancels it through its
confirmation step. Screenshots at a phone's and a laptop's size go to build/screenshots/
(``cabinet-autopay-*``), as the other cabinet browser tests save theirs. No console error
(a CSP violation is one) is allowed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import Running
from browser import VIEWPORTS
from cabinet_browser import Tab, link, login
from cabinet_web import serve_cabinet
from pes_sdk_runner.store.autopay import ConsentStatus

NBSP = "\u00a0"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        yield r


def test_connect_see_and_cancel_autopay_in_a_browser(browser: Any, running: Running) -> None:
    from playwright.sync_api import expect

    r = running
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="ru-RU")
    tab = Tab(context)
    page = tab.page
    login(page, r)
    link(page, r.inns[0])
    expect(page.get_by_role("status")).to_have_text("Лицевой счёт привязан.")

    # The payment page: not connected; the terms fold away until the box is ticked.
    page.get_by_role("link", name="Оплата").click()
    expect(page.locator("#autopay-state")).to_contain_text("Автоплатёж: не подключён")
    terms = page.locator("#autopay-terms")
    expect(terms).to_be_hidden()
    page.get_by_label("Подключить автоплатёж").check()
    expect(terms).to_be_visible()
    consent = page.locator("#consent-text")
    expect(consent).to_contain_text(f"не более 5{NBSP}000,00{NBSP}руб. в месяц")
    expect(consent).to_contain_text("при поступлении новых начислений")
    # The terms as the client changes them: the text follows, a fault shows beside its field.
    limit = page.get_by_label("Не больше в месяц")
    limit.fill("")
    expect(page.locator("#error-autopay_limit")).to_have_text(
        "Укажите лимит списаний в месяц, например 5000"
    )
    expect(limit).to_have_attribute("aria-invalid", "true")
    tab.shoot("autopay-pay-refused")
    limit.fill("3000")
    expect(page.locator("#error-autopay_limit")).to_be_hidden()
    page.get_by_label("В день месяца:").check()
    page.get_by_label("Число месяца, от 1 до 28").select_option("15")
    expect(consent).to_contain_text("15-го числа каждого месяца")
    expect(consent).to_contain_text(f"не более 3{NBSP}000,00{NBSP}руб. в месяц")
    agreed = consent.inner_text()
    tab.shoot("autopay-pay")

    # Pay on the sandbox's page; back on the result page, paid after the webhook.
    page.get_by_role("button", name="Оплатить", exact=True).click()
    page.wait_for_url(r.gateway.simulator.base_url + "/pay/**")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Оплатить / Pay").click()
    page.wait_for_url("**/cabinet/payments/**")
    expect(page.locator("#result")).to_have_attribute("data-state", "succeeded", timeout=15000)
    for _ in range(200):  # the consent comes with the webhook that says paid
        if r.store.consents_of("cabinet:1"):
            break
        time.sleep(0.05)
    [kept] = r.store.consents_of("cabinet:1")
    assert kept.text == agreed.strip(), "the text the client read is the text kept"
    card = re.search(r"\*\d{4}", kept.method.title)
    assert card is not None

    # Автоплатёж: the consent with its card, rule, limit and the text as agreed.
    page.get_by_role("link", name="Автоплатёж").click()
    expect(page.get_by_role("heading", name="Автоплатёж", level=1)).to_be_visible()
    shown = page.locator(".consent-card")
    expect(shown).to_have_count(1)
    expect(shown).to_contain_text(f"карта {card.group(0)}")
    expect(shown).to_contain_text("15-го числа каждого месяца")
    expect(shown).to_contain_text(f"3{NBSP}000,00{NBSP}руб.")
    expect(shown.locator(".consent-state")).to_have_text("действует")
    expect(page.get_by_text("Списаний пока не было.")).to_be_visible()
    page.get_by_text("Текст согласия").click()
    expect(shown.locator("blockquote")).to_have_text(agreed.strip())
    tab.shoot("autopay")

    # The payment page says it is connected.
    page.get_by_role("link", name="Оплата").click()
    expect(page.locator("#autopay-state")).to_contain_text(
        f"подключён: карта {card.group(0)}, 15-го числа каждого месяца"
    )
    expect(page.get_by_label("Подключить автоплатёж")).to_have_count(0)
    tab.shoot("autopay-pay-connected")

    # Cancel: a confirmation first, then off at once.
    page.get_by_role("link", name="Автоплатёж").click()
    page.get_by_role("button", name="Отключить").click()
    expect(page.get_by_role("heading", name="Отключить автоплатёж?")).to_be_visible()
    tab.shoot("autopay-cancel")
    assert r.store.consents_of("cabinet:1")[0].active, "nothing changes before confirming"
    page.get_by_role("button", name="Отключить автоплатёж").click()
    page.wait_for_url("**/cabinet/autopay?off=**")
    expect(page.get_by_role("status")).to_contain_text("отключён. Новых списаний не будет.")
    expect(page.locator(".consent-state")).to_contain_text("отключён")
    expect(page.get_by_role("button", name="Отключить")).to_have_count(0)
    tab.shoot("autopay-off")
    assert r.store.consents_of("cabinet:1")[0].status is ConsentStatus.CANCELLED
    page.get_by_role("link", name="Оплата").click()
    expect(page.locator("#autopay-state")).to_contain_text("Автоплатёж: не подключён")

    # The sandbox's page is another site's (its favicon is its business).
    assert [e for e in tab.errors if r.base in e] == []
    context.close()
