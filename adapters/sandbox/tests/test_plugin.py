"""The sandbox is found through its entry point and its factory builds working gateways."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

from pes_sdk_sandbox import SandboxGateway, WebhookReceiver, processor_handler
from pes_sdk_sandbox.simulator import AcquirerSimulator

from pes_sdk.gateways import GatewayFactory, PaymentProcessor, PaymentState
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.plugins.manager import PluginHost


def test_entry_point_provides_the_sandbox() -> None:
    host = PluginHost()
    factories = host.gateways()
    assert isinstance(factories["sandbox"], GatewayFactory)
    assert host.provider_of("pes_payment_gateways", "sandbox") == "sandbox"
    info = {p.name: p for p in host.plugins()}["sandbox"]
    assert info.distribution == "pes-sdk-sandbox"
    assert "pes_payment_gateways" in info.hooks
    assert not [f for f in host.failures if f.name == "sandbox"]


def test_disabled_sandbox_is_not_offered() -> None:
    assert "sandbox" not in PluginHost(disabled=["sandbox"]).gateways()


def test_embedded_default_end_to_end() -> None:
    """No settings: the factory starts its own simulator; webhooks reach the processor."""
    factory = PluginHost().gateways()["sandbox"]
    gateway = factory.create({"timeout": "2"})
    assert isinstance(gateway, SandboxGateway) and gateway.simulator is not None
    sim = gateway.simulator
    credited = threading.Event()
    processor = PaymentProcessor(gateway, on_credit=lambda entry: credited.set())
    payment = Payment(
        uuid.uuid4(),
        dt.datetime.now(dt.UTC),
        PaymentMethod.CARD,
        [PaymentLine("7707083893", "0000123", Decimal("500.00"))],
    )
    with WebhookReceiver(processor_handler(processor)) as receiver:
        sim.webhook_url = receiver.url
        entry = processor.start(payment, return_url="https://service.example/done")
        assert entry.gateway_payment_id is not None
        sim.approve(entry.gateway_payment_id)
        assert credited.wait(5), "the webhook never credited the payment"
        assert processor.entry(payment.payment_id).state is PaymentState.SUCCEEDED
    gateway.close()
    assert gateway.simulator is None


def test_factory_connects_to_a_running_simulator() -> None:
    with AcquirerSimulator(api_key="k1", webhook_secret=b"s1") as sim:
        gateway = (
            PluginHost()
            .gateways()["sandbox"]
            .create({"url": sim.base_url, "api_key": "k1", "webhook_secret": "s1", "timeout": "1"})
        )
        assert gateway.timeout == 1.0
        assert gateway.find_payment(uuid.uuid4(), "x" * 16) is None
        gateway.close()
