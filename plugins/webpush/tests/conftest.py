"""The Web Push tests run the conformance suite's channel family against the loopback
push service simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_webpush.simulator import WebPushHarness

pytest_plugins = ["pes_sdk_conformance.plugin"]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[WebPushHarness]:
    with WebPushHarness(tmp_path, timeout=2.0) as made:
        yield made
