"""The suite's own tests: the plugin is active, and ``support/`` holds the formats under test."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules are imported with --import-mode=importlib, so the helper modules of this
# folder are put on the path explicitly (also for the pytester runs of test_catches_faults).
SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

pytest_plugins = ["pes_sdk_conformance.plugin", "pytester"]
