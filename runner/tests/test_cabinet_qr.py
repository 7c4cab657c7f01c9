"""«Оплатить по QR»: a paper bill's payment QR code (ГОСТ Р 56042-2014) read in the cabinet
and by ``POST /v1/qr/resolve``.

Real parts: the codes are drawn by the library (segno) as PNG and JPEG files and uploaded
as a browser uploads them (multipart over loopback HTTP); zxing-cpp reads them in the
runner; the store is a real SQLite file. The example configuration's partners each have
ACCOUNT with two services of 1500.50 (support/cabinet_web.py).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from api_harness import ACCOUNT, Running, press_pay
from cabinet_web import Page, WebClient, serve_cabinet
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.cabinet.web.routes import CURRENT_COOKIE
from pes_sdk_runner.cabinet.web.security import SESSION_COOKIE
from pes_sdk_runner.usecases import MAX_PHOTO_BYTES, split_sum

from pes_sdk.qr import Charset, PaymentDetails, encode, make_qr, save_png

BANK = {
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "corresp_acc": "30101810400000000225",
}
#: a payee with good check digits whom the example configuration does not serve
STRANGER_INN = "7702123454"


def details(
    inn: str, account: str = ACCOUNT, amount: str | None = "2500.00", **extra: str
) -> PaymentDetails:
    return PaymentDetails(
        "ООО «УК Дом»",
        "40702810938000012345",
        BANK["bank_name"],
        BANK["bic"],
        BANK["corresp_acc"],
        payee_inn=inn,
        pers_acc=account,
        sum=Decimal(amount) if amount is not None else None,
        **extra,  # type: ignore[arg-type]
    )


def png_of(d: PaymentDetails, tmp_path: Path, charset: Charset = Charset.UTF8) -> bytes:
    path = tmp_path / "bill.png"
    save_png(d, path, charset=charset)
    return path.read_bytes()


def jpeg_of(d: PaymentDetails) -> bytes:
    """A photo-like JPEG of the code: lossy, scaled up, on a grey page."""
    from PIL import Image

    buffer = io.BytesIO()
    make_qr(d).save(buffer, kind="png", scale=6)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    page = Image.new("L", (code.width + 200, code.height + 300), 200)
    page.paste(code, (100, 150))
    out = io.BytesIO()
    page.save(out, format="JPEG", quality=70)
    return out.getvalue()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        yield r


def signed_in(r: Running, link: tuple[int, ...] = ()) -> WebClient:
    c = WebClient(r.base)
    c.login(r)
    for i in link:
        assert c.link(r.inns[i], ACCOUNT).status == 303
    return c


def upload(c: WebClient, data: bytes, kind: str = "image/png", name: str = "bill.png") -> Page:
    page = c.get("/cabinet/qr")
    assert page.status == 200
    return c.post_multipart(
        "/cabinet/qr", [("csrf", page.csrf), ("text", "")], {"photo": (name, data, kind)}
    )


def paste(c: WebClient, text: str) -> Page:
    page = c.get("/cabinet/qr")
    return c.post_multipart("/cabinet/qr", [("csrf", page.csrf), ("text", text)])


def amounts(page: Page) -> dict[str, str]:
    return dict(re.findall(r'name="amount-([0-9a-f]{16})"[^>]*?value="([^"]*)"', page.text))


def ticked(page: Page) -> set[str]:
    return set(re.findall(r'name="tick" value="([0-9a-f]{16})" checked', page.text))


def form_action(page: Page) -> str:
    found = re.search(r'<form method="post" action="([^"]+)" class="pay"', page.text)
    assert found is not None
    return found.group(1).replace("&amp;", "&")


# -- the amounts offered ----------------------------------------------------------------------


def test_a_bills_sum_is_spread_over_the_dues_in_turn_to_the_kopeck() -> None:
    dues = [Decimal("1500.50"), Decimal("1500.50")]
    assert split_sum(Decimal("2500.00"), dues) == (Decimal("1500.50"), Decimal("999.50"))
    assert split_sum(Decimal("3001.00"), dues) == (Decimal("1500.50"), Decimal("1500.50"))
    # an overpayment (аванс) goes on the first service
    assert split_sum(Decimal("3500.01"), dues) == (Decimal("1999.51"), Decimal("1500.50"))
    assert split_sum(Decimal("100"), [Decimal("0"), Decimal("50")]) == (
        Decimal("50.00"),
        Decimal("50.00"),
    )
    assert split_sum(None, dues) == tuple(dues)
    for total in (Decimal("0.01"), Decimal("1234.56"), Decimal("99999.99")):
        assert sum(split_sum(total, dues)) == total


# -- the cabinet: a photo of the code ---------------------------------------------------------


def test_an_unlinked_accounts_photo_shows_its_services_to_tick_then_pays(
    running: Running, tmp_path: Path
) -> None:
    r = running
    c = signed_in(r)  # no account linked: the code alone finds it
    page = upload(c, png_of(details(r.inns[1]), tmp_path, Charset.WIN1251))
    assert page.status == 200, page.text
    assert "Пополнение лицевого счёта" in page.text
    assert "АО «Водоканал»" in page.text and ACCOUNT in page.text
    assert "к оплате по QR-коду 2\u00a0500,00\u00a0руб.<" in page.text
    # the Sum spread over the two services; nothing ticked: the tick is the acceptance
    keys = page.keys()
    assert sorted(amounts(page)[k] for k in keys) == ["1500,50", "999,50"]
    assert ticked(page) == set()
    # the account's place is not told on a code's word; linking it is offered
    assert "кв. 12А" not in page.text and "12А" not in page.text
    assert "Привязать лицевой счёт" in page.text
    assert f"partner={r.inns[1]}" in page.text
    assert 'id="autopay"' not in page.text  # autopay is for linked accounts
    action = form_action(page)
    assert "?qr=" in action

    # the page's own address works for this session only
    bare = action.split("?")[0].removeprefix(r.base)
    assert c.get(bare).status == 404
    other = signed_in(r)
    assert other.get(action).status == 404

    fields = [("csrf", page.csrf), ("key", page.field("key")), ("acq", page.field("acq"))]
    fields += [("tick", k) for k in keys] + [(f"amount-{k}", v) for k, v in amounts(page).items()]
    paid = c.post(action, [*fields, ("action", "pay")])
    assert paid.status in (200, 303), paid.text
    target = paid.location
    if not target:  # the acquirer's origin learnt on the way: a page of ours sends on
        found = re.search(r'href="([^"]+)"', paid.text)
        assert found is not None
        target = found.group(1).replace("&amp;", "&")
    press_pay(target)
    # the payment is the client's (the first cabinet): 2500.00 over the two services,
    # both accepted by the ticks
    entries = r.store.payments_of_app(client_key(1), 10)
    assert len(entries) == 1
    lines = entries[0].payment.lines
    assert sum(ln.amount for ln in lines) == Decimal("2500.00")
    assert {(ln.partner_inn, ln.service) for ln in lines} == {
        (r.inns[1], "Отопление"),
        (r.inns[1], "Электроэнергия"),
    }
    accepted = {(a.partner_inn, a.service) for a in r.store.acceptances(client_key(1))}
    assert accepted == {(r.inns[1], "Отопление"), (r.inns[1], "Электроэнергия")}


def test_a_linked_accounts_photo_ticks_its_services_with_the_bills_amounts(
    running: Running, tmp_path: Path
) -> None:
    r = running
    c = signed_in(r, link=(0,))
    page = upload(c, jpeg_of(details(r.inns[0], amount="1000.00")), "image/jpeg", "photo.jpg")
    assert page.status == 200, page.text
    keys = page.keys()
    # the account's two services first (then those found at its address, unticked):
    # 1000.00 on the first, nothing on the second; only the first ticked
    own = keys[:2]
    assert [amounts(page)[k] for k in own] == ["1000,00", ""]
    assert ticked(page) == {own[0]}
    assert "?qr=" not in form_action(page)  # the ordinary payment page of a linked account
    assert 'Итого к оплате <strong id="total-sum">1\u00a0000,00\u00a0руб.' in page.text


def test_a_code_without_sum_offers_what_is_due(running: Running) -> None:
    r = running
    c = signed_in(r)
    page = paste(c, encode(details(r.inns[2], amount=None)))
    assert page.status == 200, page.text
    assert sorted(amounts(page).values()) == ["1500,50", "1500,50"]
    assert "к оплате по QR-коду" not in page.text


def test_a_tolerant_read_forgives_how_a_real_bill_writes_it_and_says_nothing(
    running: Running,
) -> None:
    r = running
    c = signed_in(r)
    text = encode(details(r.inns[0])).replace("ST00012", "st0001").replace("PersAcc=", "persacc=")
    page = paste(c, "  " + text + "|\n")
    assert page.status == 200, page.text
    for word in ("key-case", "trailing", "forgiven", "deviation", "отклонен"):
        assert word not in page.text


@pytest.mark.parametrize(
    ("make", "status", "says"),
    [
        (lambda inns: encode(details(STRANGER_INN)), 404, "не обслуживается нашим сервисом"),
        # the served ИНН with another КПП: a branch the service does not serve
        (lambda inns: encode(details(inns[0], kpp="500302001")), 404, "не обслуживается"),
        (lambda inns: encode(details(inns[0], account="999999")), 404, "не найден у поставщика"),
        (lambda inns: "просто текст", 422, "Это не платёжный QR-код"),
        (
            lambda inns: encode(details(inns[0])).replace("BIC=044525225", "BIC=044525226"),
            422,
            "контрольные цифры",
        ),
        (
            lambda inns: encode(details(inns[0])).replace("|PayeeINN=" + inns[0], ""),
            422,
            "нет обязательного реквизита: ИНН получателя",
        ),
        (
            lambda inns: encode(details(inns[0])).replace("|PersAcc=" + ACCOUNT, ""),
            422,
            "нет обязательного реквизита: лицевой счёт",
        ),
        (lambda inns: "", 422, "Загрузите фото QR-кода"),
    ],
)
def test_what_cannot_be_paid_is_said_plainly_in_russian(
    running: Running, make: object, status: int, says: str
) -> None:
    r = running
    c = signed_in(r)
    page = paste(c, make(r.inns))  # type: ignore[operator]
    assert page.status == status, page.text
    assert says in page.text
    assert "Traceback" not in page.text and "QrFormatError" not in page.text
    assert 'name="tick"' not in page.text  # nothing offered to pay
    assert r.store.acceptances(client_key(1)) == []


def test_photos_that_are_no_bill_are_refused_plainly(running: Running, tmp_path: Path) -> None:
    from PIL import Image

    r = running
    c = signed_in(r)
    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, format="PNG")
    page = upload(c, blank.getvalue())
    assert page.status == 422 and "не найден QR-код" in page.text

    two = Image.new("L", (900, 400), 255)
    for i, inn in enumerate(r.inns[:2]):
        buffer = io.BytesIO()
        make_qr(details(inn)).save(buffer, kind="png", scale=3)
        two.paste(Image.open(io.BytesIO(buffer.getvalue())), (20 + 450 * i, 20))
    several = io.BytesIO()
    two.save(several, format="PNG")
    page = upload(c, several.getvalue())
    assert page.status == 422 and "несколько QR-кодов" in page.text

    page = upload(c, b"%PDF-1.4 not an image", "application/pdf", "bill.pdf")
    assert page.status == 422 and "JPEG или PNG" in page.text
    # a PNG's magic with no image after it
    page = upload(c, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert page.status == 422 and "не удалось открыть как изображение" in page.text

    page = upload(c, b"\xff\xd8\xff" + b"\x00" * (MAX_PHOTO_BYTES + 100), "image/jpeg")
    assert page.status == 413 and "не больше 5 МБ" in page.text
    # a body above the limit is cut off while it streams in
    page = upload(c, b"\xff\xd8\xff" + b"\x00" * (MAX_PHOTO_BYTES + 70_000), "image/jpeg")
    assert page.status == 413 and "не больше 5 МБ" in page.text

    # a small PNG that would unpack to a giant image is refused before it is unpacked
    huge = io.BytesIO()
    Image.new("1", (10_000, 8_000), 1).save(huge, format="PNG")
    page = upload(c, huge.getvalue())
    assert page.status == 422 and "слишком большое" in page.text


def test_the_qr_page_needs_a_session_and_its_csrf(running: Running, tmp_path: Path) -> None:
    r = running
    anonymous = WebClient(r.base)
    assert anonymous.get("/cabinet/qr").status == 303
    c = signed_in(r)
    page = c.get("/cabinet/qr")
    assert "Оплатить по QR" in page.text and 'enctype="multipart/form-data"' in page.text
    stale = c.post_multipart(
        "/cabinet/qr", [("csrf", "x"), ("text", encode(details(r.inns[0])))], {}
    )
    assert stale.status == 403


def test_link_offer_fills_in_the_codes_partner_and_account(running: Running) -> None:
    r = running
    c = signed_in(r)
    page = c.get(f"/cabinet/accounts?partner={r.inns[1]}&account={ACCOUNT}")
    assert re.search(rf'<option value="{r.inns[1]}" selected>', page.text)
    assert f'value="{ACCOUNT}"' in page.text
    linked = c.link(r.inns[1], ACCOUNT)
    assert linked.status == 303
    assert c.cookie(CURRENT_COOKIE)


# -- POST /v1/qr/resolve --------------------------------------------------------------------


def test_the_api_resolves_a_codes_text(running: Running) -> None:
    r = running
    answer = r.call("POST", "/v1/qr/resolve", {"text": encode(details(r.inns[1]))})
    assert answer.status == 200, answer.body
    body = answer.json
    assert body["partner_inn"] == r.inns[1] and body["account"] == ACCOUNT
    assert body["partner_name"] == "АО «Водоканал»"
    assert body["sum"] == "2500.00" and body["amount"] == "2500.00"
    assert [s["service"] for s in body["services"]] == ["Отопление", "Электроэнергия"]
    assert body["services"][0]["premises"] == "кв. 12А"  # an app is trusted with it
    assert [(ln["service"], ln["amount"]) for ln in body["lines"]] == [
        ("Отопление", "1500.50"),
        ("Электроэнергия", "999.50"),
    ]

    # the lines are a basket the app pays once the client ticked them
    for line in body["lines"]:
        accepted = r.call(
            "POST",
            "/v1/acceptances",
            {"client_id": "u1", "partner_inn": line["partner_inn"], "account": ACCOUNT,
             "service": line["service"]},
        )  # fmt: skip
        assert accepted.status == 200
    paid = r.call(
        "POST",
        "/v1/payments",
        {"client_id": "u1", "lines": body["lines"], "return_url": "https://app.example/back"},
        headers={"Idempotency-Key": "qr-1"},
    )
    assert paid.status == 200, paid.body
    paid_lines = paid.json["payment"]["lines"] if "payment" in paid.json else paid.json["lines"]
    assert sum(Decimal(ln["amount"]) for ln in paid_lines) == Decimal("2500.00")


@pytest.mark.parametrize(
    ("text", "status", "code", "field"),
    [
        ("STRANGER", 404, "payee-not-served", "PayeeINN"),
        ("NO-ACCOUNT", 404, "account-not-found", "PersAcc"),
        ("not a payment string", 422, "qr-invalid", None),
        ("BAD-BIC", 422, "qr-invalid", "PersonalAcc"),
    ],
)
def test_the_api_answers_what_it_cannot_resolve_with_a_typed_error(
    running: Running, text: str, status: int, code: str, field: str | None
) -> None:
    r = running
    made = {
        "STRANGER": lambda: encode(details(STRANGER_INN)),
        "NO-ACCOUNT": lambda: encode(details(r.inns[0], account="999999")),
        "BAD-BIC": lambda: encode(details(r.inns[0])).replace("BIC=044525225", "BIC=044525226"),
    }
    body = made[text]() if text in made else text
    answer = r.call("POST", "/v1/qr/resolve", {"text": body})
    assert answer.status == status, answer.body
    assert answer.json["error"] == code
    if field is not None:
        assert answer.json["field"] == field


def test_the_api_takes_a_long_code_but_not_longer(running: Running) -> None:
    r = running
    long_purpose = encode(details(r.inns[0], purpose="Оплата " + "х" * 200))
    assert len(long_purpose) > 256
    assert r.call("POST", "/v1/qr/resolve", {"text": long_purpose}).status == 200
    answer = r.call("POST", "/v1/qr/resolve", {"text": "ST00012|" + "x" * 5000})
    assert answer.status == 422 and answer.json["error"] == "too-long"
    # other texts keep their limit
    answer = r.call("POST", "/v1/qr/resolve", {"text": "x", "other": "y" * 300})
    assert answer.status == 422 and answer.json["error"] == "too-long"
    assert r.call("POST", "/v1/qr/resolve", {"text": "x"}, token=None).status == 401


def test_a_cabinet_session_is_not_told_an_unseen_accounts_place(running: Running) -> None:
    r = running
    c = signed_in(r)
    token = c.cookie(SESSION_COOKIE) or ""
    assert token
    answer = r.call("POST", "/v1/qr/resolve", {"text": encode(details(r.inns[0]))}, token=token)
    assert answer.status == 200, answer.body
    assert {(s["house_id"], s["premises"]) for s in answer.json["services"]} == {(None, "")}
    assert c.link(r.inns[0], ACCOUNT).status == 303
    answer = r.call("POST", "/v1/qr/resolve", {"text": encode(details(r.inns[0]))}, token=token)
    assert {s["premises"] for s in answer.json["services"]} == {"кв. 12А"}
