"""Partner campaigns (:mod:`pes_sdk_runner.campaigns`) on real SQLite and PostgreSQL stores.

Who a campaign reaches (only the partner's acceptors; those in debt; those at houses),
what it may say (promotions only for a partner whose configuration allows them; https
buttons; an image whose server says it is a small image: a real HTTPS server on loopback
with a throwaway CA), when it starts (the service's zone whatever the host's), what it
achieved (the statistics, payments within 72 hours attributed to the last message opened)
and memory flat as the audience grows. The messages go through the sandbox outbox.
test_campaigns_jobs.py runs the workflow in real worker processes.
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import ssl
import threading
import tracemalloc
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pes_sdk_runner.campaigns import (
    CampaignError,
    check_image,
    create_campaign,
    render_chart,
    send_page,
    source_stats,
)
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.notify import Sender, Template, enqueue_messages
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.base import Acceptance, LedgerEntry, LedgerKind
from pes_sdk_runner.store.campaigns import CampaignState
from pes_sdk_runner.store.notify import MessageEvent, MessageStatus
from runner_proc import config_of, write_config

from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

pytestmark = pytest.mark.timezone  # starts and days are the service's, not the host's

PROMO_OK = "5003012349"  # promotions = true in the example configuration
NO_PROMO = "7720123457"
H1 = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
H2 = "5d4f1c3e-8a2b-4c6d-9e0f-1a2b3c4d5e6f"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> RunnerConfig:
    return config_of(write_config(tmp_path, store_url))


@pytest.fixture
def ready(store: SqlStore, config: RunnerConfig) -> SqlStore:
    store.upsert_partners(p.partner for p in config.partners)
    return store


def accept(store: SqlStore, client: str, inn: str, account: str, house: str | None) -> None:
    store.record_acceptance(Acceptance(client, inn, account, "", house, "кв. 1"))


def collect(store: SqlStore, config: RunnerConfig, campaign_id: int, limit: int) -> list[int]:
    """Every page of a campaign, as its workflow writes them; the message ids queued."""
    campaign = store.campaign(campaign_id)
    assert campaign is not None
    queued: list[int] = []
    after: str | None = None
    while True:
        after, _ = send_page(
            store, config, campaign, after, limit=limit, enqueue=lambda w, ids: queued.extend(ids)
        )
        if after is None:
            return queued


def test_a_campaign_reaches_only_the_partners_acceptors_in_debt_or_at_houses(
    ready: SqlStore, config: RunnerConfig
) -> None:
    store = ready
    accept(store, "app:c1", PROMO_OK, "1001", H1)  # owes
    accept(store, "app:c2", PROMO_OK, "1002", H2)  # owes nothing
    accept(store, "app:c3", NO_PROMO, "1001", H1)  # another partner's only
    accept(store, "app:c4", PROMO_OK, "1003", H1)  # both partners', paid up
    accept(store, "app:c4", NO_PROMO, "2001", H1)
    accept(store, "app:c5", PROMO_OK, "1001", H1)  # the same account as c1
    records = [
        DebtRecord("1001", H1, Premises("кв. 1"), Decimal("1500.50")),
        DebtRecord("1002", H2, Premises("кв. 2"), Decimal("0")),
        DebtRecord("1003", H1, Premises("кв. 3"), Decimal("-10.00")),  # an advance
    ]
    store.ingest_debt_registry(PROMO_OK, Period(2026, 11), 1, records, sha256="sha-a")
    store.ingest_debt_registry(
        NO_PROMO,
        Period(2026, 11),
        1,
        [DebtRecord("2001", H1, Premises("кв. 3"), Decimal("99.00"))],
        sha256="sha-b",
    )

    def audience(kind: str, houses: tuple[str, ...] = ()) -> set[str]:
        c = create_campaign(
            store, config, partner_inn=PROMO_OK, kind="news", title="Новости",
            text="Плановое отключение воды", audience=kind, houses=houses,
        )  # fmt: skip
        collect(store, config, c.id, limit=2)  # pages of two: the keyset is walked
        return {m.client_id for m in store.messages(c.source)}

    assert audience("all") == {"app:c1", "app:c2", "app:c4", "app:c5"}
    assert audience("debtors") == {"app:c1", "app:c5"}
    assert audience("houses", (H2.upper(),)) == {"app:c2"}
    with pytest.raises(CampaignError) as caught:
        audience("houses", ("дом 5",))
    assert caught.value.field == "houses"


def test_promotions_only_for_a_partner_whose_configuration_allows_them(
    ready: SqlStore, config: RunnerConfig
) -> None:
    with pytest.raises(CampaignError) as caught:
        create_campaign(
            ready, config, partner_inn=NO_PROMO, kind="promo", title="Акция", text="Скидка 10 %"
        )
    assert caught.value.code == "promotions-not-allowed" and caught.value.field == "kind"
    assert "promotions = true" in str(caught.value)
    promo = create_campaign(
        ready, config, partner_inn=PROMO_OK, kind="promo", title="Акция", text="Скидка 10 %"
    )
    assert promo.kind == "promo" and promo.state is CampaignState.DRAFT
    for buttons, field in (
        ([("Подробнее", "http://uk.example.ru/")], "buttons"),  # not https
        ([("Кнопка", "https://uk.example.ru/")] * 4, "buttons"),  # four
    ):
        with pytest.raises(CampaignError) as bad:
            create_campaign(
                ready, config, partner_inn=PROMO_OK, kind="news", title="Т", text="Т",
                buttons=buttons,
            )  # fmt: skip
        assert bad.value.field == field, bad.value
    with pytest.raises(CampaignError) as unknown:
        create_campaign(ready, config, partner_inn="7707083893", kind="news", title="", text="Т")
    assert unknown.value.field == "partner"


def test_a_start_without_an_offset_is_in_the_services_zone(
    ready: SqlStore, config: RunnerConfig
) -> None:
    # Perm (Asia/Yekaterinburg, UTC+5), whatever TZ this process runs under
    year = NOW.year + 1
    c = create_campaign(
        ready, config, partner_inn=PROMO_OK, kind="news", title="Т", text="Т",
        starts_at=f"{year}-03-10T10:00",
    )  # fmt: skip
    assert c.state is CampaignState.SCHEDULED
    assert c.starts_at == dt.datetime(year, 3, 10, 5, 0, tzinfo=dt.UTC)
    moscow = ready.schedule_campaign(c.id, dt.datetime(year, 3, 10, 7, 0, tzinfo=dt.UTC))
    assert moscow is not None and moscow.starts_at == dt.datetime(year, 3, 10, 7, tzinfo=dt.UTC)
    assert ready.due_campaigns(dt.datetime(year, 3, 10, 6, 59, tzinfo=dt.UTC)) == []
    assert ready.due_campaigns(dt.datetime(year, 3, 10, 7, 0, tzinfo=dt.UTC)) == [c.id]
    assert ready.start_campaign(c.id, NOW) and ready.start_campaign(c.id, NOW)  # a re-run
    assert ready.due_campaigns(dt.datetime(year, 3, 11, tzinfo=dt.UTC)) == []
    assert ready.schedule_campaign(c.id, NOW) is None  # sending: no new start
    cancelled = ready.cancel_campaign(c.id)
    assert cancelled is not None and cancelled.state is CampaignState.CANCELLED
    assert ready.cancel_campaign(c.id) is None
    with pytest.raises(CampaignError) as past:
        create_campaign(
            ready, config, partner_inn=PROMO_OK, kind="news", title="Т", text="Т",
            starts_at="2020-01-01T10:00",
        )  # fmt: skip
    assert past.value.field == "starts_at"


# -- the image's size, asked of a real HTTPS server on loopback ------------------------------


class _Images(http.server.BaseHTTPRequestHandler):
    """Small and big images, a page that is not one, and a server refusing HEAD."""

    def _headers(self) -> tuple[int, dict[str, str]]:
        path = self.path.split("?")[0]
        if path == "/small.png":
            return 200, {"Content-Type": "image/png", "Content-Length": "48000"}
        if path == "/big.jpg":
            return 200, {"Content-Type": "image/jpeg", "Content-Length": str(3 * 1024 * 1024)}
        if path == "/page.html":
            return 200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": "10"}
        return 404, {"Content-Length": "0"}

    def do_HEAD(self) -> None:
        if self.path.startswith("/nohead/"):
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, headers = self._headers()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self) -> None:
        assert self.headers.get("Range") == "bytes=0-0"
        self.send_response(206)
        self.send_header("Content-Type", "image/webp")
        self.send_header("Content-Range", "bytes 0-0/200000")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"R")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[tuple[str, ssl.SSLContext]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ssl.create_default_context()
    ca.configure_trust(client)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", client
    finally:
        server.shutdown()
        server.server_close()


def test_the_images_size_and_type_are_checked_by_asking_its_server(
    image_server: tuple[str, ssl.SSLContext], ready: SqlStore, config: RunnerConfig
) -> None:
    base, ca = image_server
    assert check_image(f"{base}/small.png", verify=ca) == ("image/png", 48000)
    assert check_image(f"{base}/nohead/x.webp", verify=ca) == ("image/webp", 200000)
    for path, says in (
        ("/big.jpg", "over the limit"),
        ("/page.html", "text/html"),
        ("/missing.png", "answered 404"),
    ):
        with pytest.raises(CampaignError) as caught:
            check_image(base + path, verify=ca)
        assert says in str(caught.value) and caught.value.field == "image"
    with pytest.raises(CampaignError, match="https"):
        check_image(base.replace("https", "http") + "/small.png", verify=ca)
    c = create_campaign(
        ready, config, partner_inn=PROMO_OK, kind="news", title="Т", text="Т",
        image=f"{base}/small.png", verify=ca,
    )  # fmt: skip
    assert c.image == f"{base}/small.png"
    with pytest.raises(CampaignError):
        create_campaign(
            ready, config, partner_inn=PROMO_OK, kind="news", title="Т", text="Т",
            image=f"{base}/big.jpg", verify=ca,
        )  # fmt: skip
    assert len(ready.campaigns()) == 1  # the refused one was not written


# -- statistics -------------------------------------------------------------------------------


def _pay(store: SqlStore, owner: str, account: str, amount: str, at: dt.datetime) -> str:
    """A payment made through the API by ``owner`` and credited to the partner at ``at``."""
    order = uuid.uuid4()
    store.record_payment_app(order, owner)
    store.ledger_append(
        [
            LedgerEntry(
                LedgerKind.CREDIT, PROMO_OK, Decimal(amount), "", account, order,
                ref=f"credit:{order}", memo="оплата", at=at,
            )
        ]
    )  # fmt: skip
    return str(order)


def test_the_statistics_count_the_funnel_and_payments_within_72_hours_of_the_last_opened(
    ready: SqlStore, config: RunnerConfig, tmp_path: Path
) -> None:
    store = ready
    clients = [f"app1:c{n}" for n in range(6)]
    for n, client in enumerate(clients):
        accept(store, client, PROMO_OK, f"30{n}", H1)
        if n < 5:  # c5 has no device and no phone: targeted, not reached
            store.register_device(client, "fcm", f"token-{n}", "ru.pay")
    c = create_campaign(
        store, config, partner_inn=PROMO_OK, kind="news", title="Новости", text="Скидка",
        buttons=[("Подробнее", "https://uk.example.ru/1"), ("Оплатить", "https://pay.ru/")],
    )  # fmt: skip
    queued = collect(store, config, c.id, limit=4)
    sender = Sender(config, get_host())
    try:
        sender.send_batch(store, queued, "campaign-test")
    finally:
        sender.close()
    msgs = {m.client_id: m for m in store.messages(c.source)}
    assert msgs["app1:c5"].status is MessageStatus.SKIPPED
    sent_at = msgs["app1:c0"].sent_at
    assert sent_at is not None
    t = sent_at

    def opened(client: str, after: dt.timedelta, button: int | None = None) -> None:
        store.record_message_event(msgs[client].id, MessageEvent.OPENED, t + after)
        if button is not None:
            store.record_message_event(
                msgs[client].id, MessageEvent.CLICKED, t + after, button=button
            )

    opened("app1:c0", dt.timedelta(minutes=5), button=1)
    opened("app1:c1", dt.timedelta(minutes=6), button=0)
    opened("app1:c2", dt.timedelta(minutes=7))
    opened("app1:c3", dt.timedelta(minutes=8))
    # c0 pays 2 h later: the campaign's
    _pay(store, "app1", "300", "1500.50", t + dt.timedelta(hours=2))
    # c1 pays 80 h later: too late
    _pay(store, "app1", "301", "700.00", t + dt.timedelta(hours=80))
    # c2 opens another source's message before paying: that one's
    other = enqueue_messages(
        store, config, source="trigger:debts:x", kind="debts", template=Template("Долг"),
        audience=["app1:c2"], enqueue=lambda w, ids: None,
    )  # fmt: skip
    assert other.messages == 1
    (later,) = store.messages("trigger:debts:x")
    store.finish_message(later.id, MessageStatus.SENT, at=t + dt.timedelta(hours=1))
    store.record_message_event(later.id, MessageEvent.OPENED, t + dt.timedelta(hours=1))
    _pay(store, "app1", "302", "100.00", t + dt.timedelta(hours=3))
    # c3's account paid by another app: not c3's payment
    _pay(store, "app2", "303", "55.00", t + dt.timedelta(hours=1))
    # c4 never opened: its payment is nobody's
    _pay(store, "app1", "304", "10.00", t + dt.timedelta(hours=1))
    # c0 pays once more within the window: both count
    _pay(store, "app1", "300", "0.99", t + dt.timedelta(hours=70))

    zone = config.service.time_zone
    stats = source_stats(store, c.source, zone, partner_inn=PROMO_OK)
    assert stats.targeted == 6 and stats.messages == 6 and stats.queued == 0
    assert stats.sent == 5 and stats.failed == {"no-contact": 1}
    assert (stats.delivered, stats.opened, stats.clicked) == (4, 4, 2)
    assert dict(stats.clicks) == {0: 1, 1: 1}
    assert stats.paid == 2 and stats.paid_amount == Decimal("1501.49")
    assert stats.by_channel["outbox"]["sent"] == 5
    assert [name for name, _ in stats.funnel()] == [
        "targeted", "sent", "delivered", "opened", "clicked", "paid",
    ]  # fmt: skip
    assert sum(d.sent for d in stats.days) == 5
    assert sum(d.paid for d in stats.days) == 2
    assert sum((d.paid_amount for d in stats.days), Decimal()) == Decimal("1501.49")
    trigger = source_stats(store, "trigger:debts:x", zone, partner_inn=PROMO_OK)
    assert (trigger.paid, trigger.paid_amount) == (1, Decimal("100.00"))

    # the chart a partner looks at: SVG with Russian labels, PNG of the figure's size
    svg = render_chart(stats, tmp_path / "report.svg", title=c.title)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text(encoding="utf-8")
    for label in ("Адресаты", "Отправлено", "Открыто", "Оплатили за 72 ч", "По дням"):
        assert label in text, label
    png = render_chart(stats, tmp_path / "report.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 800)


def test_a_campaign_cancelled_mid_send_sends_none_of_its_queued_batches(
    ready: SqlStore, config: RunnerConfig
) -> None:
    store = ready
    clients = [f"app1:x{n}" for n in range(10)]
    for n, client in enumerate(clients):
        accept(store, client, PROMO_OK, f"40{n}", H1)
        store.register_device(client, "fcm", f"token-x{n}", "ru.pay")
    c = create_campaign(store, config, partner_inn=PROMO_OK, kind="news", title="Н", text="Т")
    now = dt.datetime.now(dt.UTC)
    assert store.schedule_campaign(c.id, now) is not None and store.start_campaign(c.id, now)
    batches: list[list[int]] = []
    after: str | None = None
    while True:  # the workflow's pages, each queued as its own batch
        after, _ = send_page(
            store, config, c, after, limit=4, enqueue=lambda w, ids: batches.append(list(ids))
        )
        if after is None:
            break
    assert len(batches) == 3 and sum(map(len, batches)) == 10
    sender = Sender(config, get_host(), concurrency=2)
    try:
        first = sender.send_batch(store, batches[0], "campaign-cancel-1")
        assert first.counts.get("sent") == 4
        cancelled = store.cancel_campaign(c.id)
        assert cancelled is not None and cancelled.state is CampaignState.CANCELLED
        rest = [
            sender.send_batch(store, ids, f"campaign-cancel-{n}")
            for n, ids in [(2, batches[1]), (3, batches[2])]
        ]
    finally:
        sender.close()
    assert [dict(b.counts) for b in rest] == [{"skipped": 4}, {"skipped": 2}]
    msgs = store.messages(c.source)
    assert len(msgs) == 10  # no fallback (an SMS) written for a cancelled message
    sent = {m.id for m in msgs if m.status is MessageStatus.SENT}
    assert sent == set(batches[0]) and all(m.provider_id for m in msgs if m.id in sent)
    for m in msgs:
        if m.id not in sent:
            assert (m.status, m.reason, m.provider_id) == (MessageStatus.SKIPPED, "cancelled", None)
    stats = source_stats(store, c.source, config.service.time_zone, partner_inn=PROMO_OK)
    assert stats.sent == 4 and stats.failed == {"cancelled": 6} and stats.queued == 0


def test_memory_stays_flat_as_the_audience_grows(ready: SqlStore, config: RunnerConfig) -> None:
    store = ready

    def peak(n: int, inn: str) -> int:
        # Written in one statement: the store's one-by-one acceptance would take minutes.
        with store._tx() as cur:
            cur.executemany(
                store.dialect.sql(
                    "INSERT INTO acceptances (client_id, partner_inn, account, service,"
                    " house_id, premises, accepted_at) VALUES (?, ?, ?, '', NULL, 'кв. 1', ?)"
                ),
                [(f"m:{inn}:{i:07d}", inn, str(i), store.dialect.ts_in(NOW)) for i in range(n)],
            )
        c = create_campaign(store, config, partner_inn=inn, kind="news", title="Т", text="Т")
        count = [0]

        def enqueue(workflow_id: str, ids: list[int]) -> None:
            count[0] += len(ids)

        tracemalloc.start()
        try:
            after: str | None = None
            while True:
                after, _ = send_page(store, config, c, after, enqueue=enqueue)
                if after is None:
                    break
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert count[0] == n

    small = peak(4_000, PROMO_OK)
    large = peak(40_000, NO_PROMO)
    # Ten times the audience, the same pages in memory.
    assert large < small * 1.5 + 256 * 1024, (small, large)


def test_the_cli_lists_shows_and_reports_a_campaign_with_its_chart(tmp_path: Path) -> None:
    import json
    import subprocess

    from pes_sdk_runner.store import open_store
    from runner_proc import ENV, PES

    path = write_config(tmp_path)
    config = config_of(path)
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        accept(store, "app:c1", PROMO_OK, "1001", H1)
        c = create_campaign(
            store, config, partner_inn=PROMO_OK, kind="news", title="Отключение воды", text="Т"
        )
        collect(store, config, c.id, limit=10)
    finally:
        store.close()

    def pes(*args: str) -> str:
        done = subprocess.run(
            [str(PES), "runner", "campaigns", *args, "--config", str(path)],
            capture_output=True, text=True, timeout=60, env={**os.environ, **ENV},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(pes("list", "--json"))
    assert [x["id"] for x in listed] == [c.id] and listed[0]["state"] == "draft"
    assert "Отключение воды" in pes("show", str(c.id))
    chart = tmp_path / "report.svg"
    report = json.loads(pes("stats", str(c.id), "--json", "--chart", str(chart)))
    assert report["targeted"] == 1 and report["paid_amount"] == "0.00"
    assert "Воронка рассылки" in chart.read_text(encoding="utf-8")
    assert "targeted: 1" in pes("stats", str(c.id))


def test_the_campaign_benchmark_runs_at_its_smoke_size(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "campaign.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["stats"] == {
        "targeted": 500,
        "sent": 500,
        "failed": {},
        "queued": 0,
        "accepted_by_simulator": 500,
    }
    assert report["campaign"]["messages_per_second"] > 0 and report["baseline_1"] > 0
    assert report["http"] == "2" and set(report["simulator"]) >= {"2"}  # FCM's own
    assert list(tmp_path.iterdir()) == []  # its files went with it


class _CountingFacts:
    """The store, counting the notifications' facts read: what the test is about is how
    often the collector asks (the answers are the real store's)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.reads = 0
        self.away = False

    def notification_facts(self, since: dt.datetime) -> object:
        self.reads += 1
        if self.away:
            raise ConnectionError("the store does not answer")
        return self.store.notification_facts(since)


def test_metrics_read_the_notifications_facts_once_a_minute_not_at_every_scrape(
    ready: SqlStore, config: RunnerConfig
) -> None:
    from pes_sdk_runner.api.campaigns import METRICS_REFRESH, NotificationsCollector
    from prometheus_client import CollectorRegistry, generate_latest

    counting = _CountingFacts(ready)
    now = [1000.0]
    registry = CollectorRegistry()
    collector = NotificationsCollector(counting, clock=lambda: now[0])  # type: ignore[arg-type]
    registry.register(collector)

    def drafts() -> str:
        text = generate_latest(registry).decode()
        return next(line for line in text.splitlines() if 'state="draft"' in line)

    assert drafts().endswith(" 0.0") and counting.reads == 1
    create_campaign(
        ready, config, partner_inn=PROMO_OK, kind="news", title="Новости",
        text="Плановое отключение воды", audience="all",
    )  # fmt: skip
    now[0] += METRICS_REFRESH - 1
    assert drafts().endswith(" 0.0") and counting.reads == 1  # the reading of a minute ago
    now[0] += 1
    assert drafts().endswith(" 1.0") and counting.reads == 2
    counting.away = True
    now[0] += METRICS_REFRESH
    assert "pes_notifications_campaigns" not in generate_latest(registry).decode()
    counting.away = False
    assert drafts().endswith(" 1.0") and counting.reads == 4  # asked again at the next scrape
