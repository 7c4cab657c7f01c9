"""The RuStore channel is found through its real entry point, and `pes plugins` lists it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pes_sdk_rustore import RuStoreChannel, RuStoreFactory

from pes_sdk.cli.main import cli
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_rustore_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    host = PluginHost()
    factory = host.notification_channel("rustore")
    assert isinstance(factory, RuStoreFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("push",)
    assert "rustore" in host.notification_channels(kind="push")
    info = {p.name: p for p in host.plugins()}["rustore"]
    assert info.distribution == "pes-sdk-rustore"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "rustore"]
    monkeypatch.setenv("PES_RUSTORE_SERVICE_TOKEN", "a-service-token")
    channel = factory.create({"project_id": "p-1"})
    assert isinstance(channel, RuStoreChannel)
    assert channel.settings.endpoint == "https://vkpns.rustore.ru"
    assert "a-service-token" not in repr(channel) + repr(channel.settings)


def test_pes_plugins_lists_the_rustore_channel() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["rustore"]]
    assert "pes-sdk-rustore" in row and "pes_notification_channels" in row
