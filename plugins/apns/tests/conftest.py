"""The APNs tests run the conformance suite's channel family against the loopback simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pes_sdk_apns.simulator import ApnsSimulator, ManualClock

pytest_plugins = ["pes_sdk_conformance.plugin"]


@pytest.fixture
def clock() -> ManualClock:
    # the provider token's age is what is tested, and an hour of it cannot be waited for
    return ManualClock()


@pytest.fixture
def sim(tmp_path: Path, clock: ManualClock) -> Iterator[ApnsSimulator]:
    with ApnsSimulator(tmp_path, timeout=2.0, clock=clock) as simulator:
        yield simulator


@pytest.fixture
def p8_file(tmp_path: Path) -> str:
    """A .p8 file as Apple gives it: a P-256 private key in PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "another-AuthKey.p8"  # not the simulator's own file
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)
