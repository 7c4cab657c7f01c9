"""The notification-channel hook: the contract's values and the host's handling of plugins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import attrs
import pytest

from pes_sdk.errors import ConfigError, PesError
from pes_sdk.i18n import translate
from pes_sdk.notifications import (
    MAX_TEXT_LENGTH,
    ChannelError,
    ChannelUnavailable,
    Notification,
    NotificationChannel,
    NotificationChannelFactory,
    RecipientRefused,
    SendResult,
    UnknownChannel,
    WrongKind,
)
from pes_sdk.plugins import PluginHost, hookimpl

PHONE = "+79161234567"


class MemoryChannel(NotificationChannel):
    def __init__(self, name: str, kinds: tuple[str, ...]) -> None:
        self.name = name
        self.kinds = kinds
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        self.sent.append(notification)
        return SendResult(str(len(self.sent)), dt.datetime.now(dt.UTC))


@attrs.frozen
class MemoryFactory:
    name: str
    kinds: tuple[str, ...] = ("sms",)
    description: str = "in memory"

    def create(self, settings: Mapping[str, str]) -> NotificationChannel:
        return MemoryChannel(self.name, self.kinds)


def host(*plugins: tuple[str, object]) -> PluginHost:
    h = PluginHost(entry_points=False)
    for name, plugin in plugins:
        assert h.register(plugin, name=name, distribution=(f"{name}-dist", "1.0"))
    return h


def provider(*factories: object) -> object:
    class Plugin:
        @hookimpl
        def pes_notification_channels(self) -> Sequence[object]:
            return list(factories)

    return Plugin()


# -- the contract ------------------------------------------------------------------------


def test_a_notification_is_validated_and_its_repr_names_no_one() -> None:
    n = Notification(kind="sms", to=PHONE, text="Код: 123456")
    assert (n.kind, n.to, n.text) == ("sms", PHONE, "Код: 123456")
    assert PHONE not in repr(n)
    Notification(kind="sms", to=PHONE, text="я" * MAX_TEXT_LENGTH)
    with pytest.raises(ValueError, match="at most 1000 characters, not 1001"):
        Notification(kind="sms", to=PHONE, text="я" * (MAX_TEXT_LENGTH + 1))
    for field in ("kind", "to", "text"):
        values = {"kind": "sms", "to": PHONE, "text": "x", field: ""}
        with pytest.raises(ValueError, match=f"{field} must be a non-empty string"):
            Notification(**values)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        n.text = "other"  # type: ignore[misc]


def test_a_send_result_is_in_utc_and_refuses_a_naive_time() -> None:
    moscow = dt.datetime(2026, 3, 16, 12, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    result = SendResult("m-1", moscow)
    assert result.accepted_at == moscow and result.accepted_at.tzinfo is dt.UTC
    assert result.accepted_at.hour == 9
    with pytest.raises(ValueError, match="time zone"):
        SendResult("m-1", dt.datetime(2026, 3, 16, 12, 30))
    with pytest.raises(ValueError, match="message_id"):
        SendResult("", moscow)


def test_the_errors_say_what_may_be_retried() -> None:
    for cls in (ChannelUnavailable, RecipientRefused):
        assert issubclass(cls, ChannelError) and issubclass(cls, PesError)
    assert issubclass(WrongKind, ChannelError)
    assert issubclass(UnknownChannel, ConfigError)
    err = ChannelUnavailable("throttled", channel="smsc", retry_after=30)
    assert (str(err), err.channel, err.retry_after) == ("smsc: throttled", "smsc", 30)
    wrong = WrongKind("push", ("sms",), channel="smsc")
    assert str(wrong) == "smsc: cannot send 'push' notifications (carries sms)"


def test_check_kind_refuses_what_a_channel_does_not_carry() -> None:
    channel = MemoryChannel("memory", ("sms",))
    assert channel.send(Notification(kind="sms", to=PHONE, text="x")).message_id == "1"
    with pytest.raises(WrongKind):
        channel.send(Notification(kind="email", to="a@example.ru", text="x"))
    assert len(channel.sent) == 1


# -- the host ------------------------------------------------------------------------------


def test_the_host_collects_channels_by_name_and_kind() -> None:
    h = host(("a", provider(MemoryFactory("sms-a"), MemoryFactory("push-a", kinds=("push",)))))
    channels = h.notification_channels()
    assert list(channels) == ["sms-a", "push-a"]
    assert all(isinstance(f, NotificationChannelFactory) for f in channels.values())
    assert list(h.notification_channels(kind="push")) == ["push-a"]
    assert h.notification_channels(kind="email") == {}
    assert h.notification_channel("sms-a") is channels["sms-a"]
    assert h.provider_of("pes_notification_channels", "push-a") == "a"
    assert "pes_notification_channels" in h.hook_names
    assert h.failures == []


def test_an_unknown_channel_lists_the_installed_ones_in_the_language_shown() -> None:
    h = host(("a", provider(MemoryFactory("zeta"), MemoryFactory("alpha"))))
    with pytest.raises(UnknownChannel, match=r"'sms'; installed: alpha, zeta") as caught:
        h.notification_channel("sms")
    assert "установлены: alpha, zeta" in translate(str(caught.value), "ru")
    with pytest.raises(UnknownChannel, match=r"'sms'; none is installed"):
        PluginHost(entry_points=False).notification_channel("sms")


def test_a_duplicate_channel_name_is_refused_and_reported() -> None:
    first = MemoryFactory("dup")
    h = host(("one", provider(first)), ("two", provider(MemoryFactory("dup"), MemoryFactory("b"))))
    channels = h.notification_channels()
    assert channels["dup"] is first
    assert "b" in channels  # the rest of the second plugin's answer stands
    assert [(f.name, f.distribution, f.error) for f in h.failures] == [
        ("two", "two-dist", "pes_notification_channels: 'dup' is already provided")
    ]


def test_a_broken_channel_plugin_is_reported_and_the_others_stay() -> None:
    class Raises:
        @hookimpl
        def pes_notification_channels(self) -> Sequence[object]:
            raise RuntimeError("no SMS credentials")

    h = host(
        ("raises", Raises()),
        ("wrong", provider("outbox", MemoryFactory("good"))),
    )
    assert list(h.notification_channels()) == ["good"]
    errors = {f.name: f.error for f in h.failures}
    assert errors["raises"] == (
        "hook pes_notification_channels raised RuntimeError: no SMS credentials"
    )
    assert "not NotificationChannelFactory" in errors["wrong"]
