"""The SMSC channel is found through its real entry point, `pes plugins` lists it, and the
runner's cabinet can send its login codes through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pes_sdk_smsc import SmscChannel, SmscFactory
from pes_sdk_smsc.simulator import API_KEY, SmscSimulator

from pes_sdk.cli.main import cli
from pes_sdk.notifications import Notification, NotificationChannelFactory
from pes_sdk.plugins import PluginHost


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PES_DISABLE_PLUGINS", raising=False)


def test_entry_point_provides_the_smsc_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    host = PluginHost()
    factory = host.notification_channel("smsc")
    assert isinstance(factory, SmscFactory)
    assert isinstance(factory, NotificationChannelFactory)
    assert factory.kinds == ("sms",)
    assert "smsc" in host.notification_channels(kind="sms")
    info = {p.name: p for p in host.plugins()}["smsc"]
    assert info.distribution == "pes-sdk-smsc"
    assert info.hooks == ("pes_notification_channels",)
    assert not [f for f in host.failures if f.name == "smsc"]
    monkeypatch.setenv("PES_SMSC_API_KEY", "an-api-key")
    channel = factory.create({"sender": "ZhKH"})
    assert isinstance(channel, SmscChannel)
    assert "an-api-key" not in repr(channel) + repr(channel.settings)
    channel.close()


def test_pes_plugins_lists_the_smsc_channel() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[:1] == ["smsc"]]
    assert "pes-sdk-smsc" in row and "pes_notification_channels" in row


RUNNER_TOML = """\
version = 1
[service]
name = "ООО «Энергосбыт-Платежи»"
inn = "7701012342"
kpp = "770101001"
data = "data"
[service.bank]
bik = "044525225"
account = "40702810500000001234"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "г. Москва"
[gateway]
name = "sandbox"
[http]
client_tokens_env = "PES_CLIENT_TOKENS"
operator_tokens_env = "PES_OPERATOR_TOKENS"
[cabinet]
secret_env = "PES_CABINET_SECRET"
[cabinet.sms]
channel = "smsc"
settings = {{ sender = "ZhKH", endpoint = "{endpoint}", timeout = "2" }}
secrets_env = {{ api_key = "PES_SMSC_API_KEY" }}
[[partners]]
inn = "5003012349"
kpp = "500301001"
name = "ООО «УК Дом»"
fee = {{ plan = "percent", rate = "1.36%" }}
source = {{ kind = "inbox", folder = "inbox/uk-dom" }}
format = "sber-debts"
channel = {{ kind = "outbox", folder = "outbox/uk-dom", format = "sber-payments" }}
cutoff = "20:00"
[partners.bank]
bik = "044525974"
account = "40702810200000005678"
corr_account = "30101810145250000974"
name = "АО «ТБанк»"
city = "г. Москва"
"""


def test_the_runner_cabinet_sends_login_codes_through_smsc(tmp_path: Path) -> None:
    config_module = pytest.importorskip("pes_sdk_runner.config")
    cabinet = pytest.importorskip("pes_sdk_runner.cabinet")
    env = {
        "PES_CLIENT_TOKENS": "client-token-0123456789abcdef",
        "PES_OPERATOR_TOKENS": "operator-token-0123456789abcdef",
        "PES_CABINET_SECRET": "s" * 48,
        "PES_SMSC_API_KEY": API_KEY,
    }
    with SmscSimulator() as sim:
        config = config_module.parse_runner_config(
            RUNNER_TOML.format(endpoint=sim.endpoint), base=tmp_path, env=env
        )
        assert config.cabinet.sms_channel == "smsc"
        assert API_KEY not in repr(config.cabinet)
        channel = cabinet.sms_channel(PluginHost(), config.cabinet)
        try:
            channel.send(Notification("sms", "+79161234567", "Код для входа: 4821."))
        finally:
            channel.close()
    assert [(m.phone, m.text, m.sender) for m in sim.messages] == [
        ("+79161234567", "Код для входа: 4821.", "ZhKH")
    ]
