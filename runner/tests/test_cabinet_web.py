"""The cabinet's pages over HTTP, as a browser without JavaScript sees them: cookies and
headers, CSRF, login by phone with its limits, the linked accounts, the payment page's
totals under both fee plans, paying through the sandbox, partner text escaped, and one
client's pages closed to another. The browser itself drives them in
test_cabinet_browser.py."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from api_harness import ACCOUNT, HOUSE, Running, press_pay, serve
from cabinet_web import PHONE, Page, WebClient, serve_cabinet
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.cabinet.web.money import AmountError, parse_rub, rub, rub_input
from pes_sdk_runner.cabinet.web.routes import RETURN_LINK_TTL
from pes_sdk_runner.cabinet.web.security import AcquirerOrigins, is_loopback_http
from pes_sdk_runner.store.base import House
from starlette.requests import Request

OTHER_PHONE = "+79160000000"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        yield r


def pay_path(r: Running, partner: int = 0) -> str:
    return f"/cabinet/pay/{r.inns[partner]}/{ACCOUNT}"


def linked_client(r: Running, phone: str = PHONE, partners: tuple[int, ...] = (0, 1)) -> WebClient:
    c = WebClient(r.base)
    c.login(r, phone)
    for i in partners:
        linked = c.link(r.inns[i], ACCOUNT)
        assert linked.status == 303, linked.text
    return c


def form_of(
    page: Page, ticks: list[str], amounts: dict[str, str], **extra: str
) -> list[tuple[str, str]]:
    fields = [("csrf", page.csrf), ("key", page.field("key")), ("acq", page.field("acq"))]
    fields += [("tick", k) for k in ticks]
    fields += [(f"amount-{k}", v) for k, v in amounts.items()]
    fields += list(extra.items())
    return fields


def total_of(page: Page) -> tuple[str, str]:
    found = re.search(
        r'Итого к оплате <strong id="total-sum">([^<]*)</strong>, в том числе агентское '
        r'вознаграждение <strong id="total-fee">([^<]*)</strong>',
        page.text,
    )
    assert found is not None
    return found.group(1).replace("\u00a0", " "), found.group(2).replace("\u00a0", " ")


def fee_of(page: Page, key: str) -> str:
    found = re.search(rf'id="fee-{key}">([^<]*)<', page.text)
    assert found is not None
    return found.group(1).replace("\u00a0", " ")


# -- money as the pages show and read it ------------------------------------------------------


def test_amounts_are_read_with_a_comma_or_a_point_exactly() -> None:
    assert parse_rub("1500,5") == Decimal("1500.50")
    assert parse_rub(" 1 500.50 ") == Decimal("1500.50")
    assert parse_rub("1\u00a0500,05") == Decimal("1500.05")
    assert parse_rub("7") == Decimal("7.00")
    for bad in ("", "0", "0,00", "-5", "1,234", "1e3", "12.3.4", "пять", "١٢"):
        with pytest.raises(AmountError):
            parse_rub(bad)
    assert rub(Decimal("1234567.5")) == "1\u00a0234\u00a0567,50\u00a0руб."
    assert rub(Decimal("0")) == "0,00\u00a0руб."
    assert rub_input(Decimal("1500.5")) == "1500,50"


def test_the_acquirer_origins_a_page_allowed() -> None:
    origins = AcquirerOrigins(["https://pay.example"])
    assert origins.allowed_by("https://pay.example", 1)
    assert not origins.allowed_by("https://pay.example", 0)
    origins.learn("https://other.example")
    assert not origins.allowed_by("https://other.example", 1)
    assert origins.allowed_by("https://other.example", 2)


@pytest.mark.parametrize(
    ("scheme", "host", "loopback"),
    [
        ("http", "127.0.0.1", True),
        ("http", "localhost", True),
        ("http", "[::1]", True),
        ("https", "127.0.0.1", False),
        ("http", "cabinet.example", False),
        ("http", "10.0.0.5", False),
    ],
)
def test_cookies_are_secure_except_on_loopback_http(scheme: str, host: str, loopback: bool) -> None:
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": (host.strip("[]"), 80),
        "path": "/cabinet/login",
        "headers": [(b"host", host.encode())],
        "query_string": b"",
    }
    assert is_loopback_http(Request(scope)) is loopback


# -- the base: headers, cookies, CSRF ---------------------------------------------------------


def test_every_page_has_the_security_headers_and_cookies_are_httponly_lax(
    running: Running,
) -> None:
    r = running
    c = WebClient(r.base)
    login = c.get("/cabinet/login")
    assert login.status == 200
    for page in (login, c.get("/cabinet/static/cabinet.css"), c.get("/cabinet/nowhere")):
        csp = page.headers["content-security-policy"]
        assert (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:" in csp
        )
        assert "frame-ancestors 'none'" in csp
        sandbox = r.gateway.simulator.base_url  # type: ignore[attr-defined]
        assert f"form-action 'self' {sandbox}" in csp
        assert "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
    assert c.get("/cabinet/nowhere").status == 404
    # No inline script or style on the pages: the CSP would block them.
    assert "<script>" not in login.text and "style=" not in login.text
    assert "<style" not in login.text
    c.login(r)
    session = c.cookie_attrs("pes_cabinet")
    assert session.has_nonstandard_attr("HttpOnly")
    assert session.get_nonstandard_attr("SameSite", "").lower() == "lax"
    assert not session.secure  # loopback http
    assert session.path == "/cabinet"
    accounts = c.get("/cabinet/accounts")
    assert accounts.headers["cache-control"] == "no-store"
    for item in ("Мои лицевые счета", "Начисления и платежи", "Показания", "Архив квитанций"):
        assert item in accounts.text
    assert ">Выйти</button>" in accounts.text


def test_forms_without_their_csrf_token_are_refused(running: Running) -> None:
    r = running
    c = WebClient(r.base)
    c.get("/cabinet/login")
    refused = c.post("/cabinet/login", {"phone": PHONE, "csrf": "forged"})
    assert refused.status == 403
    assert not list(read_outbox(Path(r.config.cabinet.sms.settings["path"])))  # type: ignore[union-attr]
    c.login(r)
    linking = {"partner": r.inns[0], "account": ACCOUNT, "premises": "12а", "due": "3001,00"}
    assert c.post("/cabinet/accounts/link", linking).status == 403
    assert c.post("/cabinet/accounts/link", {**linking, "csrf": "x" * 64}).status == 403
    assert "Лицевой счёт 1234567890" not in c.get("/cabinet/accounts").text
    # Another session's token is no good either.
    other = WebClient(r.base)
    other.login(r, OTHER_PHONE)
    theirs = other.get("/cabinet/accounts").csrf
    assert c.post("/cabinet/accounts/link", {**linking, "csrf": theirs}).status == 403
    assert c.post("/cabinet/logout", {}).status == 403
    assert c.get("/cabinet/accounts").status == 200  # still in


# -- login ------------------------------------------------------------------------------------


def test_login_by_phone_with_russian_refusals_and_limits(running: Running) -> None:
    r = running
    c = WebClient(r.base)
    page = c.get("/cabinet/login")
    assert 'type="tel" autocomplete="tel"' in page.text
    assert '<label for="phone">' in page.text
    bad = c.post("/cabinet/login", {"csrf": page.csrf, "phone": "+375 29 123 45 67"})
    assert bad.status == 422 and "Введите мобильный номер России" in bad.text
    assert c.get("/cabinet/login/code").status == 303  # no attempt yet: back to the phone
    sent = c.post("/cabinet/login", {"csrf": page.csrf, "phone": "8 (916) 123-45-67"})
    assert (sent.status, sent.location) == (303, "/cabinet/login/code")
    code_page = c.get("/cabinet/login/code")
    assert 'autocomplete="one-time-code" inputmode="numeric"' in code_page.text
    wrong = c.post("/cabinet/login/code", {"csrf": code_page.csrf, "code": "000000"})
    assert wrong.status == 422 and "Код неверный или устарел" in wrong.text
    c.post("/cabinet/login", {"csrf": page.csrf, "phone": PHONE})
    c.post("/cabinet/login", {"csrf": page.csrf, "phone": PHONE})
    limited = c.post("/cabinet/login", {"csrf": page.csrf, "phone": PHONE})
    assert limited.status == 429
    assert re.search(r"Слишком много запросов кода\. Попробуйте через \d+ мин\.", limited.text)
    assert 0 < int(limited.headers["retry-after"]) <= 600  # the 10-minute window at most
    # The newest code still lets the client in.
    done = c.post(
        "/cabinet/login/code",
        {"csrf": c.get("/cabinet/login/code").csrf, "code": _code(r)},
    )
    assert (done.status, done.location) == (303, "/cabinet/")
    assert c.cookie("pes_cabinet_login") is None  # the attempt is forgotten
    assert c.get("/cabinet/login").status == 303  # logged in: the login page sends on


def _code(r: Running, phone: str = PHONE) -> str:
    from cabinet_web import last_code

    return last_code(r, phone)


def test_logout_ends_the_session_and_the_old_cookie_is_refused(running: Running) -> None:
    r = running
    c = WebClient(r.base)
    c.login(r)
    old = c.cookie("pes_cabinet")
    assert old
    accounts = c.get("/cabinet/accounts")
    out = c.post("/cabinet/logout", {"csrf": accounts.csrf})
    assert (out.status, out.location) == (303, "/cabinet/login")
    assert c.cookie("pes_cabinet") is None
    replay = WebClient(r.base)
    replay.jar.set_cookie(_cookie("pes_cabinet", old))
    again = replay.get("/cabinet/accounts")
    assert (again.status, again.location) == (303, "/cabinet/login")


def _cookie(name: str, value: str) -> object:
    import http.cookiejar

    return http.cookiejar.Cookie(
        0, name, value, None, False, "127.0.0.1", False, False, "/cabinet", True,
        False, None, False, None, None, {},
    )  # fmt: skip


# -- Мои лицевые счета -----------------------------------------------------------------------


def test_link_unlink_and_switch_accounts(running: Running) -> None:
    r = running
    c = WebClient(r.base)
    c.login(r)
    empty = c.get("/cabinet/")
    assert (empty.status, empty.location) == (303, "/cabinet/accounts")
    page = c.get("/cabinet/accounts")
    for inn in r.inns:  # every served partner is offered
        assert f'<option value="{inn}"' in page.text
    wrong = c.link(r.inns[0], ACCOUNT, premises="13")
    assert wrong.status == 422
    assert "Лицевой счёт не найден или данные не совпадают" in wrong.text
    typo = c.link(r.inns[0], ACCOUNT, due="три")
    assert typo.status == 422 and "цифрами" in typo.text
    assert c.link(r.inns[0], ACCOUNT, due="3001,00").status == 303
    assert c.link(r.inns[1], ACCOUNT, premises="кв. 12А", due="3001.00").status == 303
    listed = c.get("/cabinet/accounts")
    assert listed.text.count("Лицевой счёт 1234567890") == 2
    assert "Текущий" in listed.text
    assert c.get("/cabinet/").location == pay_path(r, 0)
    switched = c.post(
        "/cabinet/accounts/current",
        {"csrf": listed.csrf, "partner": r.inns[1], "account": ACCOUNT},
    )
    assert (switched.status, switched.location) == (303, pay_path(r, 1))
    assert c.get("/cabinet/").location == pay_path(r, 1)
    not_mine = c.post(
        "/cabinet/accounts/current",
        {"csrf": listed.csrf, "partner": r.inns[2], "account": ACCOUNT},
    )
    assert not_mine.status == 404 and "не привязан" in not_mine.text
    gone = c.post(
        "/cabinet/accounts/unlink", {"csrf": listed.csrf, "partner": r.inns[1], "account": ACCOUNT}
    )
    assert gone.status == 303
    assert c.get("/cabinet/accounts").text.count("Лицевой счёт 1234567890") == 1
    assert c.get("/cabinet/").location == pay_path(r, 0)  # the current one is gone
    assert c.get(pay_path(r, 1)).status == 404


def test_failed_links_are_limited_in_russian(tmp_path: Path) -> None:
    with serve_cabinet(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, link_failures_per_hour=1) as r:
        c = WebClient(r.base)
        c.login(r)
        assert c.link(r.inns[0], ACCOUNT, premises="13").status == 422
        limited = c.link(r.inns[0], ACCOUNT)
        assert limited.status == 429
        assert "Слишком много неудачных попыток" in limited.text
        assert 0 < int(limited.headers["retry-after"]) <= 3600  # the hour's window at most


# -- the payment page ----------------------------------------------------------------------------


def test_the_payment_page_and_its_totals_under_both_fee_plans(running: Running) -> None:
    r = running
    c = linked_client(r)  # partner 0 is partner-paid (percent), 1 client-paid (subscription 1%)
    page = c.get(pay_path(r))
    assert page.status == 200
    text = page.text.replace("\u00a0", " ")
    for shown in (
        "Пополнение лицевого счёта",
        "Лицевой счёт</span> <strong>1234567890</strong>",
        "К оплате</span> <strong>3 001,00 руб.</strong>",
        "Автоплатёж:</span> не подключён",
        "Наименование услуги",
        "Поставщик услуги",
        "Агентское вознаграждение",
        "Найдены услуги по вашему адресу",
        "Получить электронный чек на почту",
        ">Оплатить</button>",
    ):
        assert shown in text, shown
    assert "Помещение кв. 12А" in text  # no house directory: no address
    r.store.upsert_houses([House.from_address(HOUSE, "г. Пермь, ул. Ленина, д. 1")])
    assert "г. Пермь, ул. Ленина, д. 1, помещение кв. 12А" in c.get(pay_path(r)).text
    keys = page.keys()
    assert len(keys) == 6  # two services of each of three partners at the address
    p0, p1, p2 = keys[0:2], keys[2:4], keys[4:6]
    assert [fee_of(page, k) for k in p0] == ["отсутствует"] * 2
    assert [fee_of(page, k) for k in p1] == ["15,01 руб."] * 2  # 1% of 1500.50, half up
    assert [fee_of(page, k) for k in p2] == ["—"] * 2  # found, not ticked
    assert total_of(page) == ("6 032,02 руб.", "30,02 руб.")
    # Untick one, change an amount (typed with a comma, a point and spaces): the server
    # recomputes without JavaScript.
    amounts = {p0[0]: "1500,50", p0[1]: "1500,50", p1[0]: "1 000.5", p1[1]: "1500,50"}
    recalc = c.post(pay_path(r), form_of(page, [p0[0], p1[0]], amounts, action="recalc"))
    assert recalc.status == 200, recalc.text
    assert total_of(recalc) == ("2 511,01 руб.", "10,01 руб.")  # 1500.50 + 1000.50 + 10.01
    assert fee_of(recalc, p0[1]) == "—"
    assert 'value="1 000.5"' in recalc.text  # kept as typed
    bad = c.post(pay_path(r), form_of(page, [p0[0]], {p0[0]: "10,555"}, action="recalc"))
    assert bad.status == 422 and "Введите сумму цифрами" in bad.text
    beside = c.post(
        pay_path(r), form_of(page, p0, {p0[0]: "10,555", p0[1]: "100"}, action="recalc")
    )
    assert total_of(beside) == ("100,00 руб.", "0,00 руб.")  # the good line still counts
    # The script's quote answers the same as the server's form.
    quote = c.post(pay_path(r) + "/quote", form_of(page, [p0[0], p1[0]], amounts))
    assert quote.status == 200
    import json

    answer = json.loads(quote.text)
    assert answer["total"].replace("\u00a0", " ") == "2 511,01 руб."
    assert answer["fee"].replace("\u00a0", " ") == "10,01 руб."
    assert answer["lines"][p1[0]]["fee"].replace("\u00a0", " ") == "10,01 руб."
    assert answer["lines"][p0[0]]["fee"] == "отсутствует"


def test_ticking_a_found_service_records_the_acceptance(running: Running) -> None:
    r = running
    c = linked_client(r)
    page = c.get(pay_path(r))
    found = page.keys()[4]
    before = {a.partner_inn for a in r.store.acceptances(client_key(1))}  # the first cabinet
    assert before == {r.inns[0], r.inns[1]}  # linking ticks the linked accounts
    recalc = c.post(pay_path(r), form_of(page, [found], {found: "100"}, action="recalc"))
    assert recalc.status == 200
    accepted = r.store.acceptances(client_key(1))
    assert any(a.partner_inn == r.inns[2] and a.service == "Отопление" for a in accepted)
    assert total_of(recalc) == ("100,00 руб.", "0,00 руб.")
    # Now it is among the ticked services, not the found ones.
    again = c.get(pay_path(r))
    assert again.text.index(f'value="{found}"') < again.text.index("Найдены услуги по вашему")


def test_unticking_a_service_ticked_at_the_address_withdraws_its_acceptance(
    running: Running,
) -> None:
    # A tick is a record of consent: unticked, the service's acceptance is withdrawn for
    # the future (it goes back among the found services) and kept as history. A linked
    # account's services stay ticked by the link: unticking one only leaves it unpaid.
    r = running
    c = linked_client(r)
    page = c.get(pay_path(r))
    keys = page.keys()
    found = keys[4]
    c.post(pay_path(r), form_of(page, [found], {found: "100"}, action="recalc"))
    mine = client_key(1)
    ticked = r.store.acceptances(mine)
    page = c.get(pay_path(r))
    assert f'name="accepted" value="{found}"' in page.text
    assert page.text.count('name="accepted"') == 1  # not the linked accounts' services
    # Every service unticked but one of the linked account's: only the tick given at the
    # address is withdrawn, even when the form names the others as accepted too.
    others = [("accepted", k) for k in keys[:4]]
    form = form_of(page, keys[:1], {keys[0]: "10"}, action="recalc")
    unticked = c.post(pay_path(r), [*form, ("accepted", found), *others])
    assert unticked.status == 200
    assert total_of(unticked) == ("10,00 руб.", "0,00 руб.")
    left = r.store.acceptances(mine)
    assert [a for a in ticked if a not in left] == [
        a for a in ticked if a.partner_inn == r.inns[2] and a.service == "Отопление"
    ]
    ((withdrawn, _at),) = r.store.withdrawn_acceptances(mine)
    assert (withdrawn.partner_inn, withdrawn.service) == (r.inns[2], "Отопление")
    again = c.get(pay_path(r))
    assert again.text.index(f'value="{found}"') > again.text.index("Найдены услуги по вашему")
    assert 'name="accepted"' not in again.text
    # Nothing ticked, yet the form's marker came back: no tick, nothing withdrawn again.
    c.post(pay_path(r), [*form_of(again, [], {}, action="recalc"), ("accepted", found)])
    assert len(r.store.withdrawn_acceptances(mine)) == 1


def test_pay_goes_to_the_acquirer_and_the_result_page_shows_paid(tmp_path: Path) -> None:
    with serve_cabinet(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, receipts=True) as r:
        _pay_and_see_it_paid(r)


def _pay_and_see_it_paid(r: Running) -> None:
    c = linked_client(r)
    page = c.get(pay_path(r))
    keys = page.keys()
    form = form_of(page, keys[:1], {keys[0]: "100,50"}, action="pay", email="client@example.ru")
    sent = c.post(pay_path(r), form)
    sandbox = r.gateway.simulator.base_url  # type: ignore[attr-defined]
    assert sent.status == 303 and sent.location.startswith(sandbox + "/pay/"), sent.text
    # The e-mail went to the acquirer for the 54-ФЗ receipt (tag 1008).
    payment_id = sent.location.rsplit("/", 1)[-1]
    customer = r.gateway.simulator.receipt_customer(payment_id)  # type: ignore[attr-defined]
    assert customer == {"email": "client@example.ru"}
    # The same form again (a double click): the same payment, not a second one.
    assert c.post(pay_path(r), form).location == sent.location
    order = re.search(r"[0-9a-f-]{36}", _return_url(r, sent.location))
    assert order is not None
    result = f"/cabinet/payments/{order.group(0)}"
    pending = c.get(result)
    assert pending.status == 200 and 'http-equiv="refresh"' in pending.text
    assert 'data-state="pending"' in pending.text
    press_pay(sent.location)
    for _ in range(100):
        shown = c.get(result)
        if 'data-state="succeeded"' in shown.text:
            break
        time.sleep(0.05)
    assert "Платёж оплачен" in shown.text and 'http-equiv="refresh"' not in shown.text
    assert "100,50\u00a0руб." in shown.text
    # Another client does not see it, nor this client's account.
    other = WebClient(r.base)
    other.login(r, OTHER_PHONE)
    assert other.get(result).status == 404
    assert other.get(pay_path(r)).status == 404
    theirs = [("csrf", other.get("/cabinet/accounts").csrf), *form[1:]]
    assert other.post(pay_path(r), theirs).status == 404
    assert other.post(pay_path(r) + "/quote", theirs).status == 404
    assert other.post(pay_path(r), [*theirs, ("action", "recalc")]).status == 404
    assert other.get("/cabinet/payments/not-a-uuid").status == 404


def _return_url(r: Running, confirmation: str) -> str:
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    payment_id = confirmation.rsplit("/", 1)[-1]
    return str(sim._payments[payment_id].return_url)


def test_the_result_page_shows_the_payment_after_the_session_ended(running: Running) -> None:
    # The session may end while the client is on the acquirer's page: the way back names
    # the payment with a token of its own, and shows its state without a session (but
    # not the menu or the account's number); the bare address, or a wrong token, does not.
    r = running
    c = linked_client(r)
    page = c.get(pay_path(r))
    keys = page.keys()
    sent = c.post(pay_path(r), form_of(page, keys[:1], {keys[0]: "100,50"}, action="pay"))
    assert sent.status == 303, sent.text
    back = _return_url(r, sent.location)
    path, _, query = back.partition("?")
    assert re.fullmatch(r"r=[0-9a-f]{64}", query)
    out = c.post("/cabinet/logout", {"csrf": c.get("/cabinet/accounts").csrf})
    assert out.status == 303
    press_pay(sent.location)
    for _ in range(100):
        shown = c.get(back)
        if 'data-state="succeeded"' in shown.text:
            break
        time.sleep(0.05)
    assert shown.status == 200 and "Платёж оплачен" in shown.text, shown.text
    assert "100,50\u00a0руб." in shown.text
    assert ACCOUNT not in shown.text and "Выйти" not in shown.text
    assert (c.get(path).status, c.get(path).location) == (303, "/cabinet/login")
    assert c.get(f"{path}?r={'0' * 64}").status == 303
    # Signed in as another client: their own view has no such payment; the way back
    # still shows it, to whoever holds it.
    other = WebClient(r.base)
    other.login(r, OTHER_PHONE)
    assert other.get(path).status == 404
    assert other.get(f"{path}?r={'0' * 64}").status == 404
    assert other.get(back).status == 200
    # A day on, the way back shows it no more: the client logs in to see it.
    api = r.app.state.api
    later = dt.datetime.now(dt.UTC) + RETURN_LINK_TTL
    api.cabinets.sessions.clock = lambda: later
    assert (c.get(back).status, c.get(back).location) == (303, "/cabinet/login")


def test_an_acquirer_origin_the_page_did_not_allow_is_reached_through_our_page(
    running: Running,
) -> None:
    r = running
    c = linked_client(r)
    page = c.get(pay_path(r))
    keys = page.keys()
    form = [f for f in form_of(page, keys[:1], {keys[0]: "10"}, action="pay") if f[0] != "acq"]
    sent = c.post(pay_path(r), [*form, ("acq", "0")])
    assert sent.status == 200
    assert 'http-equiv="refresh" content="0; url=http://127.0.0.1' in sent.text


def test_the_receipt_email_is_checked(running: Running) -> None:
    r = running
    c = linked_client(r)
    page = c.get(pay_path(r))
    keys = page.keys()
    bad = c.post(
        pay_path(r),
        form_of(page, keys[:1], {keys[0]: "10"}, action="pay", receipt="1", email="нет"),
    )
    assert bad.status == 422 and "Проверьте адрес почты" in bad.text
    empty = c.post(
        pay_path(r),
        form_of(page, keys[:1], {keys[0]: "10"}, action="pay", receipt="1", email=""),
    )
    assert empty.status == 422 and "Укажите адрес почты" in empty.text
    assert 'type="email" autocomplete="email"' in bad.text


def test_nothing_ticked_is_refused_in_russian(running: Running) -> None:
    r = running
    c = linked_client(r)
    page = c.get(pay_path(r))
    refused = c.post(pay_path(r), form_of(page, [], {}, action="pay"))
    assert refused.status == 422 and "Отметьте хотя бы одну услугу" in refused.text


def test_partner_text_is_shown_as_text(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with serve_cabinet(url, tmp_path, {0: [evil], 1: ["Отопление"]}) as r:
        c = WebClient(r.base)
        c.login(r)
        assert c.link(r.inns[0], ACCOUNT, due="1500,50").status == 303
        page = c.get(pay_path(r))
        assert page.status == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x" in page.text


def test_no_cabinet_pages_without_the_cabinet(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'r.db'}", tmp_path) as r:
        assert WebClient(r.base).get("/cabinet/login").status == 404
