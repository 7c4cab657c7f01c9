"""The models of pes-sdk: small, frozen value objects checked when they are built."""

from pes_sdk.models.debts import DebtRecord, DebtRegistry
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.partners import BankDetails, FeeTerms, Partner
from pes_sdk.models.payments import (
    Payment,
    PaymentLine,
    PaymentMethod,
    PaymentRecord,
    PaymentRegistry,
    PaymentTotals,
)
from pes_sdk.models.readings import MeterReading, MeterType, Photo
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.models.transfers import Direction, Party, PaymentOrder, Statement, StatementEntry

__all__ = [
    "BankDetails",
    "ControlTotals",
    "DebtRecord",
    "DebtRegistry",
    "Delivery",
    "Direction",
    "FeeTerms",
    "MeterReading",
    "MeterType",
    "Partner",
    "Party",
    "Payment",
    "PaymentLine",
    "PaymentMethod",
    "PaymentOrder",
    "PaymentRecord",
    "PaymentRegistry",
    "PaymentTotals",
    "Photo",
    "RegistryHeader",
    "RegistryKind",
    "Statement",
    "StatementEntry",
]
