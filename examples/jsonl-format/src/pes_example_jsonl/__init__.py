"""pes-example-jsonl: an example third-party format plugin for pes-sdk.

It adds the registry format ``example-jsonl-debts`` (debt registries as JSON Lines); the
whole plugin is :mod:`pes_example_jsonl.plugin`. Copy this distribution to start your own.
"""
