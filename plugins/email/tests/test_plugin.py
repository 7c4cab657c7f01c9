"""The e-mail channel is found through its real entry point, and `pes plugins` lists it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pes_sdk_email import EmailChannel, EmailFactory

from pes_sdk.cli.main import cli
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_email_channel() -> None:
    host = PluginHost()
    factory = host.notification_channel("email")
    assert isinstance(factory, EmailFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("email",)
    assert "email" in host.notification_channels(kind="email")
    assert "email" not in host.notification_channels(kind="sms")
    info = {p.name: p for p in host.plugins()}["email"]
    assert info.distribution == "pes-sdk-email"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "email"]
    channel = factory.create({"host": "smtp.example.ru", "from_address": "noreply@example.ru"})
    assert isinstance(channel, EmailChannel)


def test_pes_plugins_lists_the_email_channel() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["email"]]
    assert "pes-sdk-email" in row and "pes_notification_channels" in row
