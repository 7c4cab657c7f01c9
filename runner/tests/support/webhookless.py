"""What the payment backstop's tests share: the example configuration with empty inboxes
(the scans find nothing) and a sandbox acquirer on loopback whose webhooks never arrive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pes_sdk_runner.config import RunnerConfig, example_config_path, load_runner_config
from pes_sdk_sandbox import AcquirerSimulator

from pes_sdk.gateways import RetryPolicy
from pes_sdk.plugins.manager import get_host

ENV = {"PES_CLIENT_TOKENS": "c" * 16, "PES_OPERATOR_TOKENS": "o" * 16}
#: The processor's retries without waiting: the acquirer is on loopback.
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None)


def empty_inboxes_config(data: Path) -> RunnerConfig:
    """The example configuration, its data under ``data``, every partner's inbox empty."""
    config = load_runner_config(example_config_path(), get_host(), env=ENV, data=data)
    for p in config.partners:
        assert p.source.folder is not None
        p.source.folder.mkdir(parents=True)
    return config


@contextmanager
def webhookless_acquirer() -> Iterator[AcquirerSimulator]:
    """The sandbox acquirer, dropping every webhook: only asking it tells a payment's end."""
    with AcquirerSimulator() as sim:
        sim.switches.webhook_drop_rate = 1.0
        yield sim
