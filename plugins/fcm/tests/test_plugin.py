"""The FCM channel is found through its real entry point, and `pes plugins` lists it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pes_sdk_fcm import FcmChannel, FcmFactory
from pes_sdk_fcm.simulator import FcmSimulator

from pes_sdk.cli.main import cli
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_fcm_channel(tmp_path: Path) -> None:
    host = PluginHost()
    factory = host.notification_channel("fcm")
    assert isinstance(factory, FcmFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("push",)
    assert "fcm" in host.notification_channels(kind="push")
    assert "fcm" not in host.notification_channels(kind="sms")
    info = {p.name: p for p in host.plugins()}["fcm"]
    assert info.distribution == "pes-sdk-fcm"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "fcm"]
    with FcmSimulator() as simulator:  # only for a key file: create() reads it, no more
        key = simulator.write_service_account(tmp_path / "key.json")
        channel = factory.create({"service_account_file": str(key)})
        assert simulator.token_exchanges == 0 and simulator.requests == 0
    assert isinstance(channel, FcmChannel)
    assert channel.settings.endpoint == "https://fcm.googleapis.com"


def test_pes_plugins_lists_the_fcm_channel() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["fcm"]]
    assert "pes-sdk-fcm" in row and "pes_notification_channels" in row
