"""Автоплатёж in the cabinet, as a browser without JavaScript sees it (issue 18): the
autopay's state on the payment page, connecting it while paying (the consent text shown is
the one kept), its faults in Russian beside the fields, the Автоплатёж page with the
consent's text and charges, and cancelling it with a confirmation step.

Real parts: the runner's app over loopback HTTP on SQLite and PostgreSQL (``store_url``),
the sandbox acquirer's simulator (its saved cards), the store's autopay tables. Charges are
planned straight in the store (what :class:`~pes_sdk_runner.autopay.Autopay` does after a
registry: test_autopay.py drives that whole flow), so that each state is reached at once.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from api_harness import ACCOUNT, Running, press_pay
from cabinet_web import PHONE, Page, WebClient, serve_cabinet
from pes_sdk_runner.autopay import charge_id_of, customer_key_of
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.store.autopay import Charge, ChargeState, Consent, ConsentStatus

OTHER_PHONE = "+79160000000"
NBSP = "\u00a0"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(store_url, tmp_path) as r:
        yield r


def pay_path(r: Running) -> str:
    return f"/cabinet/pay/{r.inns[0]}/{ACCOUNT}"


def linked(r: Running, phone: str = PHONE) -> WebClient:
    c = WebClient(r.base)
    c.login(r, phone)
    assert c.link(r.inns[0], ACCOUNT).status == 303
    return c


def plain(text: str) -> str:
    return html.unescape(text).replace(NBSP, " ")


def words(page: Page) -> str:
    """The page's text as read: no tags, spaces collapsed."""
    return " ".join(plain(re.sub(r"<[^>]+>", " ", page.text)).split()).replace(" .", ".")


def consent_shown(page: Page) -> str:
    found = re.search(r'<blockquote id="consent-text"[^>]*>([^<]*)</blockquote>', page.text)
    assert found is not None, page.text
    return plain(found.group(1))


def field_or_blank(page: Page, name: str) -> str:
    return page.field(name) if f'name="{name}"' in page.text else ""


def pay_form(page: Page, **autopay: str) -> list[tuple[str, str]]:
    """The page's form as it stands (its first service at its amount due), autopay ticked
    with ``autopay`` over the page's own terms and digest."""
    key = page.keys()[0]
    fields = {
        "csrf": page.csrf,
        "key": page.field("key"),
        "acq": page.field("acq"),
        "tick": key,
        f"amount-{key}": "1500,50",
        "autopay": "1",
        "autopay_rule": "on_registry",
        "autopay_day": "10",
        "autopay_limit": field_or_blank(page, "autopay_limit"),
        "consent_digest": field_or_blank(page, "consent_digest"),
        "action": "pay",
    }
    fields.update(autopay)
    return [(k, v) for k, v in fields.items() if v is not None]


def client_of(r: Running, phone: str = PHONE) -> str:
    cabinet = r.store.cabinet_by_phone(phone)
    assert cabinet is not None
    return client_key(cabinet.id)


def connect(r: Running, c: WebClient, **autopay: str) -> Consent:
    """Pay the page's first service with autopay ticked, approve it at the acquirer; the
    consent in force."""
    page = c.get(pay_path(r))
    sent = c.post(pay_path(r), pay_form(page, **autopay))
    assert sent.status == 303, sent.text
    press_pay(sent.location)
    for _ in range(200):
        consents = r.store.consents_of(client_of(r))
        if consents:
            return consents[-1]
        time.sleep(0.05)
    raise AssertionError("the consent never came into force")


def plan(r: Running, consent: Consent, period: str, state: ChargeState) -> Charge:
    charge = Charge(
        charge_id_of(consent.consent_id, period),
        consent.consent_id,
        consent.version,
        consent.client_id,
        consent.partner_inn,
        consent.account,
        period,
        Decimal("1530.45"),
        NOW - dt.timedelta(days=3),
        NOW,
    )
    stored, _ = r.store.plan_charge(charge)
    if state is ChargeState.CHARGING:
        claimed = r.store.claim_charge(stored.charge_id, NOW)
        assert claimed is not None
        return claimed
    if state.is_final:
        ended = r.store.end_charge(stored.charge_id, state, None, NOW)
        assert ended is not None
        return ended
    return stored


def test_paying_with_autopay_ticked_connects_it_with_the_text_shown(running: Running) -> None:
    r = running
    c = linked(r)
    page = c.get(pay_path(r))
    assert page.status == 200
    assert "Автоплатёж:</span> не подключён" in page.text
    assert 'name="autopay" value="1"' in page.text and "Подключить автоплатёж" in page.text
    # The limit offered: what is due (3 001,00) and half again, rounded up to 500.
    assert page.field("autopay_limit") == "5000,00"
    text = consent_shown(page)
    assert text.startswith("Я даю согласие на автоматическое списание")
    assert f"лицевому счёту {ACCOUNT}" in text and "не более 5 000,00 руб. в месяц" in text
    assert "при поступлении новых начислений" in text and "за 3 дн." in text
    sent = c.post(pay_path(r), pay_form(page))
    assert sent.status == 303, sent.text
    # Before the acquirer was paid: the request is kept, the card asked to be saved for
    # this client, and no consent is in force yet.
    client = client_of(r)
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    at_acquirer = sim._payments[sent.location.rsplit("/", 1)[-1]]
    assert at_acquirer.customer_key == customer_key_of(client)
    assert r.store.consents_of(client) == []
    press_pay(sent.location)
    for _ in range(200):
        if r.store.consents_of(client):
            break
        time.sleep(0.05)
    [consent] = r.store.consents_of(client)
    assert consent.text == text, "the consent keeps the text the page showed, word for word"
    assert (consent.partner_inn, consent.account) == (r.inns[0], ACCOUNT)
    assert consent.monthly_limit == Decimal("5000.00") and consent.day is None
    card = re.search(r"\*\d{4}", consent.method.title)
    assert card is not None
    shown = words(c.get(pay_path(r)))
    assert (
        f"Автоплатёж: подключён: карта {card.group(0)}, при поступлении начислений,"
        " до 5 000,00 руб. в месяц." in shown
    )
    assert 'name="autopay"' not in c.get(pay_path(r)).text, "no second autopay on one account"


def test_a_day_of_the_month_and_the_last_charge_on_the_payment_page(running: Running) -> None:
    r = running
    c = linked(r)
    page = c.get(pay_path(r))
    recount = c.post(
        pay_path(r),
        pay_form(page, autopay_rule="day_of_month", autopay_day="15", autopay_limit="2 500,5",
                 action="recalc"),
    )  # fmt: skip
    assert recount.status == 200
    text = consent_shown(recount)
    assert "15-го числа каждого месяца" in text and "не более 2 500,50 руб. в месяц" in text
    consent = connect(
        r,
        c,
        autopay_rule="day_of_month",
        autopay_day="15",
        autopay_limit="2 500,5",
        consent_digest=recount.field("consent_digest"),
    )
    assert (consent.day, consent.monthly_limit, consent.text) == (15, Decimal("2500.50"), text)
    plan(r, consent, "2026-12", ChargeState.PAID)
    shown = words(c.get(pay_path(r)))
    assert "15-го числа каждого месяца, до 2 500,50 руб. в месяц." in shown
    assert "Последнее списание" in shown and "1 530,45 руб. — Списано." in shown


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"autopay_limit": ""}, "autopay_limit", "Укажите лимит списаний в месяц"),
        ({"autopay_limit": "пять"}, "autopay_limit", "Введите сумму цифрами"),
        ({"autopay_limit": "0"}, "autopay_limit", "Сумма должна быть больше нуля"),
        ({"autopay_limit": "1,001"}, "autopay_limit", "Введите сумму цифрами"),
        ({"autopay_limit": "999999999999"}, "autopay_limit", "Лимит — не больше"),
        ({"autopay_rule": "day_of_month", "autopay_day": "31"}, "autopay_day", "от 1 до 28"),
    ],
)
def test_bad_terms_are_shown_in_russian_beside_the_field_and_nothing_is_paid(
    running: Running, fields: dict[str, str], field: str, says: str
) -> None:
    r = running
    c = linked(r)
    page = c.get(pay_path(r))
    refused = c.post(pay_path(r), pay_form(page, **fields))
    assert refused.status == 422, refused.text
    beside = re.search(rf'<p class="error" id="error-{field}">([^<]*)</p>', refused.text)
    assert beside is not None, refused.text
    assert says in plain(beside.group(1))
    assert r.store.payments_of_app(client_of(r), 10) == []
    # Unticked, the same terms are no fault: the payment goes without autopay.
    sent = c.post(pay_path(r), pay_form(page, autopay="", **fields))
    assert sent.status == 303, sent.text
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    assert sim._payments[sent.location.rsplit("/", 1)[-1]].customer_key in ("", None)


def test_terms_changed_after_the_text_was_shown_are_shown_again_before_paying(
    running: Running,
) -> None:
    r = running
    c = linked(r)
    page = c.get(pay_path(r))
    # The limit typed again without a recount: the page showed the text for 5 000,00.
    changed = c.post(pay_path(r), pay_form(page, autopay_limit="7000"))
    assert changed.status == 422
    assert "Условия автоплатежа изменились" in changed.text
    assert "не более 7 000,00 руб. в месяц" in consent_shown(changed)
    assert r.store.payments_of_app(client_of(r), 10) == []
    consent = connect(r, c, autopay_limit="7000", consent_digest=changed.field("consent_digest"))
    assert consent.monthly_limit == Decimal("7000.00")


def test_the_autopay_page_lists_consents_texts_and_charges(running: Running) -> None:
    r = running
    c = linked(r)
    empty = c.get("/cabinet/autopay")
    assert empty.status == 200 and 'aria-current="page">Автоплатёж<' in empty.text
    assert "Автоплатёж не подключён" in empty.text and "Списаний пока не было" in empty.text
    consent = connect(r, c)
    for period, state in [
        ("2026-08", ChargeState.FAILED),
        ("2026-09", ChargeState.OVER_LIMIT),
        ("2026-10", ChargeState.NOTHING_DUE),
        ("2026-11", ChargeState.PAID),
        ("2026-12", ChargeState.NOTICED),
    ]:
        plan(r, consent, period, state)
    page = c.get("/cabinet/autopay")
    shown = words(page)
    assert r.config.partners[0].partner.name in shown and f"л/с {ACCOUNT}" in shown
    assert "при поступлении начислений" in shown and "5 000,00 руб." in shown
    assert "действует" in shown and "Отключить" in shown
    assert consent.text in shown, "the text as agreed"
    states = re.findall(r'<td class="charge-state" data-label="Состояние">([^<]*)</td>', page.text)
    assert sorted(states) == sorted(
        ["Не прошло", "Превышен лимит", "Оплачено иначе", "Списано", "Уведомили"]
    )
    assert shown.count("1 530,45 руб.") == 5
    # Another client sees none of it.
    other = linked(r, OTHER_PHONE)
    theirs = words(other.get("/cabinet/autopay"))
    assert consent.text not in theirs and "1 530,45" not in theirs


def test_cancelling_asks_first_then_stops_the_noticed_charge_at_once(running: Running) -> None:
    r = running
    c = linked(r)
    consent = connect(r, c)
    noticed = plan(r, consent, "2026-12", ChargeState.NOTICED)
    page = c.get("/cabinet/autopay")
    ask = c.post("/cabinet/autopay/cancel", {"csrf": page.csrf, "consent": str(consent.consent_id)})
    assert ask.status == 200 and "Отключить автоплатёж?" in ask.text
    assert r.store.consent(consent.consent_id).active, "nothing changes before confirming"  # type: ignore[union-attr]
    # Without the session's CSRF token nothing happens; another client gets 404.
    stale = {"csrf": "wrong", "consent": str(consent.consent_id), "confirm": "yes"}
    assert c.post("/cabinet/autopay/cancel", stale).status == 403
    other = linked(r, OTHER_PHONE)
    theirs = {
        "csrf": other.get("/cabinet/autopay").csrf,
        "consent": str(consent.consent_id),
        "confirm": "yes",
    }
    assert other.post("/cabinet/autopay/cancel", theirs).status == 404
    assert r.store.consent(consent.consent_id).active  # type: ignore[union-attr]
    done = c.post(
        "/cabinet/autopay/cancel",
        {"csrf": ask.csrf, "consent": str(consent.consent_id), "confirm": "yes"},
    )
    assert done.status == 303 and "off=" in done.location
    latest = r.store.consent(consent.consent_id)
    assert latest is not None and latest.status is ConsentStatus.CANCELLED
    stopped = r.store.charge(noticed.charge_id)
    assert stopped is not None and stopped.state is ChargeState.CANCELLED
    after = words(c.get(done.location.removeprefix(r.base)))
    assert f"Автоплатёж по лицевому счёту {ACCOUNT} отключён." in after
    assert "Списание, о котором мы уведомили, отменено." in after
    assert "отключён " in after and "Отменено" in after
    assert 'name="confirm"' not in after and "Отключить" not in after
    # The payment page says so, and offers it again.
    again_page = c.get(pay_path(r))
    again = words(again_page)
    assert "Автоплатёж: не подключён" in again and 'name="autopay"' in again_page.text


def test_a_charge_already_with_the_acquirer_is_told_plainly(running: Running) -> None:
    r = running
    c = linked(r)
    consent = connect(r, c)
    charging = plan(r, consent, "2026-12", ChargeState.CHARGING)
    page = c.get("/cabinet/autopay")
    assert "Списывается" in page.text
    done = c.post(
        "/cabinet/autopay/cancel",
        {"csrf": page.csrf, "consent": str(consent.consent_id), "confirm": "yes"},
    )
    assert done.status == 303 and "busy=1" in done.location
    after = words(c.get(done.location.removeprefix(r.base)))
    assert "Одно списание банк начал до отключения" in after
    still = r.store.charge(charging.charge_id)
    assert still is not None and still.state is ChargeState.CHARGING


def test_no_autopay_choice_when_the_gateway_cannot_save_a_card(running: Running) -> None:
    r = running
    # The sandbox with its recurring capability taken away: the runner must then not offer
    # what the acquirer cannot do (no real acquirer here lacks it).
    r.gateway.capabilities = attrs.evolve(r.gateway.capabilities, recurring=False)
    c = linked(r)
    page = c.get(pay_path(r))
    assert "Автоплатёж:</span> не подключён" in page.text
    assert 'name="autopay"' not in page.text and "Подключить автоплатёж" not in page.text
    # A hand-made form with it ticked pays without autopay.
    sent = c.post(pay_path(r), pay_form(page, autopay_limit="5000", consent_digest="x"))
    assert sent.status == 303, sent.text
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    assert sim._payments[sent.location.rsplit("/", 1)[-1]].customer_key in ("", None)


def test_the_autopay_page_needs_a_session_and_a_consent_id(running: Running) -> None:
    r = running
    anonymous = WebClient(r.base)
    page = anonymous.get("/cabinet/autopay")
    assert page.status == 303 and page.location.endswith("/cabinet/login")
    c = linked(r)
    csrf = c.get("/cabinet/autopay").csrf
    for consent in ("not-a-uuid", str(uuid.uuid4())):
        assert c.post("/cabinet/autopay/cancel", {"csrf": csrf, "consent": consent}).status == 404
