"""The SMSC channel against the SMSC simulator, over real loopback connections."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from pes_sdk_smsc import SmscFactory, message_id
from pes_sdk_smsc.simulator import API_KEY, LOGIN, PASSWORD, SmscHarness, SmscSimulator

from pes_sdk.errors import ConfigError
from pes_sdk.http import HttpClient
from pes_sdk.notifications import (
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
    send_with_retries,
)

PHONE = "+79161234567"
TEXT = "Начислено 1 234,56 руб. за ноябрь — ООО «Теплосеть». Оплатите до 25-го числа"
CODE = "Код для входа: 4821. Никому не сообщайте его."


@pytest.fixture
def harness() -> Iterator[SmscHarness]:
    with SmscHarness(timeout=1.0, recipient=PHONE) as h:
        yield h


def sms(
    text: str = TEXT, *, to: str = PHONE, key: str = "trigger:charges/client:1017"
) -> Notification:
    return Notification("sms", to, text, key=key)


def other(harness: SmscHarness, **settings: str) -> object:
    return SmscFactory().create({**harness.settings, **settings})


def test_cyrillic_round_trip(harness: SmscHarness) -> None:
    notification = sms()
    result = harness.channel.send(notification)
    (message,) = harness.simulator.messages
    assert message.text == TEXT  # decoded as SMSC would: charset=utf-8 was sent
    assert (message.phone, message.sender, message.charset) == (PHONE, "ZhKH-Oplata", "utf-8")
    assert message.parts == 2  # 79 characters of UCS-2: 67 + 12
    assert message.id == result.message_id == message_id(notification.key)
    assert len(message.id) == 32


def test_credentials_travel_in_the_body_not_the_query(harness: SmscHarness) -> None:
    harness.channel.send(sms())
    assert harness.simulator.calls == [("POST", "/sys/send.php", "")]


def test_login_and_password_as_the_runner_hands_them(harness: SmscHarness) -> None:
    # [cabinet] sms.secrets_env = { password = "…" }: the runner passes the value itself
    settings = {k: v for k, v in harness.settings.items() if k != "api_key_env"}
    channel = SmscFactory().create({**settings, "login": LOGIN, "password": PASSWORD})
    try:
        channel.send(sms(CODE))
    finally:
        channel.close()
    assert [m.text for m in harness.simulator.messages] == [CODE]
    assert PASSWORD not in repr(channel)


def test_wrong_api_key_blames_nobody(harness: SmscHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PES_OTHER_KEY", "a-revoked-key")
    channel = SmscFactory().create({**harness.settings, "api_key_env": "PES_OTHER_KEY"})
    try:
        with pytest.raises(ChannelError) as caught:
            channel.send(sms())
    finally:
        channel.close()
    assert type(caught.value) is ChannelError  # not a recipient's fault, not "later"
    assert caught.value.code == "2"
    assert "a-revoked-key" not in str(caught.value)
    assert harness.simulator.requests == 1


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("parameters", ChannelError, "1"),
        ("no-money", ChannelUnavailable, "3"),
        ("ip-blocked", ChannelUnavailable, "4"),
        ("date", ChannelError, "5"),
        ("denied", ChannelError, "6"),
        ("invalid-number", DeadRecipient, "7"),
        ("cannot-deliver", RecipientRefused, "8"),
        ("duplicate", ChannelUnavailable, "9"),
        ("http-500", ChannelUnavailable, "500"),
        ("http-503", ChannelUnavailable, "503"),
    ],
)
def test_every_documented_error_maps(
    harness: SmscHarness, fault: str, error: type[ChannelError], code: str
) -> None:
    harness.simulator.fail_next(fault)
    with pytest.raises(ChannelError) as caught:
        harness.channel.send(sms())
    assert type(caught.value) is error
    assert caught.value.code == code
    assert harness.simulator.requests == 1, "a channel never retries on its own"
    assert harness.received() == 0


def test_balance_and_auth_failures_never_mark_the_number_dead(harness: SmscHarness) -> None:
    for fault in ("no-money", "authorise", "ip-blocked", "denied", "parameters"):
        harness.simulator.fail_next(fault)
        with pytest.raises(ChannelError) as caught:
            harness.channel.send(sms(key=f"k-{fault}"))
        assert not isinstance(caught.value, RecipientRefused), fault


def test_duplicate_request_waits_a_minute(harness: SmscHarness) -> None:
    harness.simulator.fail_next("duplicate")
    with pytest.raises(ChannelUnavailable) as caught:
        harness.channel.send(sms())
    assert caught.value.retry_after == 60


def test_too_many_requests_at_once_are_throttled(harness: SmscHarness) -> None:
    harness.simulator.concurrency = 1
    harness.simulator.fail_next("stall")
    stalled = threading.Thread(target=_swallow, args=(harness, sms(key="first")))
    stalled.start()
    try:
        deadline = time.monotonic() + 5
        while harness.simulator._in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(ChannelUnavailable) as caught:
            harness.channel.send(sms(key="second"))
    finally:
        harness.heal()
        stalled.join(5)
    assert (caught.value.code, caught.value.retry_after) == ("9", 60)
    assert harness.received() == 0


def _swallow(harness: SmscHarness, notification: Notification) -> None:
    # the stalled one times out: what this test needs is that it was in flight
    with contextlib.suppress(ChannelUnavailable):
        harness.channel.send(notification)


def test_invalid_and_undeliverable_numbers(harness: SmscHarness) -> None:
    harness.simulator.invalidate("+74951234567")
    harness.simulator.undeliverable("+79260000000")
    with pytest.raises(DeadRecipient) as dead:
        harness.channel.send(sms(to="+74951234567", key="a"))
    with pytest.raises(RecipientRefused) as refused:
        harness.channel.send(sms(to="+79260000000", key="b"))
    assert not isinstance(refused.value, DeadRecipient)
    assert (dead.value.code, refused.value.code) == ("7", "8")


@pytest.mark.parametrize(
    "phone",
    [
        "89161234567",
        "79161234567",
        "+7916123456",
        "+791612345678",
        "+7 916 123-45-67",
        "+0123456789",
        "+1234567",
    ],
)
def test_phone_not_in_e164_is_refused_before_sending(harness: SmscHarness, phone: str) -> None:
    with pytest.raises(RecipientRefused) as caught:
        harness.channel.send(sms(to=phone))
    assert caught.value.code == "phone"
    assert phone not in str(caught.value)
    assert harness.simulator.requests == 0


def test_other_countries_in_e164_are_sent(harness: SmscHarness) -> None:
    harness.channel.send(sms(to="+380501234567", key="ua"))  # 12 digits
    harness.channel.send(sms(to="+77011234567", key="kz"))  # zone 7, Kazakhstan
    assert [m.phone for m in harness.simulator.messages] == ["+380501234567", "+77011234567"]


def test_too_many_parts_are_refused_before_sending(harness: SmscHarness) -> None:
    channel = other(harness, max_parts="2")
    try:
        channel.send(sms("я" * 134, key="two"))  # type: ignore[attr-defined]
        with pytest.raises(ChannelError) as caught:
            channel.send(sms("я" * 135, key="three"))  # type: ignore[attr-defined]
    finally:
        channel.close()  # type: ignore[attr-defined]
    assert caught.value.code == "too-long"
    assert "3 SMS" in str(caught.value)
    assert harness.simulator.requests == 1
    assert [m.parts for m in harness.simulator.messages] == [2]


def test_a_lost_answer_is_not_sent_twice(harness: SmscHarness) -> None:
    # SMSC takes the message, the answer never comes: the key's outcome is unclear
    harness.simulator.duplicate_window = 0  # past SMSC's minute: it would send it again
    harness.simulator.fail_next("lost-answer")
    notification = sms(CODE)
    try:
        with pytest.raises(ChannelUnavailable) as caught:
            harness.channel.send(notification)
    finally:
        harness.heal()
    assert caught.value.code == "timeout"
    assert harness.received() == 1
    # the caller retries: the channel asks SMSC by phone and id before sending again
    result = send_with_retries(harness.channel, notification, sleep=lambda _: None)
    assert result.message_id == message_id(notification.key)
    assert harness.received() == 1, "the second attempt would have been a second SMS"
    assert harness.simulator.requests == 1
    assert harness.simulator.status_requests == 1


def test_a_stall_before_sending_is_sent_on_retry(harness: SmscHarness) -> None:
    harness.simulator.fail_next("stall")
    notification = sms(CODE)
    try:
        with pytest.raises(ChannelUnavailable):
            harness.channel.send(notification)
    finally:
        harness.heal()
    assert harness.received() == 0
    harness.channel.send(notification)
    assert harness.received() == 1
    assert harness.simulator.status_requests == 1  # SMSC said "not found" (-3)


def test_a_clear_refusal_needs_no_status_check(harness: SmscHarness) -> None:
    harness.simulator.fail_next("no-money")
    notification = sms()
    with pytest.raises(ChannelUnavailable):
        harness.channel.send(notification)
    harness.channel.send(notification)
    assert harness.simulator.status_requests == 0
    assert harness.received() == 1


def test_nothing_personal_or_secret_in_the_debug_log(
    harness: SmscHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    harness.channel.send(sms(CODE, key="ok"))
    for fault in ("invalid-number", "cannot-deliver", "no-money", "duplicate", "http-503"):
        harness.simulator.fail_next(fault)
        try:
            harness.channel.send(sms(CODE, key=f"k-{fault}"))
        except ChannelError as exc:
            errors.append(exc)
    harness.simulator.fail_next("lost-answer")
    try:
        harness.channel.send(sms(CODE, key="lost"))
    except ChannelError as exc:
        errors.append(exc)
    finally:
        harness.heal()
    harness.channel.send(sms(CODE, key="lost"))  # through the status check
    assert "POST /sys/send.php" in caplog.text and "POST /sys/status.php" in caplog.text
    shown = caplog.text + repr(harness.channel) + "".join(f"{e}{e!r}" for e in errors)
    for secret in (PHONE, PHONE[1:], API_KEY, CODE, "4821", urllib.parse.quote(CODE)):
        assert secret not in shown


def test_simulator_decodes_the_charset_the_request_names() -> None:
    with SmscSimulator() as sim, HttpClient(sim.endpoint, timeout=2.0) as client:
        for charset in ("utf-8", "koi8-r", None):
            fields = {"apikey": API_KEY, "phones": PHONE, "mes": "Привет", "fmt": "3"}
            if charset:
                fields["charset"] = charset
            body = urllib.parse.urlencode(fields, encoding=charset or "cp1251").encode()
            answer = client.send("POST", "/sys/send.php", content=body)
            assert answer.json()["cnt"] == 1
        # UTF-8 bytes without charset=utf-8 are read as windows-1251, as SMSC reads them
        answer = client.send(
            "GET", "/sys/send.php?" + urllib.parse.urlencode({**fields, "mes": "Пока"})
        )
    assert [m.text for m in sim.messages] == ["Привет", "Привет", "Привет", "РџРѕРєР°"]


def test_simulator_answers_as_smsc_documents() -> None:
    with (
        SmscSimulator(senders=frozenset({"ZhKH"})) as sim,
        HttpClient(sim.endpoint, timeout=2.0) as client,
    ):

        def post(**fields: str) -> str:
            body = urllib.parse.urlencode({"charset": "utf-8", **fields}).encode()
            return client.send("POST", "/sys/send.php", content=body).body.decode()

        auth = {"login": LOGIN, "psw": PASSWORD}
        assert post(**auth, phones=PHONE, mes="Hi", id="7") == "OK - 1 SMS, ID - 7"
        assert post(**auth, phones=PHONE, mes="Hi", id="7") == (
            "ERROR = 9 (duplicate request, wait a minute), ID - 7"
        )
        assert post(login=LOGIN, psw="wrong", phones=PHONE, mes="Hi") == (
            "ERROR = 2 (authorise error)"
        )
        assert post(**auth, mes="Hi").startswith("ERROR = 1 ")
        assert post(**auth, phones=PHONE, mes="Hi", id="a/b").startswith("ERROR = 1 ")
        assert post(**auth, phones="12345", mes="Hi").startswith("ERROR = 7 ")
        assert post(**auth, phones=PHONE, mes="Hi", sender="Other").startswith("ERROR = 6 ")
        # maxsms cuts the text to what fits, as SMSC does
        assert post(**auth, phones=PHONE, mes="я" * 200, maxsms="1", fmt="3") == (
            '{"id": 1, "cnt": 1}'
        )
    assert [len(m.text) for m in sim.messages] == [2, 70]


def test_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = SmscFactory()
    monkeypatch.delenv("PES_SMSC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="credentials"):
        factory.create({})
    with pytest.raises(ConfigError, match="unknown 'psw'"):
        factory.create({"psw": "secret-1"})
    with pytest.raises(ConfigError, match="go together"):
        factory.create({"login": "me"})
    with pytest.raises(ConfigError, match="not both"):
        factory.create({"login": "me", "password": "secret-1", "api_key": "k"})
    with pytest.raises(ConfigError, match="PES_NOPE, which is not set"):
        factory.create({"api_key_env": "PES_NOPE"})
    with pytest.raises(ConfigError, match="api_key_env"):
        factory.create({"api_key_env": "NOT A NAME"})
    with pytest.raises(ConfigError, match="not both"):
        factory.create({"api_key": "k", "api_key_env": "PES_X"})
    monkeypatch.setenv("PES_SMSC_API_KEY", "key-from-env")
    channel = factory.create({})  # the default variable
    assert channel.settings.api_key == "key-from-env"
    assert channel.settings.endpoint == "https://smsc.ru"
    assert "key-from-env" not in repr(channel) + repr(channel.settings)
    channel.close()
    for bad in ({"sender": "ТСЖ"}, {"sender": "A-very-long-name"}, {"sender": "a,b"}):
        with pytest.raises(ConfigError, match="sender"):
            factory.create(bad)
    with pytest.raises(ConfigError, match="endpoint"):
        factory.create({"endpoint": "http://smsc.ru"})
    with pytest.raises(ConfigError, match="timeout"):
        factory.create({"timeout": "0"})
    for parts in ("0", "16", "2.5", "x"):
        with pytest.raises(ConfigError, match="max_parts"):
            factory.create({"max_parts": parts})
    monkeypatch.setenv("PES_SMSC_API_KEY", "key with space")
    with pytest.raises(ConfigError) as caught:
        factory.create({})
    assert "key with space" not in str(caught.value)
