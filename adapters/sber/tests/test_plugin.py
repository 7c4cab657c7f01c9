"""The Sber gateway is found through its entry point and its factory checks its settings."""

from __future__ import annotations

import json

import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_sber import SberGateway, SberSimulator

from pes_sdk.errors import ConfigError
from pes_sdk.gateways import CreateOptions, GatewayFactory, PaymentState
from pes_sdk.plugins.manager import PluginHost


def test_entry_point_provides_sber() -> None:
    host = PluginHost()
    factory = host.gateways()["sber"]
    assert isinstance(factory, GatewayFactory)
    info = {p.name: p for p in host.plugins()}["sber"]
    assert info.distribution == "pes-sdk-sber"
    assert "pes_payment_gateways" in info.hooks
    assert not [f for f in host.failures if f.name == "sber"]


def test_factory_builds_a_working_gateway() -> None:
    factory = PluginHost().gateways()["sber"]
    with SberSimulator() as sim:
        gateway = factory.create(
            {
                "url": sim.rest_url,
                "user_name": sim.user_name,
                "password": sim.password,
                "callback_secret": sim.callback_secret.decode(),
                "timeout": "2",
                "tax_type.vat22": "10",
            }
        )
        assert isinstance(gateway, SberGateway) and gateway.timeout == 2.0
        created = gateway.create_payment(
            basket(), CreateOptions("k" * 16, "https://service.example/return")
        )
        assert created.state is PaymentState.PENDING


def test_the_recurring_settings_reach_the_first_payment() -> None:
    factory = PluginHost().gateways()["sber"]
    with SberSimulator() as sim:
        gateway = factory.create(
            {
                "url": sim.rest_url,
                "user_name": sim.user_name,
                "password": sim.password,
                "callback_secret": sim.callback_secret.decode(),
                "recurring_frequency": "28",
                "recurring_expiry": "2031-06-30",
            }
        )
        options = CreateOptions(
            "k" * 16, "https://service.example/return", save_method=True, customer_key="c-1"
        )
        gateway.create_payment(basket(), options)
        params = json.loads(sim.register_requests[-1]["jsonParams"])
        assert params == {"recurringFrequency": "28", "recurringExpiry": "20310630"}


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"url": "https://x.example/payment/rest", "callback_secret": "s"}, "user_name"),
        ({"url": "https://x.example/payment/rest", "token": "t"}, "callback_secret"),
        (
            {
                "url": "https://x.example/payment/rest",
                "token": "t",
                "callback_secret": "s",
                "tls": "off",
            },
            "tls",
        ),
        (
            {
                "url": "https://x.example/payment/rest",
                "token": "t",
                "callback_secret": "s",
                "tax_type.vat99": "1",
            },
            "tax_type.vat99",
        ),
        (
            {
                "url": "https://x.example/payment/rest",
                "token": "t",
                "callback_secret": "s",
                "recurring_expiry": "31.12.2099",
            },
            "recurring_expiry",
        ),
        (
            {
                "url": "https://x.example/payment/rest",
                "token": "t",
                "callback_secret": "s",
                "recurring_frequency": "30",
            },
            "recurring_frequency",
        ),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        PluginHost().gateways()["sber"].create(settings)
