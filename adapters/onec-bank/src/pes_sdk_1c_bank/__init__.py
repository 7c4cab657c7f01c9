"""pes-sdk bank exchange with 1C: payment orders out, bank statements in.

Two formats, both of kind ``transfers`` (they write :class:`~pes_sdk.models.PaymentOrder`
records and read :class:`~pes_sdk.models.StatementEntry` records):

``1c-clientbank``
    1CClientBankExchange 1.03 text (cp1251, or cp866 for ``Кодировка=DOS``), see
    :mod:`pes_sdk_1c_bank.clientbank`.
``1c-directbank``
    1C DirectBank XML (``PayDocRu`` / ``Statement``, schema version 2.3.2), see
    :mod:`pes_sdk_1c_bank.directbank`.
"""

from pes_sdk_1c_bank.clientbank import ClientBankExchangeFormat, ClientBankReader, read_orders
from pes_sdk_1c_bank.directbank import (
    DirectBankFormat,
    DirectBankSchemas,
    StatementReader,
    read_paydoc,
    write_statement,
)

__all__ = [
    "ClientBankExchangeFormat",
    "ClientBankReader",
    "DirectBankFormat",
    "DirectBankSchemas",
    "StatementReader",
    "read_orders",
    "read_paydoc",
    "write_statement",
]
