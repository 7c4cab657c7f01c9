"""Value objects of the billing exchange: what a delivery channel answers."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable

import attrs

from pes_sdk.models._fields import valid_inn
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.registry import RegistryKind

__all__ = [
    "ChannelCapabilities",
    "DeliveryReceipt",
    "DeliveryStatus",
    "ReadingsReceipt",
    "RejectedReading",
]


class DeliveryStatus(enum.StrEnum):
    """How the partner took a payment registry."""

    ACCEPTED = "accepted"  #: accepted now, for the first time
    ALREADY_ACCEPTED = "already-accepted"  #: the same registry was accepted before


@attrs.frozen
class DeliveryReceipt:
    """A payment registry acknowledged by its partner.

    ``receipt_id`` is the partner's id of the registry and ``accepted_at`` when it first
    accepted it: a repeated delivery gets the same id and time, with ``ALREADY_ACCEPTED``.
    ``target`` says where the registry went (an endpoint without credentials).
    """

    partner_inn: str = attrs.field(validator=valid_inn)
    number: int
    status: DeliveryStatus
    receipt_id: str
    accepted_at: dt.datetime
    channel: str
    target: str
    kind: RegistryKind = RegistryKind.PAYMENTS

    @property
    def first_time(self) -> bool:
        """Whether this delivery is the one that the partner accepted."""
        return self.status is DeliveryStatus.ACCEPTED

    def delivery(self) -> Delivery:
        """The value object of the ``pes_registry_delivered`` event."""
        return Delivery(
            self.partner_inn, self.kind, self.number, self.channel, self.target, self.accepted_at
        )


@attrs.frozen
class RejectedReading:
    """One reading of a batch that the partner refused: its 0-based position and why."""

    index: int
    reason: str


def _rejected(value: Iterable[RejectedReading]) -> tuple[RejectedReading, ...]:
    return tuple(value)


@attrs.frozen
class ReadingsReceipt:
    """What the partner did with a batch of meter readings."""

    partner_inn: str = attrs.field(validator=valid_inn)
    accepted: int
    rejected: tuple[RejectedReading, ...] = attrs.field(default=(), converter=_rejected)
    channel: str = ""
    target: str = ""


@attrs.frozen
class ChannelCapabilities:
    """What a delivery channel can carry."""

    payments: bool = True
    readings: bool = False
