"""Entry point of the sandbox gateway: the ``sandbox`` factory for ``pes_payment_gateways``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_sandbox.client import SandboxGateway

# The client and the simulator (http.server, threads) are imported when a gateway is built,
# not when the plugin loads: every `pes` command loads every plugin.

__all__ = ["SandboxFactory", "pes_payment_gateways"]


@attrs.frozen
class SandboxFactory:
    """Builds sandbox gateways.

    Settings (all optional): ``url``, ``api_key`` and ``webhook_secret`` of a running
    simulator; without ``url`` an embedded simulator is started on loopback (stopped by the
    gateway's ``close()``), sending webhooks to ``webhook_url`` if given. ``timeout`` in
    seconds (default 5).
    """

    name: str = "sandbox"
    description: str = "local acquirer simulator on loopback (card, SberPay, СБП)"

    def create(self, settings: Mapping[str, str]) -> SandboxGateway:
        from pes_sdk_sandbox.client import SandboxGateway
        from pes_sdk_sandbox.simulator import AcquirerSimulator

        timeout = float(settings.get("timeout", "5"))
        if "url" in settings:
            return SandboxGateway(
                settings["url"],
                api_key=settings.get("api_key", "sandbox-key"),
                webhook_secret=settings.get("webhook_secret", "sandbox-secret").encode(),
                timeout=timeout,
            )
        sim = AcquirerSimulator(webhook_url=settings.get("webhook_url")).start()
        return SandboxGateway(
            sim.base_url,
            api_key=sim.api_key,
            webhook_secret=sim.webhook_secret,
            timeout=timeout,
            owned=sim,
        )


@hookimpl
def pes_payment_gateways() -> Sequence[GatewayFactory]:
    """The sandbox, the kit's default gateway."""
    return [SandboxFactory()]
