"""The CSV adapter's tests run the conformance suite: activate it explicitly, as authors do."""

pytest_plugins = ["pes_sdk_conformance.plugin"]
