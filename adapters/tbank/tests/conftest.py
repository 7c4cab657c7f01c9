"""The T-Bank tests run the conformance suite's gateway family, so its plugin is active."""

pytest_plugins = ["pes_sdk_conformance.plugin"]
