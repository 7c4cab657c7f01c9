"""The FCM tests run the conformance suite's channel family against the FCM simulator."""

pytest_plugins = ["pes_sdk_conformance.plugin"]
