"""The plugin: found through its entry point, factories by name, settings checked, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from pes_sdk_soap_billing.client import LocalOnlyTransport, SoapBillingClient, wsdl_path
from pes_sdk_soap_billing.plugin import client_from_settings

from pes_sdk.billing import BillingSourceFactory, DeliveryChannelFactory
from pes_sdk.errors import ConfigError
from pes_sdk.plugins.manager import PluginHost


def test_the_host_finds_the_source_and_the_channel() -> None:
    host = PluginHost()
    assert not [f for f in host.failures if f.name == "soap-billing"], host.failures
    source = host.billing_sources()["soap-billing"]
    channel = host.delivery_channels()["soap-billing"]
    assert isinstance(source, BillingSourceFactory)
    assert isinstance(channel, DeliveryChannelFactory)
    assert host.provider_of("pes_billing_sources", "soap-billing") == "soap-billing"
    info = {p.name: p for p in host.plugins()}["soap-billing"]
    assert info.distribution == "pes-sdk-soap-billing"
    assert set(info.hooks) == {"pes_billing_sources", "pes_delivery_channels"}


def test_create_from_settings_touches_no_network() -> None:
    # nothing listens on port 9 of loopback: building the client must not try
    factory = PluginHost().billing_sources()["soap-billing"]
    client = factory.create(
        {"url": "http://127.0.0.1:9/pes-billing", "operation_timeout": "7", "attempts": "2"}
    )
    assert isinstance(client, SoapBillingClient)
    assert client.retry.attempts == 2
    assert client.endpoint == "http://127.0.0.1:9/pes-billing"
    client.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "needs the setting url"),
        ({"url": "ftp://127.0.0.1/x"}, "must be http"),
        ({"url": "http://user:secret@127.0.0.1/x"}, "credentials"),
        ({"url": "http://127.0.0.1/x", "timeout": "0"}, "positive"),
        ({"url": "http://127.0.0.1/x", "operation_timeout": "soon"}, "a number"),
        ({"url": "http://127.0.0.1/x", "page_size": "0"}, "page_size"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        client_from_settings(settings)
    assert "secret" not in str(caught.value)


def test_the_wsdl_is_package_data() -> None:
    wsdl = wsdl_path()
    assert wsdl.is_file() and (wsdl.parent / "billing.xsd").is_file()
    text = wsdl.read_text(encoding="utf-8")
    assert 'targetNamespace="urn:pes-sdk:billing:1"' in text


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/billing.xsd", "https://example.invalid/x.wsdl", "file://host/x.xsd"],
)
def test_the_transport_loads_local_files_only(url: str) -> None:
    transport = LocalOnlyTransport(wsdl_path().parent, timeout=1, operation_timeout=1)
    with pytest.raises(ConfigError, match="local files"):
        transport.load(url)


def test_the_transport_stays_in_its_folder(tmp_path: Path) -> None:
    outside = tmp_path / "other.xsd"
    outside.write_text("<x/>", encoding="utf-8")
    transport = LocalOnlyTransport(wsdl_path().parent, timeout=1, operation_timeout=1)
    with pytest.raises(ConfigError, match="outside"):
        transport.load(str(outside))
    assert transport.load(str(wsdl_path())).startswith(b"<?xml")


def test_zeep_settings_are_hardened() -> None:
    from pes_sdk_soap_billing.client import hardened_settings

    s = hardened_settings()
    assert (s.strict, s.forbid_dtd, s.forbid_entities, s.forbid_external) == (
        True,
        True,
        True,
        True,
    )
    client = SoapBillingClient("http://127.0.0.1:9/x", timeout=3, operation_timeout=4)
    transport = client._transport
    assert (transport.load_timeout, transport.operation_timeout) == (3, 4)
    client.close()


def test_the_host_refuses_wrong_items_and_taken_names() -> None:
    from pes_sdk_soap_billing import plugin as soap

    from pes_sdk.plugins import hookimpl

    class Broken:
        @hookimpl
        def pes_billing_sources(self) -> list[object]:
            return ["not a factory", soap.SoapBillingSourceFactory()]

        @hookimpl
        def pes_delivery_channels(self) -> list[object]:
            raise RuntimeError("boom")

    host = PluginHost(entry_points=False, disabled=())
    assert host.register(soap, name="soap-billing")
    assert host.register(Broken(), name="broken")
    assert list(host.billing_sources()) == ["soap-billing"]
    assert list(host.delivery_channels()) == ["soap-billing"]
    errors = [f.error for f in host.failures if f.name == "broken"]
    assert any("not BillingSourceFactory" in e for e in errors)
    assert any("'soap-billing' is already provided" in e for e in errors)
    assert any("hook pes_delivery_channels raised RuntimeError: boom" in e for e in errors)
