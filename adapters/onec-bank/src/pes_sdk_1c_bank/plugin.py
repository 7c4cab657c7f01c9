"""Entry point of the 1C bank adapter: the ``1c-clientbank`` and ``1c-directbank`` formats."""

from __future__ import annotations

from collections.abc import Sequence

from pes_sdk.formats import RegistryFormat
from pes_sdk.plugins import hookimpl
from pes_sdk_1c_bank.clientbank import ClientBankExchangeFormat
from pes_sdk_1c_bank.directbank import DirectBankFormat

__all__ = ["pes_registry_formats"]


@hookimpl
def pes_registry_formats() -> Sequence[RegistryFormat]:
    """1CClientBankExchange (cp1251) and 1C DirectBank XML."""
    return [ClientBankExchangeFormat(), DirectBankFormat()]
