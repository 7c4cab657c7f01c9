"""The FCM channel against the FCM simulator, over real loopback connections.

The message as FCM receives it, the OAuth2 token exchange (cached, refreshed before it
ends, fetched anew once on a 401), each documented error answer mapped to the channel's
errors, and the settings.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pes_sdk_fcm import FcmFactory, build_message
from pes_sdk_fcm.auth import GRANT_TYPE, SCOPE
from pes_sdk_fcm.simulator import CLIENT_EMAIL, FcmHarness, device_token

from pes_sdk.errors import ConfigError
from pes_sdk.http import HttpClient
from pes_sdk.notifications import (
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
)

TEXT = "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть»"


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[FcmHarness]:
    with FcmHarness(tmp_path, timeout=1.0) as h:
        yield h


def push(to: str, **extra: object) -> Notification:
    return Notification("push", to, TEXT, **extra)  # type: ignore[arg-type]


# -- the message ---------------------------------------------------------------------------


def settings_error(harness: FcmHarness, **change: str) -> ChannelError:
    """What a push raises through a channel built with the harness's settings and
    ``change`` (the harness's own channel when no change): a plain :class:`ChannelError`,
    the settings' fault, neither a dead token nor a temporary failure."""
    channel = FcmFactory().create({**harness.settings, **change}) if change else harness.channel
    try:
        with pytest.raises(ChannelError) as caught:
            channel.send(push(harness.recipient))
    finally:
        if change:
            channel.close()
    assert type(caught.value) is ChannelError, "no token may be deleted for the settings' fault"
    return caught.value


def test_message_arrives_as_fcm_expects(harness: FcmHarness) -> None:
    notification = push(
        harness.recipient,
        title="Начисление за ноябрь",
        image="https://cdn.example.ru/campaigns/42/banner.png",
        buttons=(
            Button("Оплатить", "https://pay.example.ru/pay?account=0000123"),
            Button("Подробнее", "https://example.ru/news/42"),
        ),
        data={"campaign": "42", "screen": "оплата"},
        collapse="charges-2026-11",
        key="campaign:42/client:1017/device:88",
    )
    result = harness.channel.send(notification)
    image = "https://cdn.example.ru/campaigns/42/banner.png"
    assert harness.simulator.messages == [
        {
            "token": harness.recipient,
            "notification": {"title": "Начисление за ноябрь", "body": TEXT, "image": image},
            "data": {
                "campaign": "42",
                "screen": "оплата",
                "button_count": "2",
                "button_1_label": "Оплатить",
                "button_1_url": "https://pay.example.ru/pay?account=0000123",
                "button_2_label": "Подробнее",
                "button_2_url": "https://example.ru/news/42",
            },
            "android": {"collapse_key": "charges-2026-11", "notification": {"image": image}},
            "apns": {
                "headers": {"apns-collapse-id": "charges-2026-11"},
                "payload": {"aps": {"mutable-content": 1}},
                "fcm_options": {"image": image},
            },
        }
    ]
    # Cyrillic travels as UTF-8, not as \u escapes, and comes back whole
    (raw,) = harness.simulator.raw
    assert TEXT.encode("utf-8") in raw and "Оплатить".encode() in raw
    assert result.message_id.startswith("0:")
    assert build_message(notification) == {"message": harness.simulator.messages[0]}


def test_text_only_message_has_no_empty_parts(harness: FcmHarness) -> None:
    harness.channel.send(push(harness.recipient))
    assert harness.simulator.messages == [
        {"token": harness.recipient, "notification": {"body": TEXT}}
    ]


def test_reserved_data_key_is_refused_before_sending(harness: FcmHarness) -> None:
    for key in ("from", "google.c.a", "button_1_label"):
        with pytest.raises(ChannelError) as caught:
            harness.channel.send(push(harness.recipient, data={key: "x"}))
        assert caught.value.code == "data"
        assert not isinstance(caught.value, ChannelUnavailable | RecipientRefused)
    assert harness.simulator.requests == 0


# -- the access token ----------------------------------------------------------------------


def test_access_token_is_cached(harness: FcmHarness) -> None:
    for _ in range(3):
        harness.channel.send(push(harness.recipient))
    assert harness.simulator.token_exchanges == 1
    assert harness.simulator.requests == 3


def test_threads_share_one_token_and_one_channel(harness: FcmHarness) -> None:
    # a campaign sends from a pool of threads: one exchange, every message once
    def send(worker: int) -> None:
        for i in range(5):
            harness.channel.send(push(harness.recipient, key=f"campaign:1/client:{worker}/{i}"))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert harness.simulator.token_exchanges == 1
    assert len(harness.simulator.messages) == 40


def test_channel_speaks_http2_where_offered_and_http1_elsewhere(tmp_path: Path) -> None:
    # FCM offers HTTP/2 over TLS (ALPN); the plain loopback simulator HTTP/1.1 only
    (tmp_path / "tls").mkdir()
    (tmp_path / "plain").mkdir()
    with FcmHarness(tmp_path / "tls", tls=True) as tls:
        tls.channel.send(push(tls.recipient))
        assert tls.settings["endpoint"].startswith("https://")
        assert tls.simulator.http_versions == {"2": 2}  # the token exchange and the send
    with FcmHarness(tmp_path / "plain") as plain:
        plain.channel.send(push(plain.recipient))
        assert plain.simulator.http_versions == {"1.1": 2}


def test_many_threads_over_http2_each_message_once_and_none_lost(tmp_path: Path) -> None:
    # The runner's sender hands a campaign's pushes to many threads at once. httpx's sync
    # client loses track of an HTTP/2 connection shared between threads (KeyError,
    # StreamIDTooLowError, a send failed or repeated): the channel must not share one.
    threads, each = 16, 30
    failures: list[BaseException] = []
    with FcmHarness(tmp_path, timeout=5.0, tls=True) as harness:

        def send(worker: int) -> None:
            for i in range(each):
                try:
                    harness.channel.send(
                        push(device_token(worker * 1000 + i), key=f"c:{worker}/{i}")
                    )
                except Exception as exc:  # collected: the assertion below names them
                    failures.append(exc)

        pool = [threading.Thread(target=send, args=(w,)) for w in range(threads)]
        # threads switched every few microseconds rather than every 5 ms: what a busy
        # machine does now and then, here every time
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        try:
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join(60)
        finally:
            sys.setswitchinterval(interval)
        assert failures == []
        tokens = [m["token"] for m in harness.simulator.messages]
        assert len(tokens) == len(set(tokens)) == threads * each
        assert set(harness.simulator.http_versions) == {"2"}
        assert harness.simulator.requests == threads * each  # none sent twice


def test_access_token_refreshed_before_it_ends(tmp_path: Path) -> None:
    # tokens good for 2 s: the channel fetches a new one past half of that, before FCM
    # would refuse the old one
    with FcmHarness(tmp_path, token_lifetime=2) as harness:
        harness.channel.send(push(harness.recipient))
        time.sleep(1.2)
        harness.channel.send(push(harness.recipient))
        assert harness.simulator.token_exchanges == 2
        assert harness.simulator.requests == 2, "no 401 on the way: refreshed in advance"


def test_401_fetches_a_new_token_once_and_sends_again(harness: FcmHarness) -> None:
    harness.channel.send(push(harness.recipient))
    harness.simulator.revoke_tokens()
    result = harness.channel.send(push(harness.recipient))
    assert result.message_id
    assert harness.simulator.token_exchanges == 2
    assert harness.simulator.requests == 3  # the refused one, and its one repeat
    assert len(harness.simulator.messages) == 2


def test_401_twice_is_a_settings_error(harness: FcmHarness) -> None:
    harness.simulator.fail_always("unauthenticated")
    error = settings_error(harness)
    assert error.code == "UNAUTHENTICATED"
    assert harness.simulator.requests == 2, "one repeat, never more"
    assert harness.simulator.token_exchanges == 2


def test_third_party_auth_error_is_not_retried(harness: FcmHarness) -> None:
    # a 401 about the APNs credentials in the Firebase project: a new token cannot help
    harness.simulator.fail_next("third-party-auth")
    error = settings_error(harness)
    assert error.code == "THIRD_PARTY_AUTH_ERROR"
    assert harness.simulator.requests == 1
    assert harness.simulator.token_exchanges == 1


def test_key_the_token_endpoint_refuses(tmp_path: Path, harness: FcmHarness) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = harness.simulator.service_account()
    info["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_file = tmp_path / "other.json"
    key_file.write_text(json.dumps(info))
    error = settings_error(harness, service_account_file=str(key_file))
    assert error.code == "invalid_grant"
    assert harness.simulator.requests == 0
    assert info["private_key"].splitlines()[1] not in str(error)


# -- FCM's answers -------------------------------------------------------------------------


def test_unregistered_token_is_dead(harness: FcmHarness) -> None:
    harness.simulator.unregister(harness.recipient)
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push(harness.recipient))
    assert caught.value.code == "UNREGISTERED"
    assert harness.simulator.requests == 1


def test_malformed_token_is_dead(harness: FcmHarness) -> None:
    # FCM answers 400 INVALID_ARGUMENT "not a valid FCM registration token": its token guide
    # asks senders to delete such tokens, as UNREGISTERED ones
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push("not-a-token"))
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "not-a-token" not in str(caught.value)


def test_invalid_argument_about_the_message_is_refused_not_dead(harness: FcmHarness) -> None:
    harness.simulator.fail_next("invalid-argument")
    with pytest.raises(RecipientRefused) as caught:
        harness.channel.send(push(harness.recipient))
    assert not isinstance(caught.value, DeadRecipient)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "message.android.ttl" in str(caught.value)


def test_sender_id_mismatch_is_refused(harness: FcmHarness) -> None:
    harness.simulator.fail_next("sender-id-mismatch")
    with pytest.raises(RecipientRefused) as caught:
        harness.channel.send(push(harness.recipient))
    assert not isinstance(caught.value, DeadRecipient)
    assert caught.value.code == "SENDER_ID_MISMATCH"


@pytest.mark.parametrize(
    ("fault", "code", "retry_after"),
    [
        ("quota", "QUOTA_EXCEEDED", 30),
        ("unavailable", "UNAVAILABLE", 5),
        ("internal", "INTERNAL", None),
    ],
)
def test_throttled_and_failing_fcm_is_unavailable(
    harness: FcmHarness, fault: str, code: str, retry_after: int | None
) -> None:
    harness.simulator.fail_next(fault, retry_after=retry_after)
    with pytest.raises(ChannelUnavailable) as caught:
        harness.channel.send(push(harness.recipient))
    assert caught.value.code == code
    assert caught.value.retry_after == retry_after
    assert harness.simulator.requests == 1


def test_wrong_project_is_a_settings_error_not_a_dead_token(harness: FcmHarness) -> None:
    error = settings_error(harness, project_id="someone-elses")
    assert error.code == "PERMISSION_DENIED"


def test_stalled_fcm_is_unavailable_within_the_timeout(harness: FcmHarness) -> None:
    harness.simulator.fail_next("stall")
    try:
        with pytest.raises(ChannelUnavailable) as caught:
            harness.channel.send(push(harness.recipient))
    finally:
        harness.heal()
    assert caught.value.code == "timeout"


def test_nothing_secret_in_the_debug_log(
    harness: FcmHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.channel.send(push(harness.recipient))
    harness.simulator.revoke_tokens()
    harness.channel.send(push(harness.recipient))  # a 401, a new token, a repeat
    harness.simulator.unregister(harness.recipient)
    with pytest.raises(DeadRecipient) as caught:
        harness.channel.send(push(harness.recipient))
    assert len(harness.simulator.issued_tokens) == 2
    shown = caplog.text + repr(harness.channel) + str(caught.value) + repr(caught.value)
    assert "POST" in caplog.text  # the log is on, and names the calls
    for secret in (harness.recipient, *harness.secrets):
        assert secret not in shown


# -- the simulator is as strict as FCM -----------------------------------------------------


def _post(harness: FcmHarness, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    token = harness.channel.tokens.get()
    with HttpClient(harness.simulator.endpoint, timeout=2.0) as client:
        answer = client.send(
            "POST",
            f"/v1/projects/{harness.simulator.project_id}/messages:send",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    result: dict[str, object] = answer.json()
    return answer.status, result


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"notification": {"body": "x", "subtitle": "y"}}, "message.notification"),
        ({"data": {"n": 1}}, "message.data[0].value"),
        ({"android": {"ttl": "3600"}}, "message.android.ttl"),
        ({"android": {"priority": "URGENT"}}, "message.android.priority"),
        ({"data": {"from": "x"}}, "message.data"),
        ({"data": {"big": "я" * 2100}}, "message"),
        ({"topic": "news"}, "message"),
    ],
)
def test_simulator_refuses_what_fcm_refuses(
    harness: FcmHarness, message: dict[str, object], field: str
) -> None:
    status, answer = _post(harness, {"message": {"token": harness.recipient, **message}})
    assert status == 400
    error = answer["error"]
    assert isinstance(error, dict) and error["status"] == "INVALID_ARGUMENT"
    (detail,) = error["details"]
    assert detail["fieldViolations"][0]["field"] == field
    assert harness.simulator.messages == []


def test_simulator_checks_the_assertion(harness: FcmHarness) -> None:
    key = serialization.load_pem_private_key(
        harness.simulator.service_account()["private_key"].encode(), password=None
    )
    now = int(time.time())
    good = {
        "iss": CLIENT_EMAIL,
        "scope": SCOPE,
        "aud": harness.simulator.token_uri,
        "iat": now,
        "exp": now + 3600,
    }
    cases = {
        "invalid_scope": {**good, "scope": "https://www.googleapis.com/auth/cloud-platform"},
        "invalid_grant": {**good, "exp": now + 7200},
    }
    with HttpClient(harness.simulator.root_url, timeout=2.0) as client:
        for expected, claims in [*cases.items(), ("invalid_grant", {**good, "aud": "x"})]:
            assertion = jwt.encode(claims, key, algorithm="RS256")  # type: ignore[arg-type]
            answer = client.send(
                "POST",
                "/token",
                content=f"grant_type={GRANT_TYPE}&assertion={assertion}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert (answer.status, answer.json()["error"]) == (400, expected)
    assert harness.simulator.issued_tokens == []


def test_device_tokens_are_shaped_as_fcm_s() -> None:
    assert device_token(1) != device_token(2)
    assert len(device_token(1)) > 140 and ":" in device_token(1)


# -- settings ------------------------------------------------------------------------------


def test_settings_are_checked(tmp_path: Path, harness: FcmHarness) -> None:
    factory = FcmFactory()
    key = harness.settings["service_account_file"]
    with pytest.raises(ConfigError, match="service_account_file"):
        factory.create({})
    with pytest.raises(ConfigError, match="unknown 'api_key'"):
        factory.create({"service_account_file": key, "api_key": "x"})
    with pytest.raises(ConfigError, match="cannot read"):
        factory.create({"service_account_file": str(tmp_path / "missing.json")})
    with pytest.raises(ConfigError, match="endpoint"):
        factory.create({"service_account_file": key, "endpoint": "http://fcm.example.ru"})
    with pytest.raises(ConfigError, match="timeout"):
        factory.create({"service_account_file": key, "timeout": "0"})
    broken = tmp_path / "broken.json"
    info = harness.simulator.service_account()
    for change, message in [
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "PEM"),
        ({"type": "authorized_user"}, "service_account"),
        ({"client_email": ""}, "client_email"),
        ({"token_uri": "http://oauth2.example.com/token"}, "token_uri"),
    ]:
        broken.write_text(json.dumps({**info, **change}))
        with pytest.raises(ConfigError, match=message) as caught:
            factory.create({"service_account_file": str(broken)})
        assert info["private_key"].splitlines()[1] not in str(caught.value)
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not a JSON"):
        factory.create({"service_account_file": str(broken)})


def test_repr_shows_no_key(harness: FcmHarness) -> None:
    shown = repr(harness.channel) + repr(harness.channel.tokens)
    assert "pes-push-demo" in shown
    for secret in harness.secrets:
        assert secret not in shown
