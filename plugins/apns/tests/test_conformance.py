"""The APNs channel passes the notification channel family against the HTTP/2 simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_apns.simulator import ApnsSimulator
from pes_sdk_conformance.notifications import ChannelConformance


class TestApns(ChannelConformance):
    @pytest.fixture
    def channel_harness(self, tmp_path: Path) -> Iterator[ApnsSimulator]:
        with ApnsSimulator(tmp_path, timeout=1.0) as harness:
            yield harness
