"""The YooKassa gateway is found through its entry point; its factory reads settings."""

from __future__ import annotations

import uuid

import pytest
from pes_sdk_yookassa import DEFAULT_WEBHOOK_NETWORKS, YooKassaGateway, YooKassaSimulator

from pes_sdk.errors import ConfigError
from pes_sdk.gateways import GatewayFactory
from pes_sdk.plugins.manager import PluginHost


def test_entry_point_provides_yookassa() -> None:
    host = PluginHost()
    factory = host.gateways()["yookassa"]
    assert isinstance(factory, GatewayFactory)
    info = {p.name: p for p in host.plugins()}["yookassa"]
    assert info.distribution == "pes-sdk-yookassa"
    assert "pes_payment_gateways" in info.hooks
    assert not [f for f in host.failures if f.name == "yookassa"]


def test_factory_needs_credentials_and_valid_settings() -> None:
    factory = PluginHost().gateways()["yookassa"]
    with pytest.raises(ConfigError, match="shop_id, secret_key"):
        factory.create({})
    with pytest.raises(ConfigError, match="bad setting"):
        factory.create({"shop_id": "1", "secret_key": "s", "webhook_networks": "not-a-cidr"})
    with pytest.raises(ConfigError, match="bad setting"):
        factory.create({"shop_id": "1", "secret_key": "s", "timeout": "0"})


def test_factory_defaults_and_a_running_simulator() -> None:
    factory = PluginHost().gateways()["yookassa"]
    default = factory.create({"shop_id": "1", "secret_key": "live_secret"})
    assert isinstance(default, YooKassaGateway)
    assert default.timeout == 10.0
    assert [str(n) for n in default.webhook_networks.networks] == list(DEFAULT_WEBHOOK_NETWORKS)
    assert "live_secret" not in repr(default)
    default.close()
    with YooKassaSimulator() as sim:
        gateway = factory.create(
            {
                "shop_id": sim.shop_id,
                "secret_key": sim.secret_key,
                "url": sim.base_url,
                "timeout": "1",
                "webhook_networks": "127.0.0.1/32, ::1/128",
            }
        )
        assert gateway.timeout == 1.0
        assert "127.0.0.1" in gateway.webhook_networks
        assert "185.71.76.1" not in gateway.webhook_networks
        assert gateway.find_payment(uuid.uuid4(), "x" * 16) is None
        gateway.close()
