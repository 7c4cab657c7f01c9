"""Limits on resolving payment QR codes (issue 19): ``POST /v1/qr/resolve`` and the
cabinet's «Оплатить по QR» answer 429 with ``Retry-After`` once an asker has resolved
``http.qr_per_minute`` codes in a minute or ``http.qr_per_day`` in a day.

Real parts: two runner apps (two uvicorn servers on loopback, each with its own store
handle) on one real SQLite file or PostgreSQL schema, as two runner processes would be;
the cabinet's pages over HTTP. Time is the apps' injected clock, started at the real now
and moved by the test (no sleeping).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import ACCOUNT, CLIENT, ENV, HOUSE, OTHER_APP, SERVICES, Answer, Running
from cabinet_web import PHONE, Page, WebClient
from pes_sdk_runner.api import create_app, listen, processor_for, serve_in_thread
from pes_sdk_runner.cabinet.web.security import SESSION_COOKIE
from pes_sdk_runner.config import (
    AdapterSettings,
    CabinetConfig,
    RunnerConfigError,
    example_config_path,
    load_runner_config,
)
from pes_sdk_runner.qr_limits import QrLimiter
from pes_sdk_runner.store import SqlStore, open_store
from pes_sdk_runner.store.qr_resolutions import QrLimit, take_qr_resolution

from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises
from pes_sdk.qr import PaymentDetails, encode

PER_MINUTE = 3
PER_DAY = 5
OTHER_PHONE = "+79161234599"


class Clock:
    """The apps' clock (``create_app(clock=...)``), shared by both and moved by the test."""

    def __init__(self) -> None:
        # The real now, not a fixed date: sessions and registries see a plausible time.
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def code_text(inn: str, account: str = ACCOUNT) -> str:
    details = PaymentDetails(
        "ООО «УК Дом»",
        "40702810938000012345",
        "ПАО Сбербанк",
        "044525225",
        "30101810400000000225",
        payee_inn=inn,
        pers_acc=account,
        sum=Decimal("100.00"),
    )
    return encode(details)


@contextmanager
def two_runners(
    store_url: str, tmp_path: Path, clock: Clock, **http: Any
) -> Iterator[tuple[Running, Running]]:
    """Two apps with the cabinet on one database, each with a store handle of its own (two
    runner processes but for the address space), the QR limits PER_MINUTE and PER_DAY."""
    host = get_host()
    config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    sms = AdapterSettings({"path": str(tmp_path / "outbox" / "sms.jsonl")})
    limits = {"qr_per_minute": PER_MINUTE, "qr_per_day": PER_DAY, **http}
    config = attrs.evolve(
        config,
        http=attrs.evolve(config.http, **limits),
        cabinet=CabinetConfig("s" * 32, sms=sms),
    )
    with ExitStack() as stack:
        running: list[Running] = []
        for n in range(2):
            store = open_store(store_url)
            stack.callback(store.close)
            if n == 0:
                store.upsert_partners(p.partner for p in config.partners)
                for p in config.partners:
                    records = [
                        DebtRecord(
                            ACCOUNT, HOUSE, Premises("кв. 12А"), Decimal("1500.50"), service=s
                        )
                        for s in SERVICES
                    ]
                    store.ingest_debt_registry(
                        p.inn, Period(2026, 11), 1, records, sha256=f"sha-{p.inn}"
                    )
            sock = listen()
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            gateway = host.gateways()["sandbox"].create(
                {"webhook_url": base + config.http.webhook_path}
            )
            stack.callback(gateway.close)
            app = create_app(store, config, host, processor_for(gateway, store), clock=clock)
            url = stack.enter_context(serve_in_thread(app, config, sock))
            running.append(Running(url, config, store, gateway, app))
        yield running[0], running[1]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runners(store_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[Running, Running]]:
    with two_runners(store_url, tmp_path, clock) as found:
        yield found


def resolve(r: Running, text: str, client_id: str | None = "u1", token: str = CLIENT) -> Answer:
    body = {"text": text} if client_id is None else {"text": text, "client_id": client_id}
    return r.call("POST", "/v1/qr/resolve", body, token=token)


def limited(answer: Answer) -> int:
    """The Retry-After seconds of a 429 too-many-requests answer (asserted to be one)."""
    assert answer.status == 429, answer.body
    assert answer.json["error"] == "too-many-requests"
    assert answer.headers["content-type"] == "application/json"
    return int(answer.headers["retry-after"])


# -- POST /v1/qr/resolve ----------------------------------------------------------------------


def test_an_apps_client_is_limited_per_minute_across_two_processes(
    runners: tuple[Running, Running], clock: Clock
) -> None:
    a, b = runners
    text = code_text(a.inns[0])
    # a code of no account counts too: "not found" is what an enumeration learns from
    assert resolve(a, code_text(a.inns[0], "999999")).status == 404
    assert resolve(b, text).status == 200
    assert resolve(a, text).status == 200
    # the third was the minute's last: the fourth is refused, in either process
    wait = limited(resolve(b, text))
    assert 1 <= wait <= 60
    assert limited(resolve(a, code_text(a.inns[0], "999999"))) == wait

    # another client of the same app, and another app's client of the same id, go on
    assert resolve(a, text, client_id="u2").status == 200
    assert resolve(b, text, token=OTHER_APP).status == 200

    clock.move(seconds=wait)
    answer = resolve(b, text)
    assert answer.status == 200, answer.body
    assert answer.json["account"] == ACCOUNT


def test_the_day_limit_holds_after_the_minutes_and_frees_a_day_later(
    runners: tuple[Running, Running], clock: Clock
) -> None:
    a, b = runners
    text = code_text(a.inns[1])
    for n in range(PER_DAY):
        if n and n % PER_MINUTE == 0:
            clock.move(minutes=1)
        assert resolve((a, b)[n % 2], text).status == 200
    clock.move(minutes=5)  # the minute's limit is far behind, the day's is not
    wait = limited(resolve(a, text))
    assert 60 < wait <= 24 * 3600
    clock.move(seconds=wait)
    assert resolve(b, text).status == 200


def test_an_app_that_names_no_client_is_counted_by_its_address(
    runners: tuple[Running, Running],
) -> None:
    a, b = runners
    text = code_text(a.inns[0])
    for _ in range(PER_MINUTE):
        assert resolve(a, text, client_id=None).status == 200
    limited(resolve(b, text, client_id=None))  # the same address (loopback)
    assert resolve(b, text, client_id="u1").status == 200  # a named client is its own


def test_a_refused_resolution_is_not_counted(
    runners: tuple[Running, Running], clock: Clock
) -> None:
    a, _b = runners
    text = code_text(a.inns[0])
    for _ in range(PER_MINUTE):
        assert resolve(a, text).status == 200
    for _ in range(5):  # asking on while refused does not push the wait further
        wait = limited(resolve(a, text))
    clock.move(seconds=wait)
    assert resolve(a, text).status == 200
    # a body refused before the code is read is not counted either
    for _ in range(5):
        assert resolve(a, "x" * 5000).status == 422
    assert resolve(a, text).status == 200


# -- the cabinet's «Оплатить по QR» ---------------------------------------------------------


def signed_in(r: Running, phone: str = PHONE) -> WebClient:
    c = WebClient(r.base)
    c.login(r, phone)
    return c


def paste(c: WebClient, text: str) -> Page:
    page = c.get("/cabinet/qr")
    assert page.status == 200
    return c.post_multipart("/cabinet/qr", [("csrf", page.csrf), ("text", text)])


def upload(c: WebClient, data: bytes) -> Page:
    page = c.get("/cabinet/qr")
    return c.post_multipart(
        "/cabinet/qr",
        [("csrf", page.csrf), ("text", "")],
        {"photo": ("bill.png", data, "image/png")},
    )


def test_the_cabinet_page_says_plainly_when_to_try_again(
    runners: tuple[Running, Running], clock: Clock, tmp_path: Path
) -> None:
    a, b = runners
    text = code_text(a.inns[0])
    mine = signed_in(a)
    token = mine.cookie(SESSION_COOKIE) or ""
    assert paste(mine, text).status == 200
    # the cabinet's API calls with its session share its count, in the other process too
    assert resolve(b, text, client_id=None, token=token).status == 200
    assert paste(mine, code_text(a.inns[0], "999999")).status == 404

    page = paste(mine, text)
    assert page.status == 429
    assert "Слишком много QR-кодов проверено подряд. Попробуйте ещё раз через минуту." in (
        page.text
    )
    assert 1 <= int(page.headers["retry-after"]) <= 60
    assert limited(resolve(b, text, client_id=None, token=token)) >= 1
    # a photo is refused before it is decoded, as plainly
    from pes_sdk.qr import save_png

    save_png(
        PaymentDetails(
            "ООО «УК Дом»", "40702810938000012345", "ПАО Сбербанк", "044525225",
            "30101810400000000225", payee_inn=a.inns[0], pers_acc=ACCOUNT,
        ),
        tmp_path / "bill.png",
    )  # fmt: skip
    photo = (tmp_path / "bill.png").read_bytes()
    assert upload(mine, photo).status == 429

    # another cabinet is not affected
    other = signed_in(a, OTHER_PHONE)
    assert paste(other, text).status == 200

    clock.move(minutes=1)
    assert upload(mine, photo).status == 200


# -- the store: one count for every process ---------------------------------------------------


def test_two_store_handles_at_once_let_exactly_the_limit_through(
    open_more: Any, clock: Clock
) -> None:
    first: SqlStore = open_more()
    second: SqlStore = open_more()
    limits = (QrLimit(dt.timedelta(minutes=1), 4),)
    now = clock()
    taken: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def ask(store: SqlStore) -> None:
        start.wait()
        free = take_qr_resolution(store, "asker", now, limits) is None
        with lock:
            taken.append(free)

    threads = [threading.Thread(target=ask, args=((first, second)[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == [False] * 4 + [True] * 4
    # refused: when the oldest of the four leaves the window
    assert take_qr_resolution(second, "asker", now, limits) == now + dt.timedelta(minutes=1)
    assert take_qr_resolution(first, "another", now, limits) is None


def test_the_limiter_keeps_no_key_in_the_store(open_more: Any, clock: Clock) -> None:
    store: SqlStore = open_more()
    config = load_runner_config(example_config_path(), env=ENV, data=Path("."))
    limiter = QrLimiter(store, config.http, clock=clock)
    limiter.take("app:abc@203.0.113.7")
    with store._read() as cur:
        kept = [str(r[0]) for r in store._x(cur, "SELECT client FROM qr_resolutions").fetchall()]
    assert len(kept) == 1 and "203.0.113" not in kept[0] and len(kept[0]) == 32


# -- the configuration --------------------------------------------------------------------------


def _config_with(tmp_path: Path, lines: str) -> Any:
    text = example_config_path().read_text("utf-8").replace("[http]\n", f"[http]\n{lines}\n", 1)
    path = tmp_path / "runner.toml"
    path.write_text(text, "utf-8")
    return load_runner_config(path, env=ENV, data=tmp_path)


def test_the_limits_are_read_from_http_with_sensible_defaults(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "runner-config.md").read_text("utf-8")
    assert "`http.qr_per_minute`" in doc and "`http.qr_per_day`" in doc
    default = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    assert (default.http.qr_per_minute, default.http.qr_per_day) == (10, 100)
    config = _config_with(tmp_path, "qr_per_minute = 2\nqr_per_day = 20")
    assert (config.http.qr_per_minute, config.http.qr_per_day) == (2, 20)
    for bad in ("qr_per_minute = 0", "qr_per_day = true", 'qr_per_day = "5"'):
        with pytest.raises(RunnerConfigError) as caught:
            _config_with(tmp_path, bad)
        assert f"http.{bad.split(' ')[0]}" in str(caught.value)
