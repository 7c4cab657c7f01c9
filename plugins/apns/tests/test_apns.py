"""The APNs channel against the simulator over real loopback HTTP/2 and TLS.

What APNs demands of a provider (headers, payload, the provider token and its lifetime,
HTTP/2) and how its answers become the kit's errors. The simulator checks the request as
APNs does; these tests also look at what it received.
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from pathlib import Path

import jwt
import pytest
from pes_sdk_apns import (
    ApnsChannel,
    ApnsConfigurationError,
    ApnsDeadToken,
    ApnsFactory,
    ApnsPayloadTooLarge,
    ApnsSimulator,
)
from pes_sdk_apns.protocol import MAX_PAYLOAD_BYTES, TOKEN_LIFETIME, build_payload, encode_payload
from pes_sdk_apns.simulator import ManualClock

from pes_sdk.errors import ConfigError
from pes_sdk.http import HttpClient
from pes_sdk.notifications import (
    Button,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
    key_uuid,
)

TEXT = "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть». Оплатите до 25-го"
TITLE = "Начисление за ноябрь"


def push(sim: ApnsSimulator, **extra: object) -> Notification:
    fields: dict[str, object] = {"key": f"test:{uuid.uuid4().hex}"}
    fields.update(extra)
    return Notification("push", sim.recipient, TEXT, **fields)  # type: ignore[arg-type]


# -- the request ---------------------------------------------------------------------------


def test_request_is_http2_with_apns_headers_and_payload(
    sim: ApnsSimulator, clock: ManualClock
) -> None:
    notification = push(
        sim,
        key="campaign:42/client:1017/device:88",
        title=TITLE,
        image="https://cdn.example.ru/campaigns/42/баннер.png",
        buttons=(
            Button("Оплатить", "https://pay.example.ru/pay?account=0000123"),
            Button("Подробнее", "https://example.ru/news/42"),
        ),
        data={"campaign": "42", "screen": "оплата"},
        collapse="charges-2026-11",
    )
    result = sim.channel.send(notification)

    (got,) = sim.accepted
    assert got.http_version == "2"
    assert sim.http_versions == ["2"]
    assert got.token == sim.recipient
    expected_id = str(key_uuid("campaign:42/client:1017/device:88"))
    assert result.message_id == expected_id == got.apns_id
    headers = dict(got.headers)
    assert headers.pop("authorization").startswith("bearer ")
    assert {k: v for k, v in headers.items() if k.startswith("apns-")} == {
        "apns-topic": "ru.example.zhkh",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(int(clock.now) + 86400),
        "apns-id": expected_id,
        "apns-collapse-id": "charges-2026-11",
    }
    # Cyrillic arrives as sent, and the payload is exactly what the README promises
    assert got.payload == {
        "aps": {
            "alert": {"title": TITLE, "body": TEXT},
            "mutable-content": 1,
            "category": "PES_LINKS_2",
        },
        "image": "https://cdn.example.ru/campaigns/42/баннер.png",
        "buttons": [
            {
                "id": "button-0",
                "label": "Оплатить",
                "url": "https://pay.example.ru/pay?account=0000123",
            },
            {"id": "button-1", "label": "Подробнее", "url": "https://example.ru/news/42"},
        ],
        "data": {"campaign": "42", "screen": "оплата"},
    }


def test_plain_notification_has_only_the_alert(sim: ApnsSimulator) -> None:
    sim.channel.send(push(sim))
    (got,) = sim.accepted
    assert got.payload == {"aps": {"alert": {"body": TEXT}}}
    assert "apns-collapse-id" not in got.headers


def test_ttl_zero_is_now_or_never(sim: ApnsSimulator) -> None:
    sim.make_channel(ttl="0").send(push(sim))
    assert sim.accepted[0].headers["apns-expiration"] == "0"


def test_same_key_same_apns_id(sim: ApnsSimulator) -> None:
    # two channel objects (two processes, or one restarted): each sends, APNs sees one id
    first = sim.make_channel().send(push(sim, key="trigger:charges/client:7/device:3"))
    again = sim.make_channel().send(push(sim, key="trigger:charges/client:7/device:3"))
    other = sim.make_channel().send(push(sim, key="trigger:charges/client:7/device:4"))
    assert first.message_id == again.message_id != other.message_id
    assert [r.apns_id for r in sim.accepted] == [
        first.message_id,
        first.message_id,
        other.message_id,
    ]


def test_same_key_twice_on_one_channel_is_one_request(sim: ApnsSimulator) -> None:
    notification = push(sim)
    assert sim.channel.send(notification) == sim.channel.send(notification)
    assert sim.requests() == 1


# -- the provider token --------------------------------------------------------------------


def test_provider_token_is_apples_es256_jwt(sim: ApnsSimulator, clock: ManualClock) -> None:
    sim.channel.send(push(sim))
    (token,) = sim.tokens_seen
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": sim.key_id}
    claims = jwt.decode(token, sim.public_key, algorithms=["ES256"], options={"verify_iat": False})
    assert claims == {"iss": sim.team_id, "iat": int(clock.now)}


def test_token_reused_within_its_lifetime_and_refreshed_after(
    sim: ApnsSimulator, clock: ManualClock
) -> None:
    channel = sim.channel
    channel.send(push(sim))
    clock.advance(TOKEN_LIFETIME - 1)
    channel.send(push(sim))
    assert len(set(sim.tokens_seen)) == 1, "a token under 50 minutes old is reused"
    clock.advance(1)
    channel.send(push(sim))
    clock.advance(60)
    channel.send(push(sim))
    first, second, third, fourth = sim.tokens_seen
    assert first == second != third == fourth
    assert channel.token.made == 2
    # the simulator enforces APNs' rules: none was too old, none replaced too soon
    assert sim.received() == 4


def test_simulator_refuses_a_token_over_an_hour_old(sim: ApnsSimulator, clock: ManualClock) -> None:
    # a channel whose clock lags the simulator's by 61 minutes makes tokens APNs calls
    # expired; it makes one more and retries once, then says the clock is wrong
    lagging = ManualClock(clock.now - 3660)
    channel = sim.make_channel(clock=lagging)
    with pytest.raises(ApnsConfigurationError) as caught:
        channel.send(push(sim))
    assert caught.value.code == "ExpiredProviderToken"
    assert "clock" in str(caught.value)
    assert sim.requests() == 2, "one retry with a new token, no more"
    assert sim.received() == 0


def test_expired_provider_token_is_refreshed_and_retried_once(
    sim: ApnsSimulator, clock: ManualClock
) -> None:
    channel = sim.channel
    channel.send(push(sim))
    sim.expire_token_once()
    result = channel.send(push(sim))
    assert result.message_id
    assert sim.requests() == 3
    assert sim.received() == 2
    first, refused, fresh = sim.tokens_seen
    assert first == refused != fresh
    assert channel.token.made == 2


def test_threads_sending_at_once_each_message_accepted_exactly_once(sim: ApnsSimulator) -> None:
    # The runner sends batches in parallel threads through one channel (concurrent_sends):
    # sharing one sync HTTP/2 connection lost or doubled messages (encode/httpx#3072).
    channel = sim.channel
    assert channel.concurrent_sends
    failures: list[BaseException] = []
    ids: dict[str, str] = {}

    def work(n: int) -> None:
        try:
            for i in range(40):
                key = f"test:{n}:{i}"
                ids[key] = channel.send(push(sim, key=key)).message_id
        except BaseException as exc:  # collected: an assert in a thread is lost
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    accepted = [r.apns_id for r in sim.accepted]
    assert sorted(accepted) == sorted(ids.values()) and len(set(accepted)) == 12 * 40
    assert set(sim.http_versions) == {"2"}


def test_refresh_is_shared_by_threads_refused_at_once(sim: ApnsSimulator) -> None:
    token = sim.channel.token
    stale = token.bearer()
    fresh = token.refresh(stale)
    assert fresh != stale
    assert token.refresh(stale) == fresh, "a second thread refused with `stale` gets `fresh`"
    assert token.made == 2


def test_wrong_key_or_ids_are_configuration_errors(sim: ApnsSimulator, p8_file: str) -> None:
    for name, value in (("key_id", "AAAAAAAAAA"), ("team_id", "BBBBBBBBBB"), ("key_file", p8_file)):
        before = sim.requests()
        channel = ApnsChannel(
            ApnsFactory().create(sim.settings(**{name: value})).settings, clock=sim.clock
        )
        with pytest.raises(ApnsConfigurationError) as caught:
            channel.send(push(sim))
        channel.close()
        assert caught.value.code == "InvalidProviderToken", name
        assert sim.requests() == before + 1, "never retried"
    with pytest.raises(ApnsConfigurationError) as caught:
        sim.make_channel(bundle_id="ru.example.other").send(push(sim))
    assert caught.value.code == "TopicDisallowed"


# -- answers -------------------------------------------------------------------------------


def test_unregistered_token_is_dead(sim: ApnsSimulator, clock: ManualClock) -> None:
    sim.kill(sim.recipient)
    with pytest.raises(ApnsDeadToken) as caught:
        sim.channel.send(push(sim))
    assert isinstance(caught.value, DeadRecipient)
    assert caught.value.code == "Unregistered"
    assert caught.value.unregistered_at is not None
    assert caught.value.unregistered_at.timestamp() == pytest.approx(clock.now, abs=0.01)


def test_bad_device_token_is_dead_once_the_environment_is_proven(sim: ApnsSimulator) -> None:
    other = Notification("push", "ab" * 32, TEXT, key=f"test:{uuid.uuid4().hex}")
    sim.channel.send(other)  # accepted: this endpoint knows the app's tokens
    sim.kill(sim.recipient, "BadDeviceToken")
    with pytest.raises(DeadRecipient) as caught:
        sim.channel.send(push(sim))
    assert caught.value.code == "BadDeviceToken"


def test_bad_device_token_before_any_success_is_refused_not_dead(sim: ApnsSimulator) -> None:
    # A channel set to the wrong environment hears BadDeviceToken for every token; taking
    # them as dead would have the runner delete every iOS device.
    tokens = [sim.recipient, *(f"{n:02x}" * 32 for n in range(3))]
    for token in tokens:
        sim.kill(token, "BadDeviceToken")
    channel = sim.channel
    for token in tokens:
        with pytest.raises(RecipientRefused) as caught:
            channel.send(Notification("push", token, TEXT, key=f"test:{uuid.uuid4().hex}"))
        assert not isinstance(caught.value, DeadRecipient)
        assert caught.value.code == "BadDeviceToken"
        assert "environment" in str(caught.value) and "sandbox" in str(caught.value)
        assert token not in str(caught.value)
    channel.send(Notification("push", "cd" * 32, TEXT))  # the environment proves right
    with pytest.raises(DeadRecipient):
        channel.send(Notification("push", tokens[1], TEXT, key=f"test:{uuid.uuid4().hex}"))


def test_a_token_that_is_not_hex_is_dead_without_a_request(sim: ApnsSimulator) -> None:
    for token in ("not-a-token", "ab/../../3/device/cd" * 3, "0123456789abcdef?x=1"):
        with pytest.raises(DeadRecipient):
            sim.channel.send(Notification("push", token, TEXT))
    assert sim.requests() == 0


def test_token_for_another_app_is_refused_not_dead(sim: ApnsSimulator) -> None:
    sim.fail_next("refused")
    with pytest.raises(RecipientRefused) as caught:
        sim.channel.send(push(sim))
    assert not isinstance(caught.value, DeadRecipient)
    assert caught.value.code == "DeviceTokenNotForTopic"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("throttled", "TooManyRequests"),
        ("unavailable", "ServiceUnavailable"),
        ("shutdown", "Shutdown"),
        ("internal", "InternalServerError"),
    ],
)
def test_throttled_and_failing_are_unavailable(sim: ApnsSimulator, fault: str, code: str) -> None:
    sim.fail_next(fault, retry_after=30)
    with pytest.raises(ChannelUnavailable) as caught:
        sim.channel.send(push(sim))
    assert caught.value.code == code
    assert caught.value.retry_after == 30
    assert sim.requests() == 1


def test_payload_over_4096_bytes_is_refused_before_sending(sim: ApnsSimulator) -> None:
    notification = push(sim, data={"filler": "ж" * 2100})
    with pytest.raises(ApnsPayloadTooLarge) as caught:
        sim.channel.send(notification)
    assert caught.value.size is not None and caught.value.size > MAX_PAYLOAD_BYTES
    assert caught.value.code == "PayloadTooLarge"
    assert sim.requests() == 0


def test_payload_of_exactly_4096_bytes_is_sent(sim: ApnsSimulator) -> None:
    base = len(encode_payload(build_payload(push(sim, data={"filler": ""}), category="X")))
    notification = push(sim, data={"filler": "z" * (MAX_PAYLOAD_BYTES - base)})
    sim.channel.send(notification)
    assert sim.accepted[0].size == MAX_PAYLOAD_BYTES


def test_413_from_apns_is_payload_too_large(sim: ApnsSimulator) -> None:
    sim.fail_next("payload-too-large")
    with pytest.raises(ApnsPayloadTooLarge) as caught:
        sim.channel.send(push(sim))
    assert caught.value.size is None


def test_a_server_that_never_answers_is_unavailable_within_the_timeout(
    sim: ApnsSimulator,
) -> None:
    channel = sim.make_channel(timeout="0.5")
    sim.fail_next("stall")
    try:
        with pytest.raises(ChannelUnavailable) as caught:
            channel.send(push(sim))
    finally:
        sim.heal()
    assert caught.value.code == "timeout"
    # the HTTP error (which names the path, and so the device token) is not chained
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_server_speaking_http11_is_not_apns(tmp_path: Path) -> None:
    with ApnsSimulator(tmp_path, offer_http2=False) as sim:
        with pytest.raises(ApnsConfigurationError, match="HTTP/2 only"):
            sim.channel.send(push(sim))
        assert sim.http_versions == ["1.1"]


def test_simulator_refuses_http11(sim: ApnsSimulator) -> None:
    context = ssl.create_default_context(cafile=str(sim.ca_file))
    with HttpClient(sim.endpoint, timeout=5, http2=False, verify=context) as client:
        answer = client.send("POST", f"/3/device/{sim.recipient}", content=b"{}")
    assert answer.http_version == "HTTP/1.1"
    assert answer.status == 505
    assert answer.json() == {"reason": "HTTP2Required"}


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"apns-id": "not-a-uuid"}, 400, "BadMessageId"),
        ({"apns-topic": ""}, 400, "MissingTopic"),
        ({"apns-priority": "7"}, 400, "BadPriority"),
        ({"apns-push-type": "banner"}, 400, "InvalidPushType"),
        ({"apns-expiration": "tomorrow"}, 400, "BadExpirationDate"),
        ({"apns-collapse-id": "c" * 65}, 400, "BadCollapseId"),
        ({"authorization": ""}, 403, "MissingProviderToken"),
        ({"authorization": "bearer e30.e30.AAAA"}, 403, "InvalidProviderToken"),
    ],
)
def test_simulator_checks_requests_as_apns_does(
    sim: ApnsSimulator, change: dict[str, str], status: int, reason: str
) -> None:
    headers = {
        "authorization": f"bearer {sim.channel.token.bearer()}",
        "apns-topic": sim.topic,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": "0",
        "apns-id": str(uuid.uuid4()),
    }
    headers.update(change)
    headers = {k: v for k, v in headers.items() if v}
    context = ssl.create_default_context(cafile=str(sim.ca_file))
    body = b'{"aps":{"alert":{"body":"x"}}}'
    with HttpClient(sim.endpoint, timeout=5, http2=True, verify=context) as client:
        answer = client.send("POST", f"/3/device/{sim.recipient}", content=body, headers=headers)
    assert (answer.status, answer.json()["reason"]) == (status, reason)


def test_simulator_refuses_a_token_replaced_too_soon(
    sim: ApnsSimulator, clock: ManualClock
) -> None:
    channel = sim.channel
    channel.send(push(sim))
    clock.advance(60)
    channel.token.refresh(channel.token.bearer())  # a provider refreshing every minute
    with pytest.raises(ChannelUnavailable) as caught:
        channel.send(push(sim))
    assert caught.value.code == "TooManyProviderTokenUpdates"


# -- secrets and personal data -------------------------------------------------------------


def test_no_token_or_secret_in_logs_repr_or_errors(
    sim: ApnsSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = sim.channel
    errors: list[BaseException] = []
    channel.send(push(sim, title=TITLE))
    sim.expire_token_once()
    channel.send(push(sim))
    for fault in ("refused", "dead", "throttled", "unavailable", "invalid-provider-token"):
        sim.fail_next(fault)
        try:
            channel.send(push(sim))
        except Exception as exc:
            errors.append(exc)
    sim.kill(sim.recipient, "BadDeviceToken")
    try:
        channel.send(push(sim))
    except Exception as exc:
        errors.append(exc)
    assert len(errors) == 6
    hidden = [sim.recipient, *sim.tokens_seen, *sim.secrets]
    shown = [caplog.text, repr(channel), str(channel), repr(channel.settings)]
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    for value in hidden:
        for text in shown:
            assert value not in text
    # the HTTP stack did log the requests, with the token hidden: the filter is at work
    assert "/3/device/…" in caplog.text


def test_factory_errors_never_show_the_key(tmp_path: Path, p8_file: str) -> None:
    base = {"team_id": "5QX8Z2K7LM", "key_id": "9R4T7WQ2HB", "bundle_id": "ru.example.zhkh"}
    secret = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-secret-material"
    broken = tmp_path / "broken.p8"
    broken.write_text(f"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError) as caught:
        ApnsFactory().create({**base, "key_file": str(broken)})
    assert secret not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_factory_reads_the_key_from_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch, p8_file: str
) -> None:
    one_line = Path(p8_file).read_text().replace("\n", "\\n")
    monkeypatch.setenv("APNS_KEY", one_line)
    channel = ApnsFactory().create(
        {
            "team_id": "5QX8Z2K7LM",
            "key_id": "9R4T7WQ2HB",
            "key_env": "APNS_KEY",
            "bundle_id": "ru.example.zhkh",
            "environment": "sandbox",
        }
    )
    assert channel.settings.endpoint == "https://api.sandbox.push.apple.com"
    assert one_line[40:80] not in repr(channel)
    channel.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"team_id": ""}, "'team_id'"),
        ({"key_id": "short"}, "'key_id'"),
        ({"key_file": ""}, "'key_file' .* or 'key_env'"),
        ({"key_env": "APNS_KEY"}, "'key_file' .* or 'key_env'"),
        ({"bundle_id": ""}, "'bundle_id'"),
        ({"environment": "staging"}, "production or sandbox"),
        ({"endpoint": "http://127.0.0.1:1"}, "https://"),
        ({"timeout": "0"}, "'timeout'"),
        ({"ttl": "1.5"}, "'ttl'"),
        ({"category": "a b"}, "'category'"),
        ({"ca_file": "/nonexistent.pem"}, "'ca_file'"),
        ({"password": "x"}, "unknown 'password'"),
    ],
)
def test_factory_names_the_wrong_setting(
    p8_file: str, change: dict[str, str], message: str
) -> None:
    settings = {
        "team_id": "5QX8Z2K7LM",
        "key_id": "9R4T7WQ2HB",
        "key_file": p8_file,
        "bundle_id": "ru.example.zhkh",
    }
    settings.update(change)
    with pytest.raises(ConfigError, match=message):
        ApnsFactory().create(settings)


def test_create_touches_no_network(p8_file: str) -> None:
    # nothing listens on port 1: a channel that connected when built would fail here
    channel = ApnsFactory().create(
        {
            "team_id": "5QX8Z2K7LM",
            "key_id": "9R4T7WQ2HB",
            "key_file": p8_file,
            "bundle_id": "ru.example.zhkh",
            "endpoint": "https://127.0.0.1:1",
        }
    )
    channel.close()
