"""Activates the pes-sdk conformance suite for this project's tests.

The suite is never loaded on its own: this line is what turns it on (and adds its
``--pes-conformance-level`` option and ``pes_conformance_level`` ini setting).
"""

pytest_plugins = ["pes_sdk_conformance.plugin"]
