"""The ATOL tests: a register in front of the loopback simulator of ATOL's API v5.

Shared data lives in :mod:`pes_sdk_atol.samples` (test modules cannot import this file
under ``--import-mode=importlib``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pes_sdk_atol.client import AtolRegister
from pes_sdk_atol.samples import NOW, no_sleep, settings
from pes_sdk_atol.simulator import AtolSimulator


@pytest.fixture
def simulator() -> Iterator[AtolSimulator]:
    sim = AtolSimulator().start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def register(simulator: AtolSimulator) -> Iterator[AtolRegister]:
    reg = AtolRegister(settings(simulator), sleep=no_sleep, now=lambda: NOW)
    try:
        yield reg
    finally:
        reg.close()
