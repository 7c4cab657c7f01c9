"""Monthly bills (квитанции) in the cabinet's «Архив квитанций» and the JSON API
(docs/bills.md, docs/cabinet.md, docs/runner-api.md).

Real parts: SQLite and PostgreSQL stores; the bills made by the runner's own code
(:func:`pes_sdk_runner.bills.make_bills`, as the job engine runs it) into the data folder
the runner serves them from; the cabinet's pages and the API over loopback HTTP, the PDF
read back with pypdf.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
from api_harness import ACCOUNT, CLIENT, HOUSE, OTHER_APP, Running, accept
from cabinet_web import WebClient, serve_cabinet
from http_client import request
from pes_sdk_runner.bills import bill_path, make_bills, renderer
from pes_sdk_runner.store import SqlStore

from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.premises import Premises

NOVEMBER = Period(2026, 11)
OCTOBER = Period(2026, 10)
#: An account with a slash and Cyrillic letters: its file is А-17%2F3.pdf, its address
#: carries it as %2F.
SLASHED = "А-17/3"
OTHER_PHONE = "+79031112233"


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(store_url, tmp_path / "cabinet") as r:
        yield r


def records(*accounts: str, amount: str = "1500.50") -> list[DebtRecord]:
    """Each account's two services at HOUSE, кв. 12А (what serve_cabinet puts in)."""
    return [
        DebtRecord(a, HOUSE, Premises("кв. 12А"), Decimal(amount), service=s)
        for a in accounts
        for s in ("Отопление", "Электроэнергия")
    ]


def ingest(r: Running, inn: str, period: Period, number: int, rows: list[DebtRecord]) -> None:
    r.store.ingest_debt_registry(
        inn,
        period,
        number,
        rows,
        sha256=f"sha-{inn}-{period}-{number}",
        received_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(hours=number),
    )


def make(r: Running, inn: str, period: Period) -> None:
    """The bills of the partner's active registry of ``period``, as the job engine makes
    them when it is activated (jobs/bills.py)."""
    store: SqlStore = r.store
    registry = next(i for i in store.debt_registries(inn) if i.period == period and i.active)
    partner = next(p.partner for p in r.config.partners if p.inn == inn)
    done = make_bills(store, partner, registry, r.config.service.data, render=renderer())
    assert done.finished and done.accounts >= 1


def download(c: WebClient, path: str) -> tuple[int, dict[str, str], bytes]:
    """A GET whose body is bytes (the PDF), with the client's cookies."""
    try:
        with c.opener.open(c.url(path), timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def raw_get(r: Running, path: str, cookie: str) -> int:
    """A GET of ``path`` exactly as written (no client normalises its dots away)."""
    url = urllib.parse.urlsplit(r.base)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": f"pes_cabinet={cookie}"})
        return conn.getresponse().status
    finally:
        conn.close()


def bill_url(inn: str, account: str, period: Period) -> str:
    quoted = urllib.parse.quote(account, safe="")
    return f"/cabinet/receipts/bills/{inn}/{quoted}/{period}"


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def account_card(html: str, account: str) -> str:
    for card in re.findall(r'<section class="card bill-account".*?</section>', html, flags=re.S):
        if f"Лицевой счёт {account} " in card:
            return str(card)
    raise AssertionError(f"no card of {account}")


def test_a_linked_accounts_bills_list_newest_first_and_download(running: Running) -> None:
    r = running
    uk_dom, vodokanal = r.inns[0], r.inns[1]
    # November's registry again, with a second account; October's earlier (bills of both)
    ingest(r, uk_dom, NOVEMBER, 2, records(ACCOUNT, SLASHED))
    ingest(r, uk_dom, OCTOBER, 1, records(ACCOUNT, SLASHED, amount="700.00"))
    make(r, uk_dom, NOVEMBER)
    make(r, uk_dom, OCTOBER)
    make(r, vodokanal, NOVEMBER)  # made, but the client does not link it

    c = WebClient(r.base)
    c.login(r)
    assert c.link(uk_dom, ACCOUNT).status == 303
    assert c.link(uk_dom, SLASHED).status == 303

    page = c.get("/cabinet/receipts")
    assert page.status == 200
    assert "Квитанции на оплату" in page.text
    card = account_card(page.text, ACCOUNT)
    assert "ООО «УК Дом»" in card
    periods = re.findall(r'<span class="period">([^<]+)</span>', card)
    assert periods == ["ноябрь 2026", "октябрь 2026"]  # newest first
    assert card.count("Скачать PDF") == 2
    assert "формируется" not in card
    assert f'href="{bill_url(uk_dom, ACCOUNT, NOVEMBER)}"' in card
    # the water supplier's account is not linked: its bill is not listed
    assert 'Лицевой счёт 1234567890 <span class="muted">· АО «Водоканал»' not in page.text

    status, headers, body = download(c, bill_url(uk_dom, ACCOUNT, NOVEMBER))
    assert status == 200
    assert headers["content-type"] == "application/pdf"
    assert headers["cache-control"] == "private, no-store"
    assert headers["content-disposition"] == (
        'attachment; filename="kvitanciya-1234567890-2026-11.pdf"; '
        "filename*=UTF-8''%D0%BA%D0%B2%D0%B8%D1%82%D0%B0%D0%BD%D1%86%D0%B8%D1%8F"
        "-1234567890-2026-11.pdf"
    )
    assert body.startswith(b"%PDF")
    assert body == bill_path(r.config.service.data, uk_dom, NOVEMBER, ACCOUNT).read_bytes()
    assert int(headers["content-length"]) == len(body)
    text = pdf_text(body)
    assert ACCOUNT in text and "ноябрь 2026" in text and "3 001,00" in text

    # October's bill is its own file: October's amounts
    status, _, older = download(c, bill_url(uk_dom, ACCOUNT, OCTOBER))
    assert status == 200 and "октябрь 2026" in pdf_text(older) and "1 400,00" in pdf_text(older)

    # an account with a slash: listed with %2F in its address, downloaded by it
    slashed = account_card(page.text, SLASHED)
    assert f'href="{bill_url(uk_dom, SLASHED, NOVEMBER)}"' in slashed
    assert "%2F" in bill_url(uk_dom, SLASHED, NOVEMBER)
    status, headers, body = download(c, bill_url(uk_dom, SLASHED, NOVEMBER))
    assert status == 200 and SLASHED in pdf_text(body)
    # the ASCII name keeps no Cyrillic nor slash; the UTF-8 one no slash
    assert 'filename="kvitanciya-_-17_3-2026-11.pdf"' in headers["content-disposition"]
    assert "%D0%90-17_3-2026-11.pdf" in headers["content-disposition"]


def test_a_bill_not_made_yet_says_it_is_being_made(running: Running) -> None:
    r = running
    vodokanal = r.inns[1]
    c = WebClient(r.base)
    c.login(r)
    assert c.link(vodokanal, ACCOUNT).status == 303
    card = account_card(c.get("/cabinet/receipts").text, ACCOUNT)
    assert "ноябрь 2026" in card and "квитанция формируется" in card
    assert "Скачать PDF" not in card
    assert download(c, bill_url(vodokanal, ACCOUNT, NOVEMBER))[0] == 404
    # once the job engine has made it, the same page offers it
    make(r, vodokanal, NOVEMBER)
    card = account_card(c.get("/cabinet/receipts").text, ACCOUNT)
    assert "формируется" not in card and "Скачать PDF" in card


def test_another_clients_account_is_404_though_its_bill_exists(running: Running) -> None:
    r = running
    uk_dom, vodokanal = r.inns[0], r.inns[1]
    make(r, uk_dom, NOVEMBER)
    make(r, vodokanal, NOVEMBER)
    mine = WebClient(r.base)
    mine.login(r)
    assert mine.link(uk_dom, ACCOUNT).status == 303
    other = WebClient(r.base)
    other.login(r, OTHER_PHONE)
    assert other.link(vodokanal, ACCOUNT).status == 303

    assert download(mine, bill_url(uk_dom, ACCOUNT, NOVEMBER))[0] == 200
    # the file is there, but the account is the other cabinet's
    assert bill_path(r.config.service.data, vodokanal, NOVEMBER, ACCOUNT).is_file()
    status, headers, body = download(mine, bill_url(vodokanal, ACCOUNT, NOVEMBER))
    assert status == 404 and not body.startswith(b"%PDF")
    assert "Квитанция не найдена" in body.decode()
    assert download(other, bill_url(uk_dom, ACCOUNT, NOVEMBER))[0] == 404
    assert download(other, bill_url(vodokanal, ACCOUNT, NOVEMBER))[0] == 200
    # nor is it listed
    assert "АО «Водоканал»" not in mine.get("/cabinet/receipts").text.split("<h2>Чеки</h2>")[0]
    # signed out: to the login page, never the file
    status, headers, _ = download(WebClient(r.base), bill_url(uk_dom, ACCOUNT, NOVEMBER))
    assert status == 303 and headers["location"].endswith("/cabinet/login")


def test_path_traversal_is_404(running: Running) -> None:
    r = running
    uk_dom = r.inns[0]
    make(r, uk_dom, NOVEMBER)
    c = WebClient(r.base)
    c.login(r)
    assert c.link(uk_dom, ACCOUNT).status == 303
    cookie = c.cookie("pes_cabinet")
    assert cookie
    data = r.config.service.data
    # a PDF outside the bills' folder, where a traversal would reach
    (data / "secret.pdf").write_bytes(b"%PDF-1.7 not yours")
    folder = f"/cabinet/receipts/bills/{uk_dom}"
    # the real one answers: the others are refused for what they are, not by accident
    assert raw_get(r, f"{folder}/{ACCOUNT}/2026-11", cookie) == 200
    for path in (
        f"{folder}/../../../secret/2026-11",
        f"{folder}/..%2F..%2F..%2Fsecret/2026-11",
        f"{folder}/{ACCOUNT}/..%2F..%2F..%2Fsecret",
        f"{folder}/{ACCOUNT}/2026-11%2F..%2F..%2F..",
        f"/cabinet/receipts/bills/..%2F..%2F../{ACCOUNT}/2026-11",
        f"{folder}/{ACCOUNT}%00/2026-11",
        f"{folder}/{ACCOUNT}/2026-1",  # not YYYY-MM as written
        f"{folder}/{ACCOUNT}/+2026-11",
        f"{folder}/{ACCOUNT}/2026-13",
    ):
        assert raw_get(r, path, cookie) == 404, path
    # a symbolic link put in a bill's place is not followed out of the bills' folder
    bill = bill_path(data, uk_dom, NOVEMBER, ACCOUNT)
    bill.unlink()
    bill.symlink_to(data / "secret.pdf")
    status, _, body = download(c, bill_url(uk_dom, ACCOUNT, NOVEMBER))
    assert status == 404 and b"not yours" not in body


def test_the_api_lists_and_serves_an_apps_clients_accepted_accounts(running: Running) -> None:
    r = running
    uk_dom, vodokanal = r.inns[0], r.inns[1]
    make(r, uk_dom, NOVEMBER)
    assert accept(r, uk_dom, client="user-1").status == 200
    assert accept(r, vodokanal, client="user-1").status == 200  # accepted, not made yet

    listed = r.call("GET", "/v1/bills?client_id=user-1")
    assert listed.status == 200
    bills = {(b["partner_inn"], b["period"]): b for b in listed.json["bills"]}
    assert set(bills) == {(uk_dom, "2026-11"), (vodokanal, "2026-11")}
    made, waiting = bills[(uk_dom, "2026-11")], bills[(vodokanal, "2026-11")]
    assert made["ready"] is True and waiting["ready"] is False and waiting["url"] is None
    assert made["url"] == f"/v1/bills/{uk_dom}/{ACCOUNT}/2026-11?client_id=user-1"

    got = request(r.base, "GET", made["url"], token=CLIENT)
    assert got.status == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["cache-control"] == "private, no-store"
    assert got.headers["content-disposition"].startswith(
        'attachment; filename="kvitanciya-1234567890-2026-11.pdf"'
    )
    assert got.body.startswith(b"%PDF") and ACCOUNT in pdf_text(got.body)

    # another client of the app, and another app's client of the same name: not theirs
    url = f"/v1/bills/{uk_dom}/{ACCOUNT}/2026-11"
    assert r.call("GET", url + "?client_id=user-2").status == 404
    assert r.call("GET", url + "?client_id=user-1", token=OTHER_APP).status == 404
    assert r.call("GET", "/v1/bills?client_id=user-2").json == {"bills": []}
    assert r.call("GET", url).status == 422  # an app names its client
    not_yet = r.call("GET", f"/v1/bills/{vodokanal}/{ACCOUNT}/2026-11?client_id=user-1")
    assert not_yet.status == 404 and not_yet.json["error"] == "not-found"
    assert r.call("GET", f"/v1/bills/{uk_dom}/..%2F..%2Fx/2026-11?client_id=user-1").status == 404
    assert r.call("GET", "/v1/bills?client_id=user-1&all=1").status == 422


def test_the_api_serves_a_cabinets_linked_accounts_to_its_session(running: Running) -> None:
    r = running
    uk_dom, vodokanal = r.inns[0], r.inns[1]
    make(r, uk_dom, NOVEMBER)
    make(r, vodokanal, NOVEMBER)
    c = WebClient(r.base)
    c.login(r)
    assert c.link(uk_dom, ACCOUNT).status == 303
    token = c.cookie("pes_cabinet")
    assert token
    listed = r.call("GET", "/v1/bills", token=token)
    assert listed.status == 200
    assert [(b["partner_inn"], b["ready"]) for b in listed.json["bills"]] == [(uk_dom, True)]
    url = listed.json["bills"][0]["url"]
    assert url == f"/v1/bills/{uk_dom}/{ACCOUNT}/2026-11"
    got = request(r.base, "GET", url, token=token)
    assert got.status == 200 and got.body.startswith(b"%PDF")
    # not linked (its bill exists): 404
    assert r.call("GET", f"/v1/bills/{vodokanal}/{ACCOUNT}/2026-11", token=token).status == 404
