"""pes-sdk: the integration kit for utility-payment services.

Import models, money and the plugin marker from here; see the docs for the rest.
"""

from pes_sdk.errors import (
    ConfigError,
    FormatError,
    Issue,
    PesError,
    PluginError,
    RegistryRefused,
    UnknownFormat,
)
from pes_sdk.models import (
    BankDetails,
    ControlTotals,
    DebtRecord,
    DebtRegistry,
    Delivery,
    FeeTerms,
    MeterReading,
    MeterType,
    Partner,
    Payment,
    PaymentLine,
    PaymentMethod,
    PaymentRecord,
    PaymentRegistry,
    PaymentTotals,
    Photo,
    RegistryHeader,
    RegistryKind,
)
from pes_sdk.money import CENT, ROUNDING, amount, parse_amount, round_money
from pes_sdk.period import Period
from pes_sdk.plugins import hookimpl
from pes_sdk.premises import Premises, PremisesKind

__version__ = "0.1.0"

__all__ = [
    "CENT",
    "ROUNDING",
    "BankDetails",
    "ConfigError",
    "ControlTotals",
    "DebtRecord",
    "DebtRegistry",
    "Delivery",
    "FeeTerms",
    "FormatError",
    "Issue",
    "MeterReading",
    "MeterType",
    "Partner",
    "Payment",
    "PaymentLine",
    "PaymentMethod",
    "PaymentRecord",
    "PaymentRegistry",
    "PaymentTotals",
    "Period",
    "PesError",
    "Photo",
    "PluginError",
    "Premises",
    "PremisesKind",
    "RegistryHeader",
    "RegistryKind",
    "RegistryRefused",
    "UnknownFormat",
    "__version__",
    "amount",
    "hookimpl",
    "parse_amount",
    "round_money",
]
