"""pes-sdk-sandbox: the embedded default payment gateway of pes-sdk.

* :class:`~pes_sdk_sandbox.simulator.AcquirerSimulator`: a local acquirer on loopback with a
  confirmation page, card / SberPay / СБП, signed webhooks and switches for failures;
* :class:`~pes_sdk_sandbox.client.SandboxGateway`: the gateway adapter that talks to it;
* :class:`~pes_sdk_sandbox.receiver.WebhookReceiver`: a loopback webhook endpoint;
* :class:`~pes_sdk_sandbox.harness.SandboxHarness`: drives the acquirer side for the
  conformance suite's gateway family.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_sandbox.client import SandboxGateway
    from pes_sdk_sandbox.harness import SandboxHarness
    from pes_sdk_sandbox.receiver import WebhookReceiver, processor_handler
    from pes_sdk_sandbox.simulator import AcquirerReport, AcquirerSimulator, SandboxError, Switches

__all__ = [
    "AcquirerReport",
    "AcquirerSimulator",
    "SandboxError",
    "SandboxGateway",
    "SandboxHarness",
    "Switches",
    "WebhookReceiver",
    "processor_handler",
]

__version__ = "0.1.0"

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "AcquirerReport": "pes_sdk_sandbox.simulator",
        "AcquirerSimulator": "pes_sdk_sandbox.simulator",
        "SandboxError": "pes_sdk_sandbox.simulator",
        "SandboxGateway": "pes_sdk_sandbox.client",
        "SandboxHarness": "pes_sdk_sandbox.harness",
        "Switches": "pes_sdk_sandbox.simulator",
        "WebhookReceiver": "pes_sdk_sandbox.receiver",
        "processor_handler": "pes_sdk_sandbox.receiver",
    },
)
