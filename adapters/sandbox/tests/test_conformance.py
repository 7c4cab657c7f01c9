"""The sandbox gateway passes the conformance suite's gateway family, over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pes_sdk_conformance.gateways import GatewayConformance
from pes_sdk_sandbox import SandboxHarness


class TestSandboxGateway(GatewayConformance):
    @pytest.fixture
    def gateway_harness(self) -> Iterator[SandboxHarness]:
        with SandboxHarness(timeout=0.5) as harness:
            yield harness
