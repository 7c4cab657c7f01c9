"""The small attrs models of the HTTP API's requests and responses.

There is no second model layer: the SDK's own models (:class:`~pes_sdk.models.payments.PaymentLine`,
:class:`~pes_sdk.gateways.models.Confirmation`) and the store's values
(:class:`~pes_sdk_runner.store.base.Acceptance`, :class:`~pes_sdk_runner.store.base.DeliveryInfo`,
…) travel as they are, (un)structured by :func:`pes_sdk.serialization.make_converter` with
extra keys forbidden. The classes here only wrap them where a request carries something
no model has (the app's client id, a return URL) or a response adds a derived figure
(a service's ``balance`` and ``due``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs

from pes_sdk.gateways.models import Confirmation, PaymentState
from pes_sdk.models.payments import PaymentLine, PaymentMethod
from pes_sdk.period import Period
from pes_sdk_runner.store.base import (
    Acceptance,
    DebtRegistryInfo,
    DeliveryInfo,
    PaymentRegistryInfo,
    ServiceBalance,
)

__all__ = [
    "AcceptanceRequest",
    "AcceptanceView",
    "BasketLine",
    "DeliveriesView",
    "ErrorView",
    "HealthView",
    "PaymentRegistryView",
    "PaymentRequest",
    "PaymentView",
    "RegistriesView",
    "ServiceView",
    "ServicesView",
]


@attrs.frozen
class ErrorView:
    """Every error answer: a stable ``error`` code, a message, and the field at fault."""

    error: str
    message: str
    field: str | None = None


@attrs.frozen
class HealthView:
    status: str
    schema_version: int


@attrs.frozen
class ServiceView:
    """One partner service at an address or on an account, with what is left to pay."""

    partner_inn: str
    account: str
    service: str
    house_id: str
    premises: str
    debt: Decimal
    paid: Decimal
    balance: Decimal
    due: Decimal
    registry_period: Period
    registry_number: int
    period: Period | None = None

    @classmethod
    def of(cls, s: ServiceBalance) -> ServiceView:
        return cls(
            s.partner_inn,
            s.account,
            s.service,
            s.house_id,
            s.premises,
            s.debt,
            s.paid,
            s.balance,
            s.due,
            s.registry_period,
            s.registry_number,
            s.period,
        )


@attrs.frozen
class ServicesView:
    services: tuple[ServiceView, ...]


@attrs.frozen
class AcceptanceRequest:
    """The client's tick (галочка-акцепт) on a partner service.

    ``client_id`` is the app's own opaque id of its user (never a name); the runner keeps
    it under the app's token, so two apps cannot see each other's clients.
    """

    client_id: str
    partner_inn: str
    account: str
    service: str = ""


@attrs.frozen
class AcceptanceView:
    acceptance: Acceptance


@attrs.frozen
class BasketLine:
    """One line of a basket as the app sends it; the rest comes from the accepted service."""

    partner_inn: str
    account: str
    amount: Decimal
    service: str = ""


@attrs.frozen
class PaymentRequest:
    """A basket payment. The ``Idempotency-Key`` header makes a retry return the same one."""

    client_id: str
    lines: tuple[BasketLine, ...]
    return_url: str
    method: PaymentMethod = PaymentMethod.CARD
    description: str = ""


@attrs.frozen
class PaymentView:
    """A payment as the app sees it: its state, total and what to show the client."""

    order_id: uuid.UUID
    state: PaymentState
    total: Decimal
    created_at: dt.datetime
    method: PaymentMethod
    lines: tuple[PaymentLine, ...]
    confirmation: Confirmation | None = None


@attrs.frozen
class PaymentRegistryView:
    registry: PaymentRegistryInfo
    deliveries: tuple[DeliveryInfo, ...]


@attrs.frozen
class RegistriesView:
    debt_registries: tuple[DebtRegistryInfo, ...]
    payment_registries: tuple[PaymentRegistryView, ...]


@attrs.frozen
class DeliveriesView:
    deliveries: tuple[DeliveryInfo, ...]
