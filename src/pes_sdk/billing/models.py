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
    "RecordOutcome",
    "RecordStatus",
    "RejectedReading",
]


class DeliveryStatus(enum.StrEnum):
    """How the partner took a payment registry."""

    ACCEPTED = "accepted"  #: accepted now, for the first time
    ALREADY_ACCEPTED = "already-accepted"  #: the same registry was accepted before


class RecordStatus(enum.StrEnum):
    """How the partner took one record of a payment registry (channels that report per record)."""

    ACCEPTED = "accepted"  #: taken now, for the first time
    ALREADY_ACCEPTED = "already-accepted"  #: the partner held this record already: not twice
    REFUSED = "refused"  #: refused, or not sent because it lacks what the partner needs


@attrs.frozen
class RecordOutcome:
    """What became of one record of a delivered payment registry.

    Some partners take a registry record by record (ГИС ЖКХ takes one notice per payment)
    and answer for each. ``index`` is the record's 0-based position in
    ``PaymentRegistry.records``; ``key`` the partner's key of it (ГИС ЖКХ: the OrderID), or
    the record's ``operation_id`` when it could not be sent at all; ``reference`` the
    partner's id of what it holds (ГИС ЖКХ: the notice's UniqueNumber or GUID), ``""`` when
    it gave none; ``code`` and ``reason`` say why a record was refused.
    """

    index: int
    key: str
    status: RecordStatus
    reference: str = ""
    code: str = ""
    reason: str = ""


def _outcomes(value: Iterable[RecordOutcome]) -> tuple[RecordOutcome, ...]:
    return tuple(value)


@attrs.frozen
class DeliveryReceipt:
    """A payment registry acknowledged by its partner.

    ``receipt_id`` is the partner's id of the registry and ``accepted_at`` when it first
    accepted it: a repeated delivery gets the same id and time, with ``ALREADY_ACCEPTED``.
    ``target`` says where the registry went (an endpoint without credentials).

    ``records`` holds per-record outcomes when the channel reports them (see
    :class:`RecordOutcome`); it is empty for channels that take a registry whole. A receipt
    is only returned when no record was refused: otherwise the channel raises
    :class:`~pes_sdk.billing.errors.RecordsRefused`, which carries the receipt.
    """

    partner_inn: str = attrs.field(validator=valid_inn)
    number: int
    status: DeliveryStatus
    receipt_id: str
    accepted_at: dt.datetime
    channel: str
    target: str
    kind: RegistryKind = RegistryKind.PAYMENTS
    records: tuple[RecordOutcome, ...] = attrs.field(default=(), converter=_outcomes)

    @property
    def refused(self) -> tuple[RecordOutcome, ...]:
        """The records the partner refused (or that were not sent), in registry order."""
        return tuple(r for r in self.records if r.status is RecordStatus.REFUSED)

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
    #: the partner keys payment registries by number, so the same number with other content
    #: is refused (:class:`~pes_sdk.billing.errors.RegistryConflict`). False for channels
    #: idempotent per record instead (ГИС ЖКХ: per OrderID), where the first record stands.
    registry_conflicts: bool = True
