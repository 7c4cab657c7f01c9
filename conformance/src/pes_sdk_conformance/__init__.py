"""pes-sdk-conformance: the checks every pes-sdk adapter runs in its own CI.

Activate the pytest plugin in your ``conftest.py`` (it is never loaded on its own)::

    pytest_plugins = ["pes_sdk_conformance.plugin"]

then subclass the base class of your adapter's family, e.g.
:class:`pes_sdk_conformance.formats.FormatConformance` for a registry format, or
:class:`pes_sdk_conformance.transfers.TransferFormatConformance` for payment orders and
bank statements, :class:`pes_sdk_conformance.gateways.GatewayConformance` for a payment
gateway, :class:`pes_sdk_conformance.billing.BillingConformance` for a billing source and
delivery channel, :class:`pes_sdk_conformance.notifications.ChannelConformance` for a
notification channel (SMS, push, e-mail). A new adapter family is a new module beside
these, sharing the plugin and its strictness levels.
"""

import pytest

# The checks live in this installed package, not in the author's test files: ask pytest to
# rewrite their asserts too, so that a failure shows the values that differ.
pytest.register_assert_rewrite(
    "pes_sdk_conformance.formats",
    "pes_sdk_conformance.transfers",
    "pes_sdk_conformance.gateways",
    "pes_sdk_conformance.billing",
    "pes_sdk_conformance.notifications",
)

__version__ = "0.1.0"
