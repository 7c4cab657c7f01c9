"""The SOAP billing tests run the conformance suite's billing family, so its plugin is active."""

pytest_plugins = ["pes_sdk_conformance.plugin"]
