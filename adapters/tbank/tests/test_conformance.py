"""The T-Bank gateway passes the conformance suite's gateway family, over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
import pytest
from pes_sdk_conformance.gateways import GatewayConformance
from pes_sdk_tbank import TBankHarness, TBankSwitches

from pes_sdk.gateways import WebhookRequest


class TestTBankGateway(GatewayConformance):
    # T-Bank's GetState and notifications tell no capture time (docs/gateways.md)
    reports_paid_at = False

    @pytest.fixture
    def gateway_harness(self) -> Iterator[TBankHarness]:
        with TBankHarness(timeout=0.5) as harness:
            yield harness

    def webhook_forgeries(self, genuine: WebhookRequest) -> list[WebhookRequest]:
        """T-Bank's signature is the ``Token`` inside the body, not a header: the forgeries
        change the body after signing (status, amount) or drop its Token."""
        data = json.loads(genuine.body)
        bodies = [
            # another status than the genuine one: a forgery must never be the notification
            {**data, "Status": "REFUNDED" if data.get("Status") != "REFUNDED" else "CONFIRMED"},
            {**data, "Amount": data["Amount"] + 100},
            {k: v for k, v in data.items() if k != "Token"},
        ]
        return [attrs.evolve(genuine, body=json.dumps(b).encode()) for b in bodies]


class TestTBankGatewayWithoutRefundSums(TestTBankGateway):
    """The family again with no ``OriginalAmount`` / ``NewAmount`` anywhere, not even in
    ``Cancel`` answers: partial refunds are read from the gateway's own record."""

    @pytest.fixture
    def gateway_harness(self) -> Iterator[TBankHarness]:
        switches = TBankSwitches(refund_sums_in_cancel=False)
        with TBankHarness(timeout=0.5, switches=switches) as harness:
            yield harness
