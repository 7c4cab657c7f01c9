"""The FCM channel passes the notification channel family against the FCM simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_conformance.notifications import ChannelConformance
from pes_sdk_fcm.simulator import FcmHarness


class TestFcm(ChannelConformance):
    @pytest.fixture
    def channel_harness(self, tmp_path: Path) -> Iterator[FcmHarness]:
        with FcmHarness(tmp_path, timeout=1.0) as harness:
            yield harness


class TestFcmOverHttp2(ChannelConformance):
    """The same family through TLS and HTTP/2, as FCM itself serves."""

    @pytest.fixture
    def channel_harness(self, tmp_path: Path) -> Iterator[FcmHarness]:
        with FcmHarness(tmp_path, timeout=1.0, tls=True) as harness:
            yield harness
