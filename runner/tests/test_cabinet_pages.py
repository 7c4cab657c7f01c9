"""The cabinet's later pages without a browser (issue 15): Начисления и платежи, Показания
(a multipart form with a photo), Архив квитанций, Удалить кабинет, the branding from the
configuration, and the route names the metrics label cabinet requests with."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from api_harness import ACCOUNT, HOUSE, Running, press_pay
from cabinet_web import PHONE, WebClient, serve_cabinet
from pes_sdk_runner.usecases import MAX_PHOTO_BYTES

from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.premises import Premises

OTHER_PHONE = "+79035550000"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NBSP = "\u00a0"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path, receipts=True) as r:
        yield r


def linked(r: Running, phone: str = PHONE, partners: tuple[int, ...] = (0, 1)) -> WebClient:
    c = WebClient(r.base)
    c.login(r, phone)
    for i in partners:
        assert c.link(r.inns[i], ACCOUNT).status == 303
    return c


def pay(r: Running, c: WebClient, amount: str = "100,50") -> str:
    """Pay ``amount`` on partner 0's first service, confirmed by the webhook; the order id."""
    path = f"/cabinet/pay/{r.inns[0]}/{ACCOUNT}"
    page = c.get(path)
    key = page.keys()[0]
    fields = [
        ("csrf", page.csrf),
        ("key", page.field("key")),
        ("acq", page.field("acq")),
        ("tick", key),
        (f"amount-{key}", amount),
        ("action", "pay"),
    ]
    sent = c.post(path, fields)
    assert sent.status == 303, sent.text
    press_pay(sent.location)
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    return_url = str(sim._payments[sent.location.rsplit("/", 1)[-1]].return_url)
    order = return_url.partition("?")[0].rsplit("/", 1)[-1]  # after it, the way back's token
    for _ in range(100):
        if 'data-state="succeeded"' in c.get(f"/cabinet/payments/{order}").text:
            return order
        time.sleep(0.05)
    raise AssertionError("the payment never turned paid")


# -- Начисления и платежи ----------------------------------------------------------------------


def test_charges_show_every_registry_period_and_the_cabinets_own_payments(
    running: Running,
) -> None:
    r = running
    # An older period's registry of partner 0: the history shows both periods.
    record = DebtRecord(ACCOUNT, HOUSE, Premises("кв. 12А"), Decimal("777.77"), service="Вода")
    r.store.ingest_debt_registry(r.inns[0], Period(2026, 10), 1, [record], sha256="older")
    c = linked(r)
    empty = c.get("/cabinet/charges")
    assert empty.status == 200
    assert "ноябрь 2026" in empty.text and "октябрь 2026" in empty.text
    assert f"777,77{NBSP}руб." in empty.text and f"1{NBSP}500,50{NBSP}руб." in empty.text
    names = [p.partner.name for p in r.config.partners[:2]]
    for name in names:
        assert name.replace('"', "&#34;") in empty.text or name in empty.text
    assert "Платежей из кабинета по этому счёту пока не было" in empty.text
    order = pay(r, c)
    shown = c.get("/cabinet/charges")
    assert f"/cabinet/payments/{order}" in shown.text
    assert "state-succeeded" in shown.text and "оплачен" in shown.text
    assert f"100,50{NBSP}руб." in shown.text
    # Another cabinet with the same account linked does not see this cabinet's payment.
    other = linked(r, OTHER_PHONE, (0,))
    theirs = other.get("/cabinet/charges")
    assert theirs.status == 200 and order not in theirs.text
    assert "октябрь 2026" in theirs.text


def test_pages_need_a_session(running: Running) -> None:
    c = WebClient(running.base)
    for path in ("/cabinet/charges", "/cabinet/readings", "/cabinet/receipts"):
        page = c.get(path)
        assert page.status == 303 and page.location.endswith("/cabinet/login"), path


# -- Показания -----------------------------------------------------------------------------------


def reading_form(page_csrf: str, r: Running, **values: str) -> dict[str, str]:
    form = {
        "csrf": page_csrf,
        "account": f"{r.inns[0]}:{ACCOUNT}",
        "meter": "new",
        "number": "ХВ-123",
        "type": "9",
        "taken_on": dt.date.today().isoformat(),
        "value1": "123,456",
    }
    form.update(values)
    return form


def test_a_reading_with_a_photo_is_recorded_and_listed(running: Running) -> None:
    r = running
    c = linked(r)
    page = c.get("/cabinet/readings")
    assert page.status == 200 and 'enctype="multipart/form-data"' in page.text
    assert "Показаний пока нет" in page.text
    sent = c.post_multipart(
        "/cabinet/readings",
        reading_form(page.csrf, r, taken_on=(dt.date.today() - dt.timedelta(days=30)).isoformat()),
        {"photo": ("meter.png", PNG, "image/png")},
    )
    assert sent.status == 303, sent.text
    assert "sent=1" in sent.location
    stored = r.store.readings(r.inns[0], ACCOUNT)
    assert len(stored) == 1 and stored[0].reading.values == (Decimal("123.456"),)
    assert stored[0].reading.photo is not None
    assert stored[0].reading.photo.media_type == "image/png"
    shown = c.get(sent.location)
    assert "Показания приняты." in shown.text
    assert "Холодная вода" in shown.text and "ХВ-123" in shown.text and "Т1 123,456" in shown.text
    # The known meter is chosen by its key; a lower value is refused beside the field ...
    meter = re.search(r'<option value="([0-9a-f]{16})" selected>', shown.text)
    assert meter is not None
    lower = c.post_multipart(
        "/cabinet/readings", reading_form(shown.csrf, r, meter=meter.group(1), value1="100")
    )
    assert lower.status == 422
    assert "Показание меньше предыдущего" in lower.text
    assert 'id="value1" name="value1"' in lower.text and 'aria-invalid="true"' in lower.text
    # ... unless the meter rolled over.
    rolled = c.post_multipart(
        "/cabinet/readings",
        reading_form(shown.csrf, r, meter=meter.group(1), value1="100", decrease="rollover"),
    )
    assert rolled.status == 303, rolled.text
    history = c.get("/cabinet/readings")
    assert "счётчик прошёл через ноль" in history.text


@pytest.mark.parametrize(
    ("values", "photo", "field", "says"),
    [
        ({"value1": "12a"}, None, "value1", "цифрами"),
        ({"value1": ""}, None, "value1", "Введите показание"),
        ({"taken_on": "2000-01-01"}, None, "taken_on", "три года назад"),
        ({"taken_on": "2099-01-01"}, None, "taken_on", "позже завтрашнего"),
        ({"number": ""}, None, "number", "номер счётчика"),
        ({"type": ""}, None, "type", "что измеряет"),
        ({}, b"GIF89a" + b"\x00" * 10, "photo", "JPEG или PNG"),
        ({}, b"\xff\xd8\xff" + b"\x00" * (MAX_PHOTO_BYTES - 2), "photo", "больше 5 МБ"),
    ],
)
def test_reading_rules_are_shown_in_russian_beside_the_field(
    running: Running, values: dict[str, str], photo: bytes | None, field: str, says: str
) -> None:
    r = running
    c = linked(r, partners=(0,))
    page = c.get("/cabinet/readings")
    files = {"photo": ("p.bin", photo, "application/octet-stream")} if photo else None
    refused = c.post_multipart("/cabinet/readings", reading_form(page.csrf, r, **values), files)
    assert refused.status == 422, refused.text
    beside = re.search(rf'<p class="error" id="error-{field}">([^<]*)</p>', refused.text)
    assert beside is not None, refused.text
    assert says.lower() in beside.group(1).lower()
    assert r.store.readings(r.inns[0], ACCOUNT) == []


def test_the_readings_form_needs_its_csrf_token_and_the_clients_account(
    running: Running,
) -> None:
    r = running
    c = linked(r, partners=(0,))
    page = c.get("/cabinet/readings")
    stale = c.post_multipart("/cabinet/readings", reading_form("wrong", r))
    assert stale.status == 403 and "Форма устарела" in stale.text
    # A body above the photo's limit is cut off while it streams in, in Russian.
    huge = {
        "photo": ("p.jpg", b"\xff\xd8\xff" + b"\x00" * (MAX_PHOTO_BYTES + 70_000), "image/jpeg")
    }
    too_large = c.post_multipart("/cabinet/readings", reading_form(page.csrf, r), huge)
    assert too_large.status == 413 and "Файл слишком большой" in too_large.text
    # A form sent urlencoded is not the readings form.
    assert c.post("/cabinet/readings", reading_form(page.csrf, r)).status == 415
    # Partner 1's account is not linked to this cabinet: not found, nothing recorded.
    theirs = reading_form(page.csrf, r, account=f"{r.inns[1]}:{ACCOUNT}")
    assert c.post_multipart("/cabinet/readings", theirs).status == 404
    # Another cabinet cannot read this account's readings by naming it.
    assert c.post_multipart("/cabinet/readings", reading_form(page.csrf, r)).status == 303
    other = linked(r, OTHER_PHONE, (1,))
    shown = other.get(f"/cabinet/readings?account={r.inns[0]}:{ACCOUNT}")
    assert shown.status == 200 and "ХВ-123" not in shown.text
    assert r.store.readings(r.inns[1], ACCOUNT) == []


# -- Архив квитанций -----------------------------------------------------------------------------


def test_the_receipt_archive_shows_each_paid_payments_receipt(running: Running) -> None:
    r = running
    c = linked(r)
    assert "Чеков пока нет" in c.get("/cabinet/receipts").text
    order = pay(r, c, "200")
    page = c.get("/cabinet/receipts")
    assert page.status == 200 and order in page.text
    partner = r.config.partners[0]
    assert partner.inn in page.text
    assert f"Итого 200,00{NBSP}руб., в том числе агентское вознаграждение 0,00{NBSP}руб." in (
        page.text
    )
    assert "НДС 22%" in page.text  # the first partner's receipt_vat in the harness
    other = linked(r, OTHER_PHONE, (0,))
    assert order not in other.get("/cabinet/receipts").text


# -- Удалить кабинет ------------------------------------------------------------------------------


def test_deleting_the_cabinet_asks_first_then_deletes_it_and_logs_out(running: Running) -> None:
    r = running
    c = linked(r)
    accounts = c.get("/cabinet/accounts")
    assert 'href="/cabinet/accounts/delete"' in accounts.text
    confirm = c.get("/cabinet/accounts/delete")
    assert confirm.status == 200 and "Удалить кабинет?" in confirm.text
    assert r.store.cabinet_by_phone(PHONE) is not None
    # Without the confirmation field, or without the CSRF token, nothing is deleted.
    assert c.post("/cabinet/accounts/delete", {"csrf": confirm.csrf}).status == 200
    refused = c.post("/cabinet/accounts/delete", {"csrf": "x", "confirm": "yes"})
    assert refused.status == 403
    assert r.store.cabinet_by_phone(PHONE) is not None
    done = c.post("/cabinet/accounts/delete", {"csrf": confirm.csrf, "confirm": "yes"})
    assert done.status == 200 and "Кабинет удалён" in done.text
    assert r.store.cabinet_by_phone(PHONE) is None
    assert c.cookie("pes_cabinet") is None
    assert c.get("/cabinet/accounts").location.endswith("/cabinet/login")


# -- branding and metrics ------------------------------------------------------------------------


def test_the_service_name_colours_and_logo_come_from_the_configuration(tmp_path: Path) -> None:
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    with serve_cabinet(
        f"sqlite:///{tmp_path / 'r.db'}",
        tmp_path,
        service_name="ЕРЦ <Пермь>",
        primary_color="#123456",
        accent_color="#abcdef",
        logo=logo,
    ) as r:
        c = WebClient(r.base)
        page = c.get("/cabinet/login")
        assert "<title>Вход — ЕРЦ &lt;Пермь&gt;</title>" in page.text
        assert "<span>ЕРЦ &lt;Пермь&gt;</span>" in page.text
        assert 'src="/cabinet/logo"' in page.text
        theme = re.search(r'href="(/cabinet/theme\.css\?v=[0-9a-f]+)"', page.text)
        assert theme is not None
        css = c.get(theme.group(1))
        assert css.status == 200 and css.headers["content-type"].startswith("text/css")
        assert "--brand: #123456;" in css.text and "--brand-dark: #abcdef;" in css.text
        served = c.get("/cabinet/logo")
        assert served.status == 200 and served.headers["content-type"] == "image/svg+xml"
        assert "script-src" in served.headers["content-security-policy"]
        assert "style=" not in page.text  # the CSP forbids inline style


def test_without_branding_the_defaults_and_no_logo(running: Running) -> None:
    c = WebClient(running.base)
    page = c.get("/cabinet/login")
    assert "— Личный кабинет</title>" in page.text and "/cabinet/logo" not in page.text
    assert c.get("/cabinet/logo").status == 404
    theme = re.search(r'href="(/cabinet/theme\.css\?v=[0-9a-f]+)"', page.text)
    assert theme is not None and "--brand: #0b6b4f;" in c.get(theme.group(1)).text


def test_cabinet_requests_are_labelled_by_their_route_in_the_metrics(running: Running) -> None:
    r = running
    c = linked(r, partners=(0,))
    c.get(f"/cabinet/pay/{r.inns[0]}/{ACCOUNT}")
    c.get("/cabinet/static/cabinet.css")
    c.get("/cabinet/nowhere")
    metrics = r.call("GET", "/metrics", token=None).body.decode()
    assert 'route="/cabinet/pay/{inn}/{account}",status="200"' in metrics
    assert 'route="/cabinet/login/code",status="303"' in metrics
    assert 'route="/cabinet/accounts/link",status="303"' in metrics
    assert 'route="/cabinet/static",status="200"' in metrics
    assert 'route="/cabinet",status="404"' in metrics
    assert 'route="unmatched"' not in metrics
