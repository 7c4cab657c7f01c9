"""pes-sdk-atol: e-receipts (54-ФЗ) through the cloud register АТОЛ Онлайн, API v5.

* :class:`~pes_sdk_atol.plugin.AtolFactory`: the ``atol`` factory of the
  ``pes_fiscal_registers`` hook, and its settings;
* :class:`~pes_sdk_atol.client.AtolRegister`: ``register`` (sell), ``refund``
  (sell_refund) and ``report`` by uuid, with the token kept and renewed;
* :mod:`~pes_sdk_atol.wire`: the v5 receipt body from the kit's
  :class:`~pes_sdk.models.receipts.Receipt`, and the report back;
* :class:`~pes_sdk_atol.simulator.AtolSimulator`: ATOL's API v5 on loopback.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports
from pes_sdk_atol.plugin import DEFAULT_PASSWORD_ENV, SETTINGS, AtolFactory

if TYPE_CHECKING:
    from pes_sdk_atol.client import AtolRegister, AtolSettings
    from pes_sdk_atol.simulator import AtolSimulator

__all__ = [
    "DEFAULT_PASSWORD_ENV",
    "SETTINGS",
    "AtolFactory",
    "AtolRegister",
    "AtolSettings",
    "AtolSimulator",
]

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "AtolRegister": "pes_sdk_atol.client",
        "AtolSettings": "pes_sdk_atol.client",
        "AtolSimulator": "pes_sdk_atol.simulator",
    },
)
