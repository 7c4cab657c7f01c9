"""The e-mail channel passes the notification channel family against a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_conformance.notifications import ChannelConformance
from smtp_simulator import SmtpSimulator


class TestEmailStartTls(ChannelConformance):
    @pytest.fixture
    def channel_harness(self, tmp_path: Path) -> Iterator[SmtpSimulator]:
        with SmtpSimulator(tmp_path, security="starttls") as harness:
            yield harness


class TestEmailImplicitTls(ChannelConformance):
    @pytest.fixture
    def channel_harness(self, tmp_path: Path) -> Iterator[SmtpSimulator]:
        with SmtpSimulator(tmp_path, security="tls") as harness:
            yield harness
