"""The SMSC channel passes the notification channel family against the SMSC simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pes_sdk_conformance.notifications import ChannelConformance
from pes_sdk_smsc.simulator import SmscHarness


class TestSmsc(ChannelConformance):
    @pytest.fixture
    def channel_harness(self) -> Iterator[SmscHarness]:
        with SmscHarness(timeout=1.0) as harness:
            yield harness
