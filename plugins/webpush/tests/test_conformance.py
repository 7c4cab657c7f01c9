"""The Web Push channel passes the notification channel family against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_conformance.notifications import ChannelConformance
from pes_sdk_webpush.simulator import WebPushHarness


class TestWebPush(ChannelConformance):
    @pytest.fixture
    def channel_harness(self, tmp_path: Path) -> Iterator[WebPushHarness]:
        with WebPushHarness(tmp_path, timeout=1.0) as harness:
            yield harness
