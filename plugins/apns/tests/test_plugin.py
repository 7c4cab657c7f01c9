"""The APNs channel is found through its real entry point, and `pes plugins` lists it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pes_sdk_apns import ApnsChannel, ApnsFactory

from pes_sdk.cli.main import cli
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_apns_channel(p8_file: str) -> None:
    host = PluginHost()
    factory = host.notification_channel("apns")
    assert isinstance(factory, ApnsFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("push",)
    assert "apns" in host.notification_channels(kind="push")
    assert "apns" not in host.notification_channels(kind="sms")
    info = {p.name: p for p in host.plugins()}["apns"]
    assert info.distribution == "pes-sdk-apns"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "apns"]
    channel = factory.create(
        {
            "team_id": "5QX8Z2K7LM",
            "key_id": "9R4T7WQ2HB",
            "key_file": p8_file,
            "bundle_id": "ru.example.zhkh",
        }
    )
    assert isinstance(channel, ApnsChannel)
    assert channel.settings.endpoint == "https://api.push.apple.com"
    channel.close()


def test_pes_plugins_lists_the_apns_channel() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["apns"]]
    assert "pes-sdk-apns" in row and "pes_notification_channels" in row
