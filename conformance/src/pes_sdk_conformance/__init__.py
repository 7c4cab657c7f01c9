"""The pes-sdk conformance suite."""
