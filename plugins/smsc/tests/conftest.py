"""The SMSC tests run the conformance suite's channel family against the simulator."""

pytest_plugins = ["pes_sdk_conformance.plugin"]
