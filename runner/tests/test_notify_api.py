"""Devices and message events over real HTTP on both stores (``POST /v1/devices``, …).

A client app registers its push token, the notification core sends a push through the
sandbox outbox with the message's id in its data, and the app reports it delivered,
opened and clicked. A client reaches only its own devices and messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import CLIENT, OTHER_APP, Running, serve
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.notify import Sender, Template, enqueue_messages

from pes_sdk.notifications import Button
from pes_sdk.plugins.manager import get_host

NEWS = Template(
    "Плановое отключение воды", buttons=(Button("Подробнее", "https://uk.example.ru/news/1"),)
)


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path) as r:
        yield r


def _register(r: Running, **extra: object) -> dict[str, object]:
    body = {"client_id": "user-1", "provider": "fcm", "token": "fcm-token-1", "app": "ru.pay"}
    answer = r.call("POST", "/v1/devices", {**body, **extra})
    assert answer.status == 201, answer.body
    return dict(answer.json)


def test_an_app_registers_a_device_gets_a_push_and_reports_what_the_client_did(
    running: Running,
) -> None:
    r = running
    device = _register(r, time_zone="Asia/Yekaterinburg")
    assert set(device) == {"id", "provider", "app", "time_zone", "created_at", "last_seen_at"}
    again = _register(r, time_zone="Asia/Yekaterinburg")  # the app starts again: same row
    assert again["id"] == device["id"] and str(again["last_seen_at"]) >= str(device["last_seen_at"])
    stored = r.store.device(int(str(device["id"])))
    assert stored is not None and stored.time_zone == "Asia/Yekaterinburg"
    client = stored.client_id  # the app-scoped client: "<app id>:user-1"
    assert client.endswith(":user-1")
    queued: list[int] = []
    enqueue_messages(
        r.store, r.config, source="campaign:1", kind="news", template=NEWS,
        audience=[client], enqueue=lambda wid, ids: queued.extend(ids),
    )  # fmt: skip
    sender = Sender(r.config, get_host())
    assert dict(sender.send_batch(r.store, queued, "wf").counts) == {"sent": 1}
    sender.close()
    channel = r.config.notifications.channel("outbox")
    assert channel is not None
    (line,) = read_outbox(channel.adapter.settings["path"])
    message_id = int(line["data"]["pes_message"])  # what the app reads from the push
    assert line["to"] == "fcm-token-1" and line["text"] == "Плановое отключение воды"
    path = f"/v1/messages/{message_id}/events"
    body = {"client_id": "user-1"}
    assert r.call("POST", path, {**body, "event": "delivered"}).status == 204
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # an app's clock ahead: now
    assert r.call("POST", path, {**body, "event": "opened", "at": later.isoformat()}).status == 204
    assert r.call("POST", path, {**body, "event": "clicked", "button": 0}).status == 204
    m = r.store.message(message_id)
    assert m is not None and m.delivered_at and m.opened_at and m.clicked_button == 0
    assert m.opened_at <= dt.datetime.now(dt.UTC)
    # another client of the app, another app: as if there were no such message
    other = r.call("POST", path, {"client_id": "user-2", "event": "opened"})
    assert other.status == 404 and other.json["error"] == "not-found"
    foreign = r.call("POST", path, {**body, "event": "opened"}, token=OTHER_APP)
    assert foreign.status == 404
    bad = r.call("POST", path, {**body, "event": "delivered", "button": 1})
    assert bad.status == 422 and bad.json["field"] == "button"
    assert r.call("POST", path, {**body, "event": "read"}).status == 422
    # the device forgotten: its owner only
    gone = f"/v1/devices/{device['id']}"
    assert r.call("DELETE", gone + "?client_id=user-2").status == 404
    assert r.call("DELETE", gone + "?client_id=user-1").status == 204
    assert r.call("DELETE", gone + "?client_id=user-1").status == 404
    assert r.store.device(int(str(device["id"]))) is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"provider": "sms"}, "provider"),
        ({"token": ""}, "token"),
        ({"token": "x" * 5000}, "token"),
        ({"app": " "}, "app"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"client_id": ""}, "client_id"),
    ],
)
def test_a_wrong_device_is_refused_naming_the_field(
    running: Running, extra: dict[str, object], field: str
) -> None:
    body = {"client_id": "user-1", "provider": "fcm", "token": "t", "app": "ru.pay", **extra}
    answer = running.call("POST", "/v1/devices", body)
    assert answer.status == 422 and answer.json["field"] == field, answer.json


def test_devices_need_a_client_token(running: Running) -> None:
    body = {"client_id": "u", "provider": "fcm", "token": "t", "app": "a"}
    assert running.call("POST", "/v1/devices", body, token=None).status == 401
    assert running.call("POST", "/v1/devices", body, token=CLIENT).status == 201
