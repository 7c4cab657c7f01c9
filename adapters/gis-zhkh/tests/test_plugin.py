"""The plugin: the channel found through its entry point, built from GIS.toml, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from pes_sdk_conformance.billing import payment_registry
from pes_sdk_gis_zhkh.simulator import GisSimulator

from pes_sdk.billing import DeliveryChannel, DeliveryChannelFactory, DeliveryStatus
from pes_sdk.errors import ConfigError
from pes_sdk.plugins.manager import PluginHost

INN = "5003012349"
PARTNERS = """
version = 1
[service]
name = "ООО «Энергосбыт-Платежи»"
inn = "7701012342"
kpp = "770101001"
[service.bank]
bik = "044525225"
account = "40702810500000001234"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "г. Москва"

[[partners]]
inn = "5003012349"
kpp = "500301001"
name = "ООО «УК Дом»"
[partners.bank]
bik = "044525974"
account = "40702810200000005678"
corr_account = "30101810145250000974"
name = "АО «ТБанк»"
city = "г. Москва"
"""


def _gis_toml(tmp_path: Path, package: Path, endpoint: str) -> Path:
    (tmp_path / "PARTNERS.toml").write_text(PARTNERS, encoding="utf-8")
    path = tmp_path / "GIS.toml"
    path.write_text(
        f"""[gis]
payment_endpoint = "{endpoint}/payment"
metering_endpoint = "{endpoint}/metering"
format_package = "{package}"
org_ppa_guid = "5c1a7e4e-0a3f-4d43-9d1b-0e0f4f0f2a11"
partners_file = "PARTNERS.toml"

[gis.retry]
attempts = 2
initial = 0.01
max_interval = 0.02

[gis.poll]
initial = 0.005
max_interval = 0.02
""",
        encoding="utf-8",
    )
    return path


def test_the_host_finds_the_channel() -> None:
    host = PluginHost()
    assert not [f for f in host.failures if f.name == "gis-zhkh"], host.failures
    factory = host.delivery_channels()["gis-zhkh"]
    assert isinstance(factory, DeliveryChannelFactory)
    assert "gis-zhkh" not in host.billing_sources(), "ГИС ЖКХ is a channel only"
    info = {p.name: p for p in host.plugins()}["gis-zhkh"]
    assert info.distribution == "pes-sdk-gis-zhkh"
    assert set(info.hooks) == {"pes_delivery_channels", "pes_cli_commands"}


def test_create_touches_no_network_and_delivers(tmp_path: Path, package: Path) -> None:
    factory = PluginHost().delivery_channels()["gis-zhkh"]
    # nothing listens on port 9 of loopback: building the channel must not try
    idle = factory.create({"config": str(_gis_toml(tmp_path, package, "http://127.0.0.1:9"))})
    assert isinstance(idle, DeliveryChannel)
    assert idle.capabilities.readings and not idle.capabilities.registry_conflicts
    idle.close()
    with GisSimulator(package) as sim:
        base = sim.base_url
        channel = factory.create({"config": str(_gis_toml(tmp_path, package, base))})
        try:
            receipt = channel.deliver_payments(payment_registry(INN, 1))
        finally:
            channel.close()
        assert sim.validation_failures == []
    # the payee's details came from the partners file named in GIS.toml
    assert receipt.status is DeliveryStatus.ACCEPTED
    assert receipt.channel == "gis-zhkh" and receipt.target == f"{base}/payment"
    assert len(sim.accepted_order_ids) == 3


@pytest.mark.parametrize(
    ("settings", "message"),
    [({}, "needs the setting config"), ({"config": "x", "url": "y"}, "unknown setting")],
)
def test_bad_settings_are_config_errors(settings: dict[str, str], message: str) -> None:
    factory = PluginHost().delivery_channels()["gis-zhkh"]
    with pytest.raises(ConfigError, match=message):
        factory.create(settings)


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    factory = PluginHost().delivery_channels()["gis-zhkh"]
    with pytest.raises(ConfigError, match="cannot read"):
        factory.create({"config": str(tmp_path / "GIS.toml")})


def test_lazy_names_resolve() -> None:
    import pes_sdk_gis_zhkh

    assert pes_sdk_gis_zhkh.GisDeliveryChannel.__name__ == "GisDeliveryChannel"
    assert pes_sdk_gis_zhkh.GisClient.__name__ == "GisClient"
