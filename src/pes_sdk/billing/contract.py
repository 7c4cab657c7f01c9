"""The contract of billing sources and delivery channels, and of the factories plugins provide.

A **billing source** (источник начислений) fetches a partner's debt registry for a period
from the partner's own system (a SOAP endpoint, ГИС ЖКХ, an API), all of it: every page,
checked against the control totals of the whole registry. A **delivery channel** (канал
доставки) hands the partner its daily payment registry, idempotently by partner + registry
number, and, when it can, meter readings.

An adapter maps its protocol's failures onto :mod:`pes_sdk.billing.errors` and retries only
idempotent calls, only after transient errors, always with a stop
(:class:`~pes_sdk.billing.retry.BillingRetry`). Every network call has a timeout. Factories
are what the ``pes_billing_sources`` and ``pes_delivery_channels`` hooks return; building a
source or a channel from settings must not touch the network.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from pes_sdk.billing.errors import ControlTotalsMismatch, PagingError
from pes_sdk.billing.models import ChannelCapabilities, DeliveryReceipt, ReadingsReceipt
from pes_sdk.models.debts import DebtRegistry
from pes_sdk.models.payments import PaymentRegistry
from pes_sdk.models.readings import MeterReading
from pes_sdk.period import Period

__all__ = [
    "BillingSource",
    "BillingSourceFactory",
    "DeliveryChannel",
    "DeliveryChannelFactory",
    "verify_complete",
]


class BillingSource(abc.ABC):
    """One configured connection to one partner's billing, as a source of debt registries."""

    #: the source's name, as its factory is registered (``soap-billing``, …)
    name: str

    @abc.abstractmethod
    def fetch_debts(self, partner_inn: str, period: Period) -> DebtRegistry:
        """The partner's current debt registry for ``period``, whole.

        Reads every page; the registry's ``control`` holds the totals the partner declared
        for the whole registry, and the records are checked against them
        (:func:`verify_complete`) before anything is returned. Raises
        :class:`~pes_sdk.billing.errors.BillingError` subclasses only.
        """

    def close(self) -> None:  # noqa: B027 - optional, most sources hold only a session
        """Release connections."""


class DeliveryChannel(abc.ABC):
    """One configured connection through which registries reach one partner."""

    name: str
    capabilities: ChannelCapabilities = ChannelCapabilities()

    @abc.abstractmethod
    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        """Hand over a payment registry; idempotent by ``(partner_inn, number)``.

        Delivering the same registry again returns a receipt with
        :attr:`~pes_sdk.billing.models.DeliveryStatus.ALREADY_ACCEPTED` and the first
        acceptance's id; the same number with other content raises
        :class:`~pes_sdk.billing.errors.RegistryConflict`.

        A channel whose partner takes a registry record by record (ГИС ЖКХ) is idempotent
        per record instead (``capabilities.registry_conflicts`` is False): the receipt's
        ``records`` say what became of each, and refused records raise
        :class:`~pes_sdk.billing.errors.RecordsRefused` carrying that receipt.
        """

    def deliver_readings(
        self, partner_inn: str, readings: Sequence[MeterReading]
    ) -> ReadingsReceipt:
        """Hand over meter readings (when ``capabilities.readings``); not retried."""
        raise NotImplementedError(f"the channel {self.name!r} does not carry meter readings")

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


def verify_complete(registry: DebtRegistry, *, endpoint: str = "") -> DebtRegistry:
    """Check that a registry assembled from pages is whole, and return it.

    A record whose ``(account, service)`` repeats an earlier one is a
    :class:`~pes_sdk.billing.errors.PagingError` (a page read twice, or a registry that
    moved under the reader); a count or sum different from the declared ``control`` totals
    is a :class:`~pes_sdk.billing.errors.ControlTotalsMismatch`. A registry without
    control totals is refused too: the check is the point.
    """
    if registry.control is None:
        raise ControlTotalsMismatch(
            "the registry declares no control totals to check the pages against",
            endpoint=endpoint,
        )
    issues = registry.problems()
    repeats = [i for i in issues if i.line]
    if repeats:
        raise PagingError(
            f"{len(repeats)} record(s) repeat across pages, first: {repeats[0]}",
            endpoint=endpoint,
            issues=repeats,
        )
    if issues:
        raise ControlTotalsMismatch(
            "; ".join(i.message for i in issues), endpoint=endpoint, issues=issues
        )
    return registry


@runtime_checkable
class BillingSourceFactory(Protocol):
    """What the ``pes_billing_sources`` hook returns: builds billing sources from settings."""

    @property
    def name(self) -> str:
        """The source's name, unique across plugins."""
        ...

    @property
    def description(self) -> str:
        """One line for listings."""
        ...

    def create(self, settings: Mapping[str, str]) -> BillingSource:
        """A source configured by ``settings`` (endpoint, timeouts, credentials)."""
        ...


@runtime_checkable
class DeliveryChannelFactory(Protocol):
    """What the ``pes_delivery_channels`` hook returns: builds delivery channels."""

    @property
    def name(self) -> str:
        """The channel's name, unique across plugins."""
        ...

    @property
    def description(self) -> str:
        """One line for listings."""
        ...

    def create(self, settings: Mapping[str, str]) -> DeliveryChannel:
        """A channel configured by ``settings`` (endpoint, timeouts, credentials)."""
        ...
