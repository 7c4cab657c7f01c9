"""The e-mail tests run the conformance suite's channel family, and share the SMTP simulator."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules are imported with --import-mode=importlib: the simulator beside them is put
# on the path explicitly.
HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

pytest_plugins = ["pes_sdk_conformance.plugin"]


def pytest_configure(config: pytest.Config) -> None:
    # aiosmtpd warns that AUTH without STARTTLS is unsafe: for implicit TLS it is not (the
    # connection is TLS from its first byte, which aiosmtpd does not count), and the
    # loopback server of the plain-SMTP test is the simulator's own.
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning:aiosmtpd"
    )
