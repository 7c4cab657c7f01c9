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

__all__ = [
    "BankDetails",
    "ControlTotals",
    "DebtRecord",
    "DebtRegistry",
    "Delivery",
    "FeeTerms",
    "MeterReading",
    "MeterType",
    "Partner",
    "Payment",
    "PaymentLine",
    "PaymentMethod",
    "PaymentRecord",
    "PaymentRegistry",
    "PaymentTotals",
    "Photo",
    "RegistryHeader",
    "RegistryKind",
]
