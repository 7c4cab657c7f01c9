"""The Sber gateway passes the conformance suite's gateway family, over loopback HTTP."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import attrs
import pytest
from pes_sdk_conformance.gateways import GatewayConformance
from pes_sdk_sber import SberHarness

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
        forged = [
            {**params, "status": "0"},
            {**params, "operation": "refunded"},
            {k: v for k, v in params.items() if k != "checksum"},
            {**params, "checksum": params["checksum"][:-1] + "0"},
        ]
        return [attrs.evolve(genuine, query=urllib.parse.urlencode(f)) for f in forged]
