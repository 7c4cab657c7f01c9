"""The grown notification contract: push and e-mail fields, keys, dead recipients, and the
two helpers channels build on (SentKeys, send_with_retries)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import attrs
import hypothesis
import hypothesis.strategies
import pytest

from pes_sdk.notifications import (
    KINDS,
    MAX_BUTTONS,
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
    SentKeys,
    WrongKind,
    key_uuid,
    send_with_retries,
)

TOKEN = "fcm-token-of-a-real-phone"
PAY = "https://pay.example.ru/pay?account=0000123"


def push(**extra: Any) -> Notification:
    return Notification("push", TOKEN, "Начислено 1 234,56 руб. за ноябрь", **extra)


def test_existing_callers_keep_working_with_defaults() -> None:
    n = Notification("sms", "+79161234567", "Код: 123456")
    assert (n.title, n.image, n.buttons, dict(n.data), n.collapse) == ("", None, (), {}, None)
    assert len(n.key) == 32 and n.key != Notification("sms", "+79161234567", "x").key
    assert KINDS == ("sms", "push", "email")


def test_every_field_and_a_repr_that_names_no_one() -> None:
    n = push(
        title="Начисление за ноябрь",
        image="https://cdn.example.ru/42.png",
        buttons=[Button("Оплатить", PAY), Button("Подробнее", "https://example.ru/n/42")],
        data={"campaign": "42"},
        key="campaign:42/client:1017/device:88",
        collapse="charges-2026-11",
    )
    assert n.buttons[0] == Button("Оплатить", PAY) and isinstance(n.buttons, tuple)
    assert TOKEN not in repr(n) and "campaign:42" in repr(n)
    assert hash(n) == hash(attrs.evolve(n))  # hashable despite the mapping
    assert n == attrs.evolve(n) != attrs.evolve(n, data={"campaign": "43"})


def test_data_is_a_read_only_copy() -> None:
    given = {"campaign": "42"}
    n = push(data=given)
    given["campaign"] = "changed"
    assert n.data["campaign"] == "42"
    with pytest.raises(TypeError):
        n.data["x"] = "y"  # type: ignore[index]
    for bad in ({"n": 1}, {"": "x"}, {1: "x"}):
        with pytest.raises(ValueError, match="data"):
            push(data=bad)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.ru/x.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "intent://pay#Intent;end",
        "/relative.png",
        "https://",
        "https://user:pw@example.ru/x",
        "https://example.ru/a b",
        "https://example.ru/\nx",
        "https://example.ru:99999/",
        "",
    ],
)
def test_image_and_button_urls_are_https_only(url: str) -> None:
    with pytest.raises(ValueError, match="image"):
        push(image=url)
    with pytest.raises(ValueError, match="button's url"):
        Button("Оплатить", url)


def test_buttons_are_at_most_three_buttons_with_a_label() -> None:
    push(buttons=[Button(str(i), PAY) for i in range(MAX_BUTTONS)])
    with pytest.raises(ValueError, match="at most 3 buttons, not 4"):
        push(buttons=[Button(str(i), PAY) for i in range(MAX_BUTTONS + 1)])
    with pytest.raises(ValueError, match="Button objects"):
        push(buttons=[("Оплатить", PAY)])
    for label in ("", "  ", "a\nb", "я" * 41):
        with pytest.raises(ValueError, match="label"):
            Button(label, PAY)


def test_title_key_collapse_and_kind_are_checked() -> None:
    with pytest.raises(ValueError, match="one line"):
        push(title="Тема\r\nBcc: all@example.ru")  # would be an e-mail header injection
    with pytest.raises(ValueError, match="at most 200 characters"):
        push(title="я" * 201)
    for key in ("", "a b", "a\tb", "k" * 201):
        with pytest.raises(ValueError, match="key"):
            push(key=key)
    push(collapse="я" * 32)  # 64 bytes
    with pytest.raises(ValueError, match="at most 64 bytes, not 66"):
        push(collapse="я" * 33)
    with pytest.raises(ValueError, match="one of sms, push, email, not 'e-mail'"):
        Notification("e-mail", "a@example.ru", "x")


def test_key_uuid_is_stable_and_reveals_nothing() -> None:
    key = "campaign:42/client:1017/device:88"
    assert key_uuid(key) == key_uuid(key) != key_uuid(key + "0")
    assert key_uuid(key).version == 5
    # fixed forever: a changed namespace would give a resent key a new id at the provider
    # a known answer: a changed namespace would give a resent key a new id at the provider
    assert key_uuid(key) == uuid.UUID("9b8738f4-1897-5b82-a2b0-fc4c114b5071")
    assert "1017" not in str(key_uuid(key))


def test_a_dead_recipient_is_a_refusal_with_a_code() -> None:
    dead = DeadRecipient("the token is unregistered", channel="fcm", code="UNREGISTERED")
    assert isinstance(dead, RecipientRefused) and isinstance(dead, ChannelError)
    assert (dead.code, str(dead)) == ("UNREGISTERED", "fcm: the token is unregistered")
    late = ChannelUnavailable("throttled", channel="fcm", code="QUOTA_EXCEEDED", retry_after=5)
    assert (late.code, late.retry_after) == ("QUOTA_EXCEEDED", 5)
    assert RecipientRefused("x").code == ""


# -- SentKeys ------------------------------------------------------------------------------


def result(n: int) -> SendResult:
    return SendResult(f"m-{n}", dt.datetime.now(dt.UTC))


def test_sent_keys_send_a_key_once_and_forget_failures() -> None:
    keys = SentKeys()
    calls: list[str] = []

    def send(name: str) -> SendResult:
        calls.append(name)
        return result(len(calls))

    first = keys.send_once("k1", lambda: send("k1"))
    assert keys.send_once("k1", lambda: send("k1 again")) is first
    assert "k1" in keys and keys.result("k1") is first and len(keys) == 1

    def fail() -> SendResult:
        calls.append("k2 failed")
        raise ChannelUnavailable("down")

    with pytest.raises(ChannelUnavailable):
        keys.send_once("k2", fail)
    assert "k2" not in keys
    keys.send_once("k2", lambda: send("k2"))
    assert calls == ["k1", "k2 failed", "k2"]


def test_sent_keys_forget_the_oldest_past_capacity() -> None:
    keys = SentKeys(capacity=2)
    for i in range(3):
        keys.send_once(f"k{i}", lambda i=i: result(i))
    assert "k0" not in keys and "k1" in keys and "k2" in keys
    with pytest.raises(ValueError):
        SentKeys(capacity=0)


def test_sent_keys_one_key_from_many_threads_is_one_send() -> None:
    keys = SentKeys()
    calls: list[int] = []
    inside = threading.Event()
    release = threading.Event()

    def slow_send() -> SendResult:
        calls.append(1)
        inside.set()
        release.wait(10)
        return result(1)

    results: list[SendResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(keys.send_once("k", slow_send)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    assert inside.wait(10)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == [1] and len(results) == 8 and len({id(r) for r in results}) == 1


# -- send_with_retries ---------------------------------------------------------------------


class ScriptedChannel(NotificationChannel):
    """A test double, on purpose: it answers a script of errors, so the retry helper's own
    rules (what is retried, how often, how long it waits) are checked alone. Real channels
    meet it through the conformance family, against providers on loopback."""

    name = "scripted"
    kinds = ("push",)

    def __init__(self, *errors: ChannelError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return result(self.calls)


def test_retries_only_unavailable_and_waits_the_providers_hint_capped() -> None:
    waits: list[float] = []
    channel = ScriptedChannel(
        ChannelUnavailable("429", retry_after=3), ChannelUnavailable("429", retry_after=120)
    )
    sent = send_with_retries(channel, push(), attempts=3, max_wait=30, sleep=waits.append)
    assert sent.message_id == "m-3" and channel.calls == 3
    assert waits == [3.0, 30.0]


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    waits: list[float] = []
    errors = [ChannelUnavailable(f"503 #{i}") for i in range(10)]
    channel = ScriptedChannel(*errors)
    with pytest.raises(ChannelUnavailable, match="503 #3"):
        send_with_retries(
            channel, push(), attempts=4, initial_wait=1, max_wait=3, sleep=waits.append
        )
    assert channel.calls == 4
    # no hint: doubling from initial_wait plus jitter below it, never above max_wait
    assert 1 <= waits[0] <= 2 and 2 <= waits[1] <= 3 and waits[2] == 3


@pytest.mark.parametrize(
    "error",
    [RecipientRefused("bad"), DeadRecipient("gone"), ChannelError("auth"), WrongKind("sms", ())],
)
def test_errors_for_good_are_not_retried(error: ChannelError) -> None:
    channel = ScriptedChannel(error)
    with pytest.raises(type(error)):
        send_with_retries(channel, push(), attempts=5, sleep=lambda _: None)
    assert channel.calls == 1


def test_send_with_retries_refuses_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        send_with_retries(ScriptedChannel(), push(), attempts=0)
    with pytest.raises(ValueError, match="not negative"):
        send_with_retries(ScriptedChannel(), push(), max_wait=-1)


def test_unavailable_from_an_http_error_keeps_no_url() -> None:
    from pes_sdk.http import HttpTimeout, HttpUnavailable

    path = "/3/device/0d1e2v3i4c5e"
    timeout = HttpTimeout(f"POST {path}: no answer", path=path, phase="read")
    failure = ChannelUnavailable.from_http_error(timeout, "APNs", channel="apns", timeout=2.5)
    assert (str(failure), failure.code) == (
        "apns: APNs did not answer within 2.5 s (read)",
        "timeout",
    )
    lost = HttpUnavailable(f"POST {path}: ConnectError: refused", path=path)
    failure = ChannelUnavailable.from_http_error(
        lost, "APNs", channel="apns", timeout=2.5, code="unreachable"
    )
    assert (str(failure), failure.code) == (
        "apns: APNs cannot be reached (HttpUnavailable)",
        "unreachable",
    )
    assert ChannelUnavailable.from_http_error(lost, "x", channel="", timeout=1).code == "connection"


@hypothesis.given(
    before=hypothesis.strategies.text(alphabet="abc-_:0123456789", max_size=8),
    # every space str.isspace knows (U+00A0, U+2028, U+3000...), every C0 control, DEL
    bad=hypothesis.strategies.sampled_from(
        [c for c in map(chr, range(0x3001)) if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F]
    ),
)
def test_a_key_with_a_space_or_control_character_is_refused(before: str, bad: str) -> None:
    with pytest.raises(ValueError, match="no spaces or control characters"):
        Notification("sms", "+79161234567", "Код", key=f"{before}{bad}x")


def test_a_key_of_printable_characters_is_taken() -> None:
    assert Notification("sms", "+79161234567", "Код", key="campaign:7/клиент№1").key == (
        "campaign:7/клиент№1"
    )
