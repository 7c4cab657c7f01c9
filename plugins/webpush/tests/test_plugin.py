"""The Web Push channel is found through its real entry point, and `pes plugins` lists it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pes_sdk_webpush import WebPushChannel, WebPushFactory
from pes_sdk_webpush.simulator import write_vapid_key

from pes_sdk.cli.main import cli
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_webpush_channel(tmp_path: Path) -> None:
    host = PluginHost()
    factory = host.notification_channel("webpush")
    assert isinstance(factory, WebPushFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("push",)
    assert "webpush" in host.notification_channels(kind="push")
    assert "webpush" not in host.notification_channels(kind="email")
    info = {p.name: p for p in host.plugins()}["webpush"]
    assert info.distribution == "pes-sdk-webpush"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "webpush"]
    channel = factory.create(
        {
            "vapid_key_file": str(write_vapid_key(tmp_path / "vapid.pem")),
            "subject": "mailto:push-admin@zhkh-oplata.ru",
        }
    )
    assert isinstance(channel, WebPushChannel)
    assert channel.settings.ttl == 86400 and channel.settings.urgency == "normal"
    assert not channel.settings.allow_loopback_http
    channel.close()


def test_pes_plugins_lists_the_webpush_channel() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["webpush"]]
    assert "pes-sdk-webpush" in row and "pes_notification_channels" in row
