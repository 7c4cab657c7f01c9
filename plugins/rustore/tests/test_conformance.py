"""The RuStore channel passes the notification channel family against the RuStore simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pes_sdk_conformance.notifications import ChannelConformance
from pes_sdk_rustore.simulator import RuStoreHarness


class TestRuStore(ChannelConformance):
    @pytest.fixture
    def channel_harness(self) -> Iterator[RuStoreHarness]:
        with RuStoreHarness(timeout=1.0) as harness:
            yield harness
