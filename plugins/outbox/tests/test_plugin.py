"""The outbox is found through its real entry point, and `pes plugins` lists it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pes_sdk_outbox import OutboxChannel, OutboxFactory, read_outbox

from pes_sdk.cli.main import cli
from pes_sdk.notifications import Notification, NotificationChannelFactory, UnknownChannel
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_outbox(tmp_path: Path) -> None:
    host = PluginHost()
    factory = host.notification_channel("outbox")
    assert isinstance(factory, OutboxFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("sms", "email", "push")
    assert "outbox" in host.notification_channels(kind="sms")
    assert host.provider_of("pes_notification_channels", "outbox") == "outbox"
    info = {p.name: p for p in host.plugins()}["outbox"]
    assert info.distribution == "pes-sdk-outbox"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "outbox"]

    path = tmp_path / "outbox" / "sms.jsonl"
    channel = factory.create({"path": str(path)})
    assert isinstance(channel, OutboxChannel)
    result = channel.send(Notification(kind="sms", to="+79161234567", text="Код: 123456"))
    assert [m["id"] for m in read_outbox(path)] == [result.message_id]


def test_an_unknown_channel_names_the_installed_ones() -> None:
    with pytest.raises(UnknownChannel, match=r"'nope'; installed: .*outbox"):
        PluginHost().notification_channel("nope")


def test_disabled_outbox_is_not_offered() -> None:
    host = PluginHost(disabled=["outbox"])
    assert "outbox" not in host.notification_channels()


def test_pes_plugins_lists_the_outbox_and_its_hook() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["outbox"]]
    assert "pes-sdk-outbox" in row and "pes_notification_channels" in row
