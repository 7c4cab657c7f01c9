"""The cabinet's Уведомления page without a browser (issue 17): the switches per kind of
message and the e-mail address as a plain form (CSRF checked, the address validated, the
store's preferences and contact written), the Web Push subscription routes (the session's
CSRF token in a header, the device kept as ``webpush``), the service worker's headers, and
the events a service worker reports, proved by the subscription's own secret."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import Running
from cabinet_web import Page, WebClient, serve_cabinet
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.cabinet.web.routes import NOTIFICATION_KINDS
from pes_sdk_runner.config import AdapterSettings
from pes_sdk_runner.config.models import NotificationsConfig, NotifyChannel
from pes_sdk_runner.store.notify import NewMessage
from pes_sdk_webpush.simulator import write_vapid_key

KINDS = [k for k, _label, _hint in NOTIFICATION_KINDS]
#: A PushSubscription as a browser's toJSON() gives it (base64url keys of the real sizes:
#: p256dh a 65-byte point, auth 16 bytes).
SUBSCRIPTION: dict[str, Any] = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/cabinet-test-1",
    "expirationTime": None,
    "keys": {"p256dh": "B" + "A" * 86, "auth": "QUJDREVGR0hJSktMTU5PUA"},
}


def webpush_config(tmp_path: Path) -> NotificationsConfig:
    """``[notifications]`` with a Web Push channel (its key a new file) as ``via.webpush``."""
    key = write_vapid_key(tmp_path / "vapid-private.pem")
    settings = AdapterSettings({"vapid_key_file": str(key), "subject": "mailto:ops@example.ru"})
    base = NotificationsConfig()
    return NotificationsConfig(
        channels=(*base.channels, NotifyChannel("browser", "webpush", settings)),
        via={**base.via, "webpush": "browser"},
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    with serve_cabinet(url, tmp_path, notifications=webpush_config(tmp_path)) as r:
        yield r


def signed_in(r: Running) -> WebClient:
    c = WebClient(r.base)
    c.login(r)
    return c


def send_json(
    c: WebClient, path: str, body: object, csrf: str | None, kind: str = "application/json"
) -> Page:
    headers = {"Content-Type": kind}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    req = urllib.request.Request(
        c.url(path), data=json.dumps(body).encode(), method="POST", headers=headers
    )
    return c._open(req)


def switches(page: Page) -> dict[str, bool]:
    found = re.findall(r'name="on" value="([a-z]+)"( checked)?', page.text)
    return {kind: bool(checked) for kind, checked in found}


def test_the_page_lists_every_kind_switched_on_and_is_in_the_menu(running: Running) -> None:
    c = signed_in(running)
    page = c.get("/cabinet/notifications")
    assert page.status == 200
    assert switches(page) == dict.fromkeys(KINDS, True)
    for label in ("Начисления", "Напоминания об оплате", "Показания счётчиков", "Акции"):
        assert label in page.text
    assert 'href="/cabinet/notifications" aria-current="page">Уведомления' in page.text
    assert "Получать уведомления в браузере" in page.text


def test_switching_kinds_off_and_an_email_persist_in_the_store(running: Running) -> None:
    r = running
    c = signed_in(r)
    page = c.get("/cabinet/notifications")
    kept_on = [k for k in KINDS if k not in ("promo", "news")]
    fields = [("csrf", page.csrf), ("email", " client@example.ru ")]
    fields += [("on", k) for k in kept_on]
    sent = c.post("/cabinet/notifications", fields)
    assert sent.status == 303 and sent.location.endswith("/cabinet/notifications?saved=1")
    again = c.get(sent.location)
    assert "Настройки уведомлений сохранены." in again.text
    assert switches(again) == {k: k in kept_on for k in KINDS}
    assert again.field("email") == "client@example.ru"
    client = client_key(1)
    assert r.store.opted_out(client, "promo") and r.store.opted_out(client, "news")
    assert not r.store.opted_out(client, "charges")
    assert r.store.contacts_of([client])[client].email == "client@example.ru"

    # Everything back on, and the address cleared: the core then sends no e-mail.
    fields = [("csrf", again.csrf), ("email", "")] + [("on", k) for k in KINDS]
    assert c.post("/cabinet/notifications", fields).status == 303
    assert not any(r.store.opted_out(client, k) for k in KINDS)
    assert not r.store.contacts_of([client])[client].email


def test_a_wrong_email_is_refused_beside_the_field_and_nothing_saved(running: Running) -> None:
    r = running
    c = signed_in(r)
    page = c.get("/cabinet/notifications")
    fields = [("csrf", page.csrf), ("email", "client@пример"), ("on", "charges")]
    refused = c.post("/cabinet/notifications", fields)
    assert refused.status == 422
    assert "Проверьте адрес почты" in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert switches(refused) == {k: k == "charges" for k in KINDS}  # as the client left them
    assert not r.store.opted_out(client_key(1), "news")


def test_the_form_needs_its_csrf_token_and_a_session(running: Running) -> None:
    r = running
    c = signed_in(r)
    stale = c.post("/cabinet/notifications", [("csrf", "x" * 40), ("email", "")])
    assert stale.status == 403
    assert not r.store.opted_out(client_key(1), "charges")
    anonymous = WebClient(r.base)
    assert anonymous.get("/cabinet/notifications").location.endswith("/cabinet/login")


def test_a_subscription_is_kept_as_the_clients_webpush_device(running: Running) -> None:
    r = running
    c = signed_in(r)
    csrf = c.get("/cabinet/notifications").csrf
    body = {"subscription": SUBSCRIPTION, "time_zone": "Asia/Yekaterinburg"}
    # Without the page's token (another site's request could carry the cookie): refused.
    assert send_json(c, "/cabinet/notifications/push", body, None).status == 403
    assert send_json(c, "/cabinet/notifications/push", body, "x" * 40).status == 403
    assert send_json(c, "/cabinet/notifications/push", body, csrf, "text/plain").status == 400
    bad = {"subscription": {"endpoint": "https://x.example/1", "keys": {}}}
    assert send_json(c, "/cabinet/notifications/push", bad, csrf).status == 422
    saved = send_json(c, "/cabinet/notifications/push", body, csrf)
    assert saved.status == 201, saved.text
    client = client_key(1)
    (device,) = r.store.devices_of([client])[client]
    assert (device.provider, device.app, device.time_zone) == (
        "webpush",
        "cabinet",
        "Asia/Yekaterinburg",
    )
    assert json.loads(device.token) == SUBSCRIPTION
    # The same subscription again (keys in another order) is the same row.
    reordered = {"subscription": dict(reversed(list(SUBSCRIPTION.items())))}
    assert send_json(c, "/cabinet/notifications/push", reordered, csrf).status == 201
    assert len(r.store.devices_of([client])[client]) == 1
    assert "Браузер, подключён" in c.get("/cabinet/notifications").text

    # Unsubscribing by the endpoint (the script) forgets it.
    gone = send_json(
        c, "/cabinet/notifications/push/delete", {"endpoint": SUBSCRIPTION["endpoint"]}, csrf
    )
    assert gone.status == 200 and json.loads(gone.text) == {"deleted": 1}
    assert r.store.devices_of([client]) == {}


def test_a_browser_is_forgotten_by_the_pages_form_without_a_script(running: Running) -> None:
    r = running
    c = signed_in(r)
    client = client_key(1)
    device = r.store.register_device(client, "webpush", json.dumps(SUBSCRIPTION), "cabinet")
    other = r.store.register_device("cabinet:99", "webpush", '{"endpoint": "x"}', "cabinet")
    page = c.get("/cabinet/notifications")
    # Another client's device id is not this client's to delete.
    fields = {"csrf": page.csrf, "device": str(other.id)}
    assert c.post("/cabinet/notifications/push/delete", fields).status == 303
    assert r.store.device(other.id) is not None
    fields = {"csrf": page.csrf, "device": str(device.id)}
    assert c.post("/cabinet/notifications/push/delete", fields).status == 303
    assert r.store.device(device.id) is None


def test_the_service_worker_is_served_for_the_whole_cabinet(running: Running) -> None:
    c = WebClient(running.base)  # no session needed: the browser fetches it on its own
    sw = c.get("/cabinet/sw.js")
    assert sw.status == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/cabinet/"
    assert "script-src 'self'" in sw.headers["content-security-policy"]
    assert (
        'addEventListener("push"' in sw.text and 'addEventListener("notificationclick"' in sw.text
    )
    assert "__BRAND__" not in sw.text and json.dumps("Личный кабинет") in sw.text


def test_without_a_webpush_channel_there_is_no_button(tmp_path: Path) -> None:
    with serve_cabinet(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path) as r:
        c = signed_in(r)
        page = c.get("/cabinet/notifications")
        assert "Уведомления в браузере пока не подключены." in page.text
        assert 'data-key=""' in page.text
        assert switches(page) == dict.fromkeys(KINDS, True)


def message_to(r: Running, device_id: int, client: str) -> int:
    template = r.store.message_template("campaign:1", "news", {"text": "Новости"})
    (mid,) = r.store.add_messages(
        [
            NewMessage(
                "campaign:1", client, f"device:{device_id}", template, "news", "push", device_id
            )
        ]
    )
    return mid


def test_a_service_workers_report_is_proved_by_its_subscription(running: Running) -> None:
    r = running
    client = client_key(1)
    device = r.store.register_device(client, "webpush", json.dumps(SUBSCRIPTION), "cabinet")
    mid = message_to(r, device.id, client)
    worker = WebClient(r.base)  # the worker sends no cookie: a session is not what proves it
    path = f"/cabinet/messages/{mid}/events"
    proof = {"endpoint": SUBSCRIPTION["endpoint"], "auth": SUBSCRIPTION["keys"]["auth"]}
    wrong = {**proof, "auth": "WldaWldaWldaWldaWldaWg"}
    assert send_json(worker, path, {"event": "opened", **wrong}, None).status == 404
    assert r.store.message(mid).opened_at is None  # type: ignore[union-attr]
    assert send_json(worker, path, {"event": "opened", **proof}, None).status == 204
    assert send_json(worker, path, {"event": "clicked", "button": 1, **proof}, None).status == 204
    assert send_json(worker, path, {"event": "clicked", "button": 7, **proof}, None).status == 404
    assert send_json(worker, path, {"event": "read", **proof}, None).status == 404
    assert (
        send_json(worker, "/cabinet/messages/999/events", {"event": "opened", **proof}, None).status
        == 404
    )
    got = r.store.message(mid)
    assert got is not None and got.opened_at is not None
    assert got.clicked_at is not None and got.clicked_button == 1
