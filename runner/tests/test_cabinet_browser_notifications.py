"""The Уведомления page in a real browser (issue 17): Chromium switches kinds of message off
and finds them off after a reload and in the store; subscribes to Web Push with the
service's VAPID key, the subscription reaching the store as the client's ``webpush`` device
and the cabinet's service worker registered for the whole cabinet; unsubscribes; and the
page works without JavaScript. Screenshots at a phone's and a laptop's size go to
build/screenshots/ as the other cabinet pages'. No console error (a CSP violation is one)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import Running
from browser import VIEWPORTS
from cabinet_browser import Tab, login
from cabinet_web import serve_cabinet
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.config import AdapterSettings
from pes_sdk_runner.config.models import NotificationsConfig, NotifyChannel
from pes_sdk_webpush.simulator import write_vapid_key

from pes_sdk.plugins import get_host

#: What the stubbed ``subscribe()`` answers: a subscription as Chrome's would look.
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/browser-test-1",
    "expirationTime": None,
    "keys": {"p256dh": "B" + "A" * 86, "auth": "QUJDREVGR0hJSktMTU5PUA"},
}
# Headless Chromium here reaches no push service (there is no network): the real
# PushManager.subscribe() asks the browser vendor's push service (FCM for Chromium) for an
# endpoint and would fail. The stub records what the page asked for (the VAPID key) and
# answers the subscription that service would give; encrypting and delivering to such a
# subscription is proven in plugins/webpush against its simulator. The subscription is kept
# in localStorage so that a reload finds the browser subscribed, as a real one would.
STUB = """
(() => {
  const fixed = FIXED;
  const made = () => ({
    endpoint: fixed.endpoint,
    expirationTime: null,
    toJSON: () => fixed,
    unsubscribe: () => { localStorage.removeItem("stub-push"); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem("stub-push", JSON.stringify({
      userVisibleOnly: options.userVisibleOnly, key: Array.from(key),
    }));
    return Promise.resolve(made());
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(localStorage.getItem("stub-push") ? made() : null);
  };
})();
""".replace("FIXED", json.dumps(SUBSCRIPTION))


@pytest.fixture
def settings(tmp_path: Path) -> AdapterSettings:
    key = write_vapid_key(tmp_path / "vapid-private.pem")
    return AdapterSettings({"vapid_key_file": str(key), "subject": "mailto:ops@example.ru"})


@pytest.fixture
def running(tmp_path: Path, settings: AdapterSettings) -> Iterator[Running]:
    base = NotificationsConfig()
    notifications = NotificationsConfig(
        channels=(*base.channels, NotifyChannel("browser", "webpush", settings)),
        via={**base.via, "webpush": "browser"},
    )
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    with serve_cabinet(url, tmp_path, notifications=notifications) as r:
        yield r


def test_switches_persist_and_the_browser_subscribes(
    browser: Any, running: Running, settings: AdapterSettings
) -> None:
    from playwright.sync_api import expect

    r = running
    client = client_key(1)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ru-RU")
    context.grant_permissions(["notifications"], origin=r.base)
    context.add_init_script(STUB)
    tab = Tab(context)
    page = tab.page
    login(page, r)
    page.get_by_role("link", name="Уведомления").click()
    expect(page.get_by_role("heading", name="Уведомления", exact=True)).to_be_visible()
    expect(page.get_by_role("switch", name="Акции")).to_be_checked()

    # Two kinds off, an address: saved, shown so after a reload, and in the store.
    page.get_by_role("switch", name="Акции").click()
    page.get_by_role("switch", name="Новости").click()
    page.get_by_label("Почта для уведомлений").fill("client@example.ru")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("status").first).to_have_text("Настройки уведомлений сохранены.")
    page.reload()
    expect(page.get_by_role("switch", name="Акции")).not_to_be_checked()
    expect(page.get_by_role("switch", name="Новости")).not_to_be_checked()
    expect(page.get_by_role("switch", name="Начисления")).to_be_checked()
    expect(page.get_by_label("Почта для уведомлений")).to_have_value("client@example.ru")
    assert r.store.opted_out(client, "promo") and r.store.opted_out(client, "news")
    assert not r.store.opted_out(client, "charges")
    assert r.store.contacts_of([client])[client].email == "client@example.ru"

    # Push to this browser: asked with the channel's VAPID key, kept as a webpush device.
    button = page.get_by_role("button", name="Получать уведомления в браузере")
    expect(button).to_be_visible()
    expect(page.get_by_text("включите JavaScript")).to_be_hidden()
    tab.shoot("notifications")
    button.click()
    expect(page.locator("#push-state")).to_have_text("Уведомления в этом браузере включены.")
    asked = json.loads(page.evaluate("localStorage.getItem('stub-push')"))
    vapid = get_host().notification_channel("webpush").create(settings.merged()).vapid_public_key
    assert bytes(asked["key"]) == base64.urlsafe_b64decode(vapid + "=")
    assert asked["userVisibleOnly"] is True
    (device,) = r.store.devices_of([client])[client]
    assert (device.provider, device.app) == ("webpush", "cabinet")
    assert json.loads(device.token) == SUBSCRIPTION
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == r.base + "/cabinet/"
    page.reload()
    expect(page.get_by_role("button", name="Не получать в этом браузере")).to_be_visible()
    expect(page.get_by_text("Браузер, подключён")).to_be_visible()
    tab.shoot("notifications-subscribed")

    # And off again: the device is forgotten.
    page.get_by_role("button", name="Не получать в этом браузере").click()
    expect(page.locator("#push-state")).to_have_text("Уведомления в этом браузере выключены.")
    expect(page.get_by_role("button", name="Получать уведомления в браузере")).to_be_visible()
    assert r.store.devices_of([client]) == {}
    assert [e for e in tab.errors if "favicon" not in e] == []
    context.close()


def test_the_switches_work_without_javascript(browser: Any, running: Running) -> None:
    from playwright.sync_api import expect

    r = running
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    page = context.new_page()
    login(page, r)
    page.goto(r.base + "/cabinet/notifications")
    expect(page.get_by_text("включите JavaScript")).to_be_visible()
    page.get_by_role("switch", name="Показания счётчиков").click()
    page.get_by_role("button", name="Сохранить").click()
    page.wait_for_url("**/cabinet/notifications?saved=1")
    expect(page.get_by_role("switch", name="Показания счётчиков")).not_to_be_checked()
    assert r.store.opted_out(client_key(1), "readings")
    context.close()


def test_the_service_worker_shows_a_push_as_its_payload_says(
    browser: Any, running: Running
) -> None:
    """A push handed to the worker through the DevTools protocol (what a push service's
    delivery ends in; there is none here) is shown with its title, text, tag and button."""
    r = running
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ru-RU")
    context.grant_permissions(["notifications"], origin=r.base)
    tab = Tab(context)
    page = tab.page
    login(page, r)
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: versions.extend(e["versions"]))
    cdp.send("ServiceWorker.enable")
    page.goto(r.base + "/cabinet/notifications")  # push.js registers the worker
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    scope = r.base + "/cabinet/"
    found: list[str] = []
    for _ in range(100):  # the protocol's events arrive while the page is waited on
        ids = {x["registrationId"] for x in registrations if x["scopeURL"] == scope}
        found = [
            v["registrationId"]
            for v in versions
            if v["registrationId"] in ids and v["status"] == "activated"
        ]
        if found:
            break
        page.wait_for_timeout(50)
    assert found, (registrations, versions)
    payload = {
        "v": 1,
        "title": "Начисление за ноябрь",
        "body": "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть»",
        "tag": "campaign:42/client:1/device:1",
        "key": "campaign:42/client:1/device:1",
        "actions": [
            {"action": "button-1", "title": "Оплатить", "url": "https://pay.example.ru/pay"}
        ],
        "data": {"campaign": "42"},
    }
    read = (
        "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n =>"
        " ({title: n.title, body: n.body, tag: n.tag, actions: n.data.actions.length})))"
    )
    shown: list[dict[str, Any]] = []
    for attempt in range(100):
        # Sent again each second until shown: a worker just activated may drop the first.
        # The tag makes a repeat replace the one shown, as a push service's resend would.
        if attempt % 20 == 0:
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {
                    "origin": r.base,
                    "registrationId": found[0],
                    "data": json.dumps(payload, ensure_ascii=False),
                },
            )
        shown = page.evaluate(read)
        if shown:
            break
        page.wait_for_timeout(50)
    assert shown == [
        {
            "title": payload["title"],
            "body": payload["body"],
            "tag": payload["tag"],
            "actions": 1,
        }
    ]
    assert [e for e in tab.errors if "favicon" not in e] == []
    context.close()
