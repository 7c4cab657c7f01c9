"""ЮKassa passes the conformance suite's gateway family, over loopback HTTP.

ЮKassa's notifications are unsigned and carry no signed time, so the suite skips its
tampered-signature and replay-window checks (the capabilities say so). Their place is taken
by the checks below, which hold the adapter to the rule that replaces them: a notification
is accepted only from an allowed network, and only the re-fetched payment is trusted.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from pes_sdk_conformance.gateways import GatewayConformance, basket
from pes_sdk_yookassa import YooKassaHarness

from pes_sdk.gateways import (
    Outcome,
    PaymentGateway,
    PaymentProcessor,
    PaymentState,
    WebhookRejected,
)
from pes_sdk.gateways.models import GatewayPayment

S = PaymentState


class TestYooKassaGateway(GatewayConformance):
    @pytest.fixture
    def gateway_harness(self) -> Iterator[YooKassaHarness]:
        # pages of 5 payments: the suite's lookup (lookup_crowd) must read past the first
        with YooKassaHarness(timeout=0.5, lookup_page_size=5) as harness:
            yield harness

    # -- what the suite lacks for unsigned webhooks (source network + re-fetch) ----------

    def test_webhook_from_outside_the_networks_is_refused(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: YooKassaHarness,
    ) -> None:
        """A genuine notification from a peer outside the allow-list is refused as source."""
        entry = processor.start(basket(), return_url=self.return_url)
        gateway_harness.approve(self._snapshot(processor, entry))
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        for peer in ("203.0.113.7", "127.0.0.2", None, "not-an-address"):
            with pytest.raises(WebhookRejected) as caught:
                processor.handle_webhook(attrs.evolve(hook, remote_addr=peer))
            assert caught.value.reason == "source"
        assert processor.entry(entry.order_id).state is S.PENDING

    def test_forged_webhook_body_is_not_trusted(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: YooKassaHarness,
    ) -> None:
        """A notification claiming success for an unpaid payment moves nothing: re-fetched."""
        entry = processor.start(basket(), return_url=self.return_url)
        assert entry.gateway_payment_id is not None
        forged = gateway_harness.forge_webhook("payment.succeeded", entry.gateway_payment_id)
        applied = processor.handle_webhook(forged)
        assert [a.move.outcome for a in applied] == [Outcome.DUPLICATE]
        assert processor.entry(entry.order_id).state is S.PENDING

    def test_replayed_old_webhook_repeats_only_the_present(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: YooKassaHarness,
    ) -> None:
        """Without a signed time there is no replay window: an old notification re-fetches."""
        entry = self._paid(processor, gateway_harness)
        refunded = processor.refund(entry.order_id).entry
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.REFUNDED)
        snapshots: list[GatewayPayment] = [e.payment for e in gateway.parse_webhook(hook)]
        assert [(p.state, p.refunded) for p in snapshots] == [(S.REFUNDED, refunded.refunded)]
        assert [a.move.outcome for a in processor.handle_webhook(hook)] == [Outcome.DUPLICATE]
