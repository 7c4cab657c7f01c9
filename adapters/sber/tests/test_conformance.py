"""The Sber gateway passes the conformance suite's gateway family, over loopback HTTP."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import attrs
import pytest
from pes_sdk_conformance.gateways import GatewayConformance
from pes_sdk_sber import SberHarness
from pes_sdk_sber.simulator import Switches

from pes_sdk.gateways import WebhookRequest


class TestSberGateway(GatewayConformance):
    @pytest.fixture
    def gateway_harness(self) -> Iterator[SberHarness]:
        with SberHarness(timeout=0.5) as harness:
            yield harness

    def webhook_forgeries(self, genuine: WebhookRequest) -> list[WebhookRequest]:
        """A Sber callback is a GET whose parameters and checksum are in the query string:
        the forgeries are made there (a changed signed value, another operation, no
        checksum, a wrong checksum)."""
        params = dict(urllib.parse.parse_qsl(genuine.query))

        def other(value: str, *choices: str) -> str:
            # Each forgery must differ from the genuine callback: a checksum that ends in
            # "0" "tampered" to end in "0" was the callback itself (1 run in 16).
            return next(c for c in choices if c != value)

        checksum = params["checksum"]
        forged = [
            {**params, "status": other(params.get("status", ""), "0", "1")},
            {**params, "operation": other(params.get("operation", ""), "refunded", "deposited")},
            {k: v for k, v in params.items() if k != "checksum"},
            {**params, "checksum": checksum[:-1] + other(checksum[-1], "0", "1")},
        ]
        return [attrs.evolve(genuine, query=urllib.parse.urlencode(f)) for f in forged]


class TestSberGatewayLoweringDepositedAmount(TestSberGateway):
    """The family again against a bank that lowers ``depositedAmount`` by each refund."""

    @pytest.fixture
    def gateway_harness(self) -> Iterator[SberHarness]:
        switches = Switches(lower_deposited_on_refund=True)
        with SberHarness(timeout=0.5, switches=switches) as harness:
            yield harness
