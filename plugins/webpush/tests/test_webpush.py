"""The Web Push channel against the simulated push service over real loopback HTTP.

The simulator decrypts every message with the subscription's private key, as the browser
would, and verifies the VAPID token with the ``k`` key: what these tests compare is what the
cabinet's service worker would read, not the bytes on the wire.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pes_sdk_webpush import (
    InvalidSubscription,
    WebPushChannel,
    WebPushConfigurationError,
    WebPushFactory,
    WebPushHarness,
    WebPushPayloadTooLarge,
)
from pes_sdk_webpush.protocol import (
    MAX_BODY_BYTES,
    MAX_PAYLOAD_BYTES,
    build_payload,
    encode_payload,
    is_public,
    parse_subscription,
    resolve_host,
)
from pes_sdk_webpush.simulator import write_vapid_key

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import (
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
)

TEXT = "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть». Оплатите до 25-го"
TITLE = "Начисление за ноябрь"
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


def push(harness: WebPushHarness, **extra: object) -> Notification:
    fields: dict[str, object] = {"key": f"test:{uuid.uuid4().hex}"}
    fields.update(extra)
    return Notification("push", harness.recipient, TEXT, **fields)  # type: ignore[arg-type]


def another_channel(harness: WebPushHarness, **settings: str) -> WebPushChannel:
    return WebPushFactory().create({**harness.settings, **settings})


# -- what the browser reads -----------------------------------------------------------------


def test_decrypted_payload_is_exactly_what_was_sent(harness: WebPushHarness) -> None:
    notification = push(
        harness,
        key="campaign:42/client:1017/device:88",
        title=TITLE,
        image="https://cdn.example.ru/campaigns/42/баннер.png",
        buttons=(
            Button("Оплатить", "https://pay.example.ru/pay?account=0000123"),
            Button("Подробнее", "https://example.ru/news/42"),
            Button("Передать показания", "https://example.ru/readings"),
        ),
        data={"campaign": "42", "screen": "оплата"},
    )
    result = harness.channel.send(notification)

    (got,) = harness.simulator.messages
    assert result.message_id == got.location  # 201's Location is the message id
    assert got.plaintext == encode_payload(build_payload(notification))
    assert got.json() == {
        "v": 1,
        "title": TITLE,
        "body": TEXT,
        "tag": "campaign:42/client:1017/device:88",
        "key": "campaign:42/client:1017/device:88",
        "image": "https://cdn.example.ru/campaigns/42/баннер.png",
        "actions": [
            {
                "action": "button-1",
                "title": "Оплатить",
                "url": "https://pay.example.ru/pay?account=0000123",
            },
            {"action": "button-2", "title": "Подробнее", "url": "https://example.ru/news/42"},
            {
                "action": "button-3",
                "title": "Передать показания",
                "url": "https://example.ru/readings",
            },
        ],
        "data": {"campaign": "42", "screen": "оплата"},
    }
    # what travelled is ciphertext: neither the text nor its UTF-8 shows in it
    assert TEXT.encode() not in got.body and b"campaign" not in got.body
    assert got.subscription == harness.simulator.subscription_id(harness.recipient)


def test_plain_notification_has_no_empty_parts(harness: WebPushHarness) -> None:
    harness.channel.send(push(harness, key="login:1"))
    (got,) = harness.simulator.messages
    assert got.json() == {"v": 1, "title": "", "body": TEXT, "tag": "login:1", "key": "login:1"}


def test_each_message_is_encrypted_anew(harness: WebPushHarness) -> None:
    # RFC 8291: a new key pair and salt per message, so equal texts never look equal
    harness.channel.send(push(harness, key="a"))
    harness.channel.send(push(harness, key="a2"))
    first, second = harness.simulator.messages
    assert first.body[:16] != second.body[:16]  # the salt
    assert first.body[21:86] != second.body[21:86]  # the sender's ephemeral key


# -- VAPID ----------------------------------------------------------------------------------


def test_vapid_token_is_verified_by_the_push_service(harness: WebPushHarness) -> None:
    before = int(time.time())
    harness.channel.send(push(harness))
    (got,) = harness.simulator.messages
    assert got.vapid_key == harness.channel.vapid_public_key
    assert got.claims["aud"] == harness.simulator.origin
    assert got.claims["sub"] == "mailto:push-admin@zhkh-oplata.ru"
    assert before < got.claims["exp"] <= before + 24 * 3600 + 1
    assert harness.simulator.refusals == []


def test_vapid_public_key_is_the_applicationserverkey_format(harness: WebPushHarness) -> None:
    key = harness.channel.vapid_public_key
    assert "=" not in key and "+" not in key and "/" not in key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    pem = harness.key_file.read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert raw == private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_vapid_token_is_reused_then_renewed(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    with WebPushHarness(tmp_path, clock=lambda: now[0]) as harness:
        channel = WebPushChannel(harness.channel.settings, clock=lambda: now[0])
        try:
            channel.send(push(harness))
            channel.send(push(harness))
            now[0] += 11 * 3600 + 1  # less than an hour of the 12-hour token left
            channel.send(push(harness))
        finally:
            channel.close()
        first, second, third = harness.simulator.tokens
        assert first == second != third
        assert [m.claims["exp"] for m in harness.simulator.messages] == [
            1_800_000_000 + 12 * 3600,
            1_800_000_000 + 12 * 3600,
            1_800_000_000 + 23 * 3600 + 1,
        ]


@pytest.mark.parametrize("skew", [-25 * 3600, 13 * 3600])
def test_a_token_out_of_its_time_is_a_configuration_error(tmp_path: Path, skew: int) -> None:
    # the sender's clock is wrong: the token has expired, or ends more than 24 h ahead
    with WebPushHarness(tmp_path) as harness:
        channel = WebPushChannel(harness.channel.settings, clock=lambda: time.time() + skew)
        try:
            with pytest.raises(WebPushConfigurationError) as caught:
                channel.send(push(harness))
        finally:
            channel.close()
        assert caught.value.code == "401"
        assert not isinstance(caught.value, RecipientRefused)
        assert harness.simulator.refusals[0] in (
            "the token has expired",
            "exp is more than 24 hours ahead",
        )


def test_another_vapid_key_is_a_configuration_error_not_a_dead_subscription(
    harness: WebPushHarness, tmp_path: Path
) -> None:
    # the subscription was made with the channel's key; a channel with another key is
    # refused (403, as FCM answers), and the subscription must not be deleted for it
    other = another_channel(
        harness, vapid_key_file=str(write_vapid_key(tmp_path / "another-vapid.pem"))
    )
    try:
        with pytest.raises(ChannelError) as caught:
            other.send(push(harness))
    finally:
        other.close()
    assert isinstance(caught.value, WebPushConfigurationError)
    assert not isinstance(caught.value, RecipientRefused)
    assert caught.value.code == "403"
    harness.channel.send(push(harness))  # the subscription still works with its own key
    assert len(harness.simulator.messages) == 1


@pytest.mark.parametrize("fault", ["unauthorized", "forbidden"])
def test_401_and_403_are_configuration_errors(harness: WebPushHarness, fault: str) -> None:
    harness.simulator.fail_next(fault)
    with pytest.raises(WebPushConfigurationError):
        harness.channel.send(push(harness))


# -- the headers ----------------------------------------------------------------------------


def test_ttl_urgency_and_topic_headers(harness: WebPushHarness) -> None:
    channel = another_channel(harness, ttl="600", urgency="high")
    try:
        channel.send(push(harness, key="charge:2026-11/client:1017"))
    finally:
        channel.close()
    (got,) = harness.simulator.messages
    assert got.ttl == 600
    assert got.urgency == "high"
    assert got.topic is not None and _TOPIC.fullmatch(got.topic)
    # the topic is a hash: the key (which names a client) does not reach the push service
    assert "1017" not in got.topic


def test_defaults_are_a_day_and_normal(harness: WebPushHarness) -> None:
    harness.channel.send(push(harness))
    (got,) = harness.simulator.messages
    assert (got.ttl, got.urgency) == (86400, "normal")


def test_same_key_gives_the_same_topic_and_tag(harness: WebPushHarness) -> None:
    key = "campaign:42/client:1017/device:88"
    harness.channel.send(push(harness, key=key, title="первая попытка"))
    # the same key from a second channel (a campaign resumed after a restart): the push
    # service replaces its undelivered copy, and the browser shows one notification
    again = another_channel(harness)
    try:
        again.send(push(harness, key=key, title="вторая попытка"))
        again.send(push(harness, key="campaign:43/client:1017/device:88"))
    finally:
        again.close()
    first, second, other = harness.simulator.messages
    assert first.topic == second.topic != other.topic
    assert first.json()["tag"] == second.json()["tag"] == key
    inbox = harness.simulator.inbox(harness.recipient)
    assert [m.json()["title"] for m in inbox] == ["вторая попытка", ""]


def test_collapse_id_groups_messages_of_different_keys(harness: WebPushHarness) -> None:
    harness.channel.send(push(harness, key="k1", collapse="charges-2026-11"))
    harness.channel.send(push(harness, key="k2", collapse="charges-2026-11"))
    first, second = harness.simulator.messages
    assert first.topic == second.topic
    assert first.json()["tag"] == second.json()["tag"] == "charges-2026-11"
    assert (first.json()["key"], second.json()["key"]) == ("k1", "k2")
    assert len(harness.simulator.inbox(harness.recipient)) == 1


# -- answers --------------------------------------------------------------------------------


def test_unsubscribed_browser_is_dead(harness: WebPushHarness) -> None:
    harness.simulator.unsubscribe(harness.recipient)
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push(harness))
    assert caught.value.code == "410"
    assert caught.value.channel == "webpush"


def test_unknown_subscription_is_dead(harness: WebPushHarness) -> None:
    harness.simulator.fail_next("not-found")
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push(harness))
    assert caught.value.code == "404"


def test_429_is_unavailable_with_retry_after(harness: WebPushHarness) -> None:
    harness.simulator.fail_next("throttled", retry_after=30)
    with pytest.raises(ChannelUnavailable) as caught:
        harness.channel.send(push(harness))
    assert caught.value.retry_after == 30
    assert caught.value.code == "429"


def test_5xx_is_unavailable(harness: WebPushHarness) -> None:
    harness.simulator.fail_next("unavailable", retry_after=5)
    with pytest.raises(ChannelUnavailable) as caught:
        harness.channel.send(push(harness))
    assert (caught.value.code, caught.value.retry_after) == ("503", 5)


def test_400_is_refused_not_dead(harness: WebPushHarness) -> None:
    harness.simulator.fail_next("bad-request")
    with pytest.raises(RecipientRefused) as caught:
        harness.channel.send(push(harness))
    assert not isinstance(caught.value, DeadRecipient)


def test_413_is_payload_too_large(harness: WebPushHarness) -> None:
    harness.simulator.fail_next("too-large")
    with pytest.raises(WebPushPayloadTooLarge) as caught:
        harness.channel.send(push(harness))
    assert caught.value.size is None
    assert not isinstance(caught.value, DeadRecipient)


def test_a_hanging_push_service_is_unavailable_within_the_timeout(tmp_path: Path) -> None:
    with WebPushHarness(tmp_path, timeout=0.5) as harness:
        harness.simulator.fail_next("stall")
        try:
            with pytest.raises(ChannelUnavailable) as caught:
                harness.channel.send(push(harness))
        finally:
            harness.heal()
    assert caught.value.code == "timeout"
    # the HTTP error (which names the endpoint, and so the browser) is not chained
    assert caught.value.__cause__ is None and caught.value.__context__ is None


# -- size -----------------------------------------------------------------------------------


def _of_size(harness: WebPushHarness, size: int) -> Notification:
    base = push(harness, key="size", data={"pad": ""})
    missing = size - len(encode_payload(build_payload(base)))
    assert missing >= 0
    return push(harness, key="size", data={"pad": "x" * missing})


def test_payload_over_the_limit_is_refused_before_sending(harness: WebPushHarness) -> None:
    notification = _of_size(harness, MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(WebPushPayloadTooLarge) as caught:
        harness.channel.send(notification)
    assert caught.value.size == MAX_PAYLOAD_BYTES + 1
    assert harness.simulator.requests == 0


def test_payload_of_exactly_the_limit_is_4096_bytes_encrypted(harness: WebPushHarness) -> None:
    harness.channel.send(_of_size(harness, MAX_PAYLOAD_BYTES))
    (got,) = harness.simulator.messages
    assert len(got.body) == MAX_BODY_BYTES
    assert len(got.plaintext) == MAX_PAYLOAD_BYTES


def test_cyrillic_counts_in_bytes(harness: WebPushHarness) -> None:
    # 1000 Cyrillic letters are 2000 bytes; with a long title and three buttons the JSON
    # passes the limit although every field is within the contract's
    big = Notification(
        "push",
        harness.recipient,
        "Ж" * 1000,
        title="Ж" * 200,
        buttons=[Button("Ж" * 40, "https://example.ru/" + "ж" * 300) for _ in range(3)],
    )
    with pytest.raises(WebPushPayloadTooLarge):
        harness.channel.send(big)
    assert harness.simulator.requests == 0


# -- the subscription -----------------------------------------------------------------------


def _subscription(harness: WebPushHarness, **changes: object) -> str:
    sub = json.loads(harness.recipient)
    keys = sub["keys"]
    for name, value in changes.items():
        if name in ("p256dh", "auth"):
            keys[name] = value
        elif value is None:
            sub.pop(name, None)
        else:
            sub[name] = value
    return json.dumps(sub)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"endpoint": "https://10.0.0.7/push/abc"}, "private"),
        ({"endpoint": "https://169.254.169.254/latest/meta-data"}, "private"),
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/abc"}, "http"),
        ({"endpoint": "ftp://fcm.googleapis.com/fcm/send/abc"}, "scheme"),
        ({"endpoint": "https://user:pw@fcm.googleapis.com/fcm/send/abc"}, "credentials"),
        ({"endpoint": None}, "endpoint"),
        ({"keys": None}, "keys"),
        ({"p256dh": _b64(b"\x04" + b"\x01" * 63)}, "not the 65"),
        ({"p256dh": _b64(b"\x04" + b"\x01" * 64)}, "not a point"),
        ({"p256dh": "not base64!"}, "p256dh"),
        ({"auth": _b64(b"\x01" * 12)}, "not 16"),
    ],
)
def test_unusable_subscriptions_are_dead_without_a_request(
    harness: WebPushHarness, changes: dict[str, object], problem: str
) -> None:
    text = _subscription(harness, **changes)
    with pytest.raises(InvalidSubscription) as caught:
        harness.channel.send(Notification("push", text, TEXT))
    assert isinstance(caught.value, DeadRecipient)
    assert problem in str(caught.value)
    assert harness.simulator.requests == 0
    assert "/push/" not in str(caught.value)


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"endpoint": 5}', "{" * 9000])
def test_text_that_is_not_a_subscription_is_dead(harness: WebPushHarness, text: str) -> None:
    with pytest.raises(InvalidSubscription):
        parse_subscription(text, allow_loopback_http=True)


def test_loopback_http_only_when_allowed(harness: WebPushHarness) -> None:
    assert parse_subscription(harness.recipient, allow_loopback_http=True)
    with pytest.raises(InvalidSubscription, match="allow_loopback_http"):
        parse_subscription(harness.recipient)
    https = _subscription(harness, endpoint="https://127.0.0.1:8443/push/abc")
    with pytest.raises(InvalidSubscription, match="loopback"):
        parse_subscription(https)  # the service's own host: server-side request forgery
    with pytest.raises(InvalidSubscription, match="loopback"):
        parse_subscription(_subscription(harness, endpoint="https://localhost/push/abc"))
    channel = another_channel(harness, allow_loopback_http="false")
    try:
        with pytest.raises(InvalidSubscription):
            channel.send(push(harness))
    finally:
        channel.close()
    assert harness.simulator.requests == 0


def test_a_browser_subscription_with_padding_and_expiration_is_taken() -> None:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    text = json.dumps(
        {
            "endpoint": "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bH",
            "expirationTime": None,
            "keys": {
                "p256dh": base64.urlsafe_b64encode(key).decode(),  # padded
                "auth": base64.urlsafe_b64encode(b"\x07" * 16).decode(),
            },
        }
    )
    sub = parse_subscription(text)
    assert sub.p256dh == key and sub.auth == b"\x07" * 16
    assert sub.origin == "https://fcm.googleapis.com"
    assert "fcm" not in repr(sub)


# -- nothing personal or secret shows -------------------------------------------------------


def test_no_endpoint_keys_or_vapid_key_in_the_debug_log(
    harness: WebPushHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    harness.channel.send(push(harness, title=TITLE))
    for fault in ("gone", "throttled", "unavailable", "bad-request", "unauthorized", "too-large"):
        harness.simulator.fail_next(fault, retry_after=1)
        try:
            harness.channel.send(push(harness))
        except ChannelError as exc:
            errors.append(exc)
    assert len(errors) == 6
    shown = [caplog.text, repr(harness.channel), str(harness.channel)]
    shown += [repr(harness.channel.settings), repr(harness.channel.vapid)]
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    for value in harness.secrets:
        for text in shown:
            assert value not in text
    # the HTTP stack did log the requests, with the endpoint hidden: the filter is at work
    assert f"{harness.simulator.origin}/…" in caplog.text


# -- settings -------------------------------------------------------------------------------


def test_factory_names_the_wrong_setting(harness: WebPushHarness, tmp_path: Path) -> None:
    good = dict(harness.settings)
    cases: list[tuple[dict[str, str], str]] = [
        ({"subject": ""}, "subject"),
        ({"subject": "push-admin@zhkh-oplata.ru"}, "subject"),
        ({"subject": "http://zhkh-oplata.ru"}, "subject"),
        ({"ttl": "-1"}, "ttl"),
        ({"ttl": "1.5"}, "ttl"),
        ({"urgency": "urgent"}, "urgency"),
        ({"timeout": "0"}, "timeout"),
        ({"timeout": "nan"}, "timeout"),
        ({"allow_loopback_http": "maybe"}, "allow_loopback_http"),
        ({"vapid_key_env": "PES_VAPID"}, "vapid_key_file"),  # both given
        ({"vapid_key_file": str(tmp_path / "missing.pem")}, "vapid_key_file"),
        ({"colour": "red"}, "colour"),
    ]
    for change, name in cases:
        with pytest.raises(ConfigError, match=name):
            WebPushFactory().create({**good, **change})
    without = {k: v for k, v in good.items() if k != "vapid_key_file"}
    with pytest.raises(ConfigError, match="vapid_key_file"):
        WebPushFactory().create(without)


def test_factory_errors_never_show_the_key(harness: WebPushHarness, tmp_path: Path) -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    broken = harness.key_file.read_text().replace("\n", "\n\n", 3)[:-40]
    for text, says in ((rsa_pem, "P-256"), (broken, "not a private key")):
        path = tmp_path / "bad.pem"
        path.write_text(text)
        with pytest.raises(ConfigError, match=says) as caught:
            WebPushFactory().create({**harness.settings, "vapid_key_file": str(path)})
        for line in [line for line in text.splitlines() if line][1:3]:
            assert line not in str(caught.value)


def test_factory_reads_the_key_from_an_environment_variable(
    harness: WebPushHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = harness.key_file.read_text()
    settings = {k: v for k, v in harness.settings.items() if k != "vapid_key_file"}
    monkeypatch.setenv("PES_VAPID_KEY", pem.replace("\n", "\\n"))  # one line, as in .env
    channel = WebPushFactory().create({**settings, "vapid_key_env": "PES_VAPID_KEY"})
    assert channel.vapid_public_key == harness.channel.vapid_public_key
    channel.send(push(harness))
    channel.close()
    # the raw 32-byte key in base64url, as web-push generate-vapid-keys prints it
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    raw = _b64(private.private_numbers().private_value.to_bytes(32, "big"))
    monkeypatch.setenv("PES_VAPID_KEY", raw)
    channel = WebPushFactory().create({**settings, "vapid_key_env": "PES_VAPID_KEY"})
    assert channel.vapid_public_key == harness.channel.vapid_public_key
    channel.close()
    monkeypatch.delenv("PES_VAPID_KEY")
    with pytest.raises(ConfigError, match="PES_VAPID_KEY"):
        WebPushFactory().create({**settings, "vapid_key_env": "PES_VAPID_KEY"})
    assert len(harness.simulator.messages) == 1


def test_https_contact_with_a_path_is_taken(harness: WebPushHarness) -> None:
    # RFC 8292 allows any https: URI; py-vapid's own check would refuse a path
    channel = another_channel(harness, subject="https://zhkh-oplata.ru/contacts/push")
    try:
        channel.send(push(harness))
    finally:
        channel.close()
    (got,) = harness.simulator.messages
    assert got.claims["sub"] == "https://zhkh-oplata.ru/contacts/push"


# -- the simulator checks what a push service checks ----------------------------------------


def test_simulator_refuses_a_message_it_cannot_decrypt(harness: WebPushHarness) -> None:
    # encrypted for one browser, posted to another's endpoint: the push service takes the
    # bytes, but the simulator decrypts as the browser would, and cannot
    other = json.loads(harness.simulator.subscribe(harness.channel.vapid_public_key))
    mixed = json.loads(harness.recipient)
    mixed["endpoint"] = other["endpoint"]
    with pytest.raises(RecipientRefused):
        harness.channel.send(Notification("push", json.dumps(mixed), TEXT))
    assert harness.simulator.refusals == ["the body does not decrypt with the subscription's keys"]
    assert harness.simulator.messages == []


def test_simulator_checks_the_headers_and_the_token(harness: WebPushHarness) -> None:
    from pes_sdk.http import HttpClient

    endpoint = json.loads(harness.recipient)["endpoint"]
    good = {
        "TTL": "60",
        "Content-Encoding": "aes128gcm",
        "Authorization": harness.channel.vapid.header(harness.simulator.origin),
    }
    cases = [
        ({k: v for k, v in good.items() if k != "TTL"}, 400),
        ({**good, "Topic": "x" * 33}, 400),
        ({**good, "Topic": "a+b/c="}, 400),
        ({**good, "Urgency": "urgent"}, 400),
        ({k: v for k, v in good.items() if k != "Authorization"}, 401),
        ({**good, "Authorization": good["Authorization"][:-8] + "AAAAAAAA"}, 401),
        (
            {**good, "Authorization": harness.channel.vapid.header("https://elsewhere.example")},
            401,
        ),
    ]
    with HttpClient(harness.simulator.origin, timeout=2.0) as client:
        for headers, status in cases:
            answer = client.send("POST", endpoint, content=b"\x00" * 100, headers=headers)
            assert answer.status == status, headers
        big = client.send("POST", endpoint, content=b"\x00" * 4097, headers=good)
        assert big.status == 413
    assert harness.simulator.messages == []


# -- a host name that resolves into the service's own network ------------------------------


def _name_resolving_to_a_non_public_address() -> str:
    """The machine's own host name, really resolved: /etc/hosts (or the container's DNS)
    gives it a loopback or private address on any usual host. No DNS server of the test's
    own is needed, and none can be made to answer a name of our choosing here."""
    name = socket.gethostname()
    try:
        addresses = resolve_host(name, 443, timeout=5.0)
    except OSError:
        pytest.skip(f"this machine's host name {name!r} does not resolve")
    if all(is_public(a) for a in addresses):
        pytest.skip(f"this machine's host name {name!r} resolves to public addresses only")
    return name


def _port(harness: WebPushHarness) -> int:
    endpoint: str = json.loads(harness.recipient)["endpoint"]
    port = urllib.parse.urlsplit(endpoint).port
    assert port is not None
    return port


def test_a_host_name_resolving_to_a_non_public_address_is_refused(
    harness: WebPushHarness,
) -> None:
    """SSRF by name: the literal check cannot see it, the resolution before sending does."""
    name = _name_resolving_to_a_non_public_address()
    text = _subscription(harness, endpoint=f"https://{name}:{_port(harness)}/push/abc")
    assert parse_subscription(text)  # a name: the subscription itself looks fine
    channel = another_channel(harness, allow_loopback_http="false")
    try:
        with pytest.raises(InvalidSubscription, match="resolves to a loopback, private") as caught:
            channel.send(Notification("push", text, TEXT, key="ssrf:1"))
    finally:
        channel.close()
    assert isinstance(caught.value, DeadRecipient)
    assert name not in str(caught.value) and "/push/" not in str(caught.value)
    assert harness.simulator.requests == 0


def test_private_endpoints_only_when_explicitly_allowed(harness: WebPushHarness) -> None:
    """allow_private_endpoints (unsafe, for a sandbox) lets a private endpoint through: the
    request is then made (and fails here, the simulator speaking no TLS), not refused."""
    name = _name_resolving_to_a_non_public_address()
    by_name = _subscription(harness, endpoint=f"https://{name}:{_port(harness)}/p/a")
    literal = _subscription(harness, endpoint="https://10.1.2.3/push/abc")
    with pytest.raises(InvalidSubscription, match="loopback or private"):
        parse_subscription(literal)
    assert parse_subscription(literal, allow_private_endpoints=True)
    channel = another_channel(
        harness, allow_loopback_http="false", allow_private_endpoints="true", timeout="2"
    )
    try:
        assert channel.settings.allow_private_endpoints
        with pytest.raises(ChannelUnavailable):
            channel.send(Notification("push", by_name, TEXT, key="sandbox:1"))
    finally:
        channel.close()
    assert not WebPushFactory().create(harness.settings).settings.allow_private_endpoints


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("142.250.74.42", True),  # fcm.googleapis.com's kind of address
        ("2a00:1450:4010:c0e::5f", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),  # multicast
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4 in IPv6 clothing
        ("::ffff:10.0.0.5", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:8efa:4a2a::", True),  # 6to4 of a public address
        ("64:ff9b::a00:5", False),  # NAT64 of 10.0.0.5
        ("64:ff9b::8efa:4a2a", True),
    ],
)
def test_what_counts_as_a_public_address(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_resolution_is_bounded_by_the_timeout() -> None:
    # A stand-in for getaddrinfo: no real resolver can be made to hang on demand here.
    release = threading.Event()

    def hanging(*args: object, **kwargs: object) -> list[object]:
        release.wait(10)
        return []

    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            resolve_host("push.example", 443, timeout=0.2, getaddrinfo=hanging)
    finally:
        release.set()
    assert time.monotonic() - started < 2


def test_a_slow_resolution_is_unavailable_not_dead(
    harness: WebPushHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The resolver hangs (a stand-in: see above): the channel gives up within its timeout
    # with a transient error, and sends nothing.
    release = threading.Event()

    def hanging(*args: object, **kwargs: object) -> list[object]:
        release.wait(10)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    channel = another_channel(harness, allow_loopback_http="false", timeout="0.3")
    text = _subscription(harness, endpoint="https://push.example/push/abc")
    try:
        with pytest.raises(ChannelUnavailable, match="did not resolve"):
            channel.send(Notification("push", text, TEXT, key="slow-dns:1"))
    finally:
        release.set()
        channel.close()
