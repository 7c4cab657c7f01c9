"""Campaigns over real HTTP on both stores (``POST /v1/campaigns``, …, ``/metrics``).

An operator creates a campaign, schedules and reads it; the app's client ticks a service,
gets the campaign's push through the sandbox outbox, opens it, clicks its button and pays
through the sandbox acquirer: the campaign's statistics count the payment (within 72 hours,
to the message opened last), and ``/metrics`` shows the notifications' gauges without a
campaign's label.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import ACCOUNT, OPERATOR, Running, accept, basket, press_pay, serve
from pes_sdk_runner.campaigns import send_page
from pes_sdk_runner.notify import Sender

from pes_sdk.plugins.manager import get_host


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path) as r:
        yield r


def test_an_operator_runs_a_campaign_and_reads_what_it_achieved(running: Running) -> None:
    r = running
    inn = r.inns[0]  # ООО «УК Дом»: promotions = true
    body = {
        "partner": inn,
        "kind": "promo",
        "title": "Акция",
        "text": "Оплатите до 10-го: без комиссии",
        "buttons": [{"label": "Оплатить", "url": "https://pay.example.ru/"}],
    }
    assert r.call("POST", "/v1/campaigns", body).status == 403  # an app's token
    created = r.call("POST", "/v1/campaigns", body, token=OPERATOR)
    assert created.status == 201, created.body
    campaign = created.json
    assert campaign["state"] == "draft" and campaign["partner"] == inn
    refused = r.call("POST", "/v1/campaigns", {**body, "partner": r.inns[1]}, token=OPERATOR)
    assert refused.status == 409 and refused.json["error"] == "promotions-not-allowed"
    bad = r.call(
        "POST",
        "/v1/campaigns",
        {**body, "buttons": [{"label": "Ссылка", "url": "tel:+79160000000"}]},
        token=OPERATOR,
    )
    assert bad.status == 422 and bad.json["field"] == "buttons"
    cid = campaign["id"]
    when = r.call(
        "POST", f"/v1/campaigns/{cid}/schedule", {"starts_at": "2099-01-10T09:00"}, token=OPERATOR
    )
    assert when.status == 200 and when.json["state"] == "scheduled"
    assert when.json["starts_at"].startswith("2099-01-10T04:00")  # Perm, UTC+5
    listed = r.call("GET", f"/v1/campaigns?partner={inn}", token=OPERATOR)
    assert [c["id"] for c in listed.json["campaigns"]] == [cid]
    assert r.call("GET", "/v1/campaigns/999999", token=OPERATOR).status == 404

    # the client: a tick on the partner's account and a phone with the app
    assert accept(r, inn).status in (200, 201)
    device = r.call(
        "POST",
        "/v1/devices",
        {"client_id": "user-1", "provider": "fcm", "token": "t-1", "app": "ru.pay"},
    )
    assert device.status == 201
    # the tick would start it at its time; the workflow's pages, run here
    stored = r.store.campaign(cid)
    assert stored is not None and stored.starts_at is not None
    assert r.store.start_campaign(cid, stored.starts_at)
    stored = r.store.campaign(cid)
    assert stored is not None
    queued: list[int] = []
    assert (
        send_page(r.store, r.config, stored, None, enqueue=lambda w, ids: queued.extend(ids))[0]
        is None
    )
    sender = Sender(r.config, get_host())
    assert dict(sender.send_batch(r.store, queued, "wf").counts) == {"sent": 1}
    sender.close()
    (message,) = queued
    for event in ({"event": "opened"}, {"event": "clicked", "button": 0}):
        answer = r.call("POST", f"/v1/messages/{message}/events", {"client_id": "user-1", **event})
        assert answer.status == 204, answer.body
    # … and pays through the sandbox acquirer
    view = r.call("POST", "/v1/payments", basket(r, (0, "1500.50")), headers={
        "Idempotency-Key": "pay-1"
    }).json  # fmt: skip
    press_pay(view["confirmation"]["url"])
    for _ in range(1000):
        if r.call("GET", f"/v1/payments/{view['order_id']}").json["state"] == "succeeded":
            break
        time.sleep(0.01)
    stats = r.call("GET", f"/v1/campaigns/{cid}/stats", token=OPERATOR)
    assert stats.status == 200, stats.body
    s = stats.json
    assert (s["targeted"], s["sent"], s["delivered"], s["opened"], s["clicked"]) == (1, 1, 1, 1, 1)
    assert s["clicks"] == [{"button": 0, "clicks": 1}]
    assert (s["paid"], s["paid_amount"]) == (1, "1500.50")
    assert s["days"] and s["days"][0]["paid"] == 1
    assert ACCOUNT not in stats.body.decode()  # no account in the report

    metrics = r.call("GET", "/metrics", token=None).body.decode()
    assert 'pes_notifications_messages{channel="outbox",kind="promo",status="sent"} 1.0' in metrics
    assert 'pes_notifications_reported{event="opened"} 1.0' in metrics
    assert 'pes_notifications_campaigns{state="sending"} 1.0' in metrics
    assert "campaign=" not in metrics  # no per-campaign label

    cancelled = r.call("POST", f"/v1/campaigns/{cid}/cancel", token=OPERATOR)
    assert cancelled.status == 200 and cancelled.json["state"] == "cancelled"
    again = r.call("POST", f"/v1/campaigns/{cid}/cancel", token=OPERATOR)
    assert again.status == 409
