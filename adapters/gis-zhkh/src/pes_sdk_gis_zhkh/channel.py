"""ГИС ЖКХ as a delivery channel of the SDK (:class:`~pes_sdk.billing.DeliveryChannel`).

A payment registry is reported to ГИС ЖКХ as one notice per record
(``importNotificationsOfOrderExecution``), meter readings as ``importMeteringDeviceValues``.
ГИС ЖКХ keys what it holds by payment, not by registry: every notice carries the OrderID
derived from the record (:func:`~pes_sdk_gis_zhkh.ids.order_id`), so the channel is
idempotent **per record** — delivering a registry again reports nothing twice and gives
``ALREADY_ACCEPTED`` — and ``capabilities.registry_conflicts`` is False: ГИС ЖКХ cannot
tell that a registry number came back with other content, it keeps the first notice of
each OrderID.

What ГИС ЖКХ answers per item becomes the receipt's ``records``
(:class:`~pes_sdk.billing.RecordOutcome`); a refused record (or one the adapter could not
send) raises :class:`~pes_sdk.billing.RecordsRefused` with that receipt. The adapter's own
errors are mapped onto the SDK's billing errors, so a caller needs to know nothing of
ГИС ЖКХ to decide what to do next:

=============================================  ======================================
adapter error                                  billing error
=============================================  ======================================
``GisTransportError`` (timeout)                ``BillingTimeout``
``GisTransportError`` (5xx, connection)        ``BillingUnavailable`` (``status``)
``GisTransportError`` (hostile, broken answer) ``BillingProtocolError``
``GisFault`` with a transient code             ``BillingUnavailable``
``GisFault``                                   ``BillingFault`` (``code``)
``GisMessageFailed``                           ``BillingFault`` (``code``)
``GisPollTimeout``                             ``BillingTimeout`` (the MessageGUID said)
=============================================  ======================================

The client's own bounded retries (``retry.attempts``) are the only ones: the channel adds
none on top. Readings are sent once, as the contract says (their ``getState`` polls,
being reads, are retried).
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import requests
import zeep.exceptions

from pes_sdk.billing.contract import DeliveryChannel
from pes_sdk.billing.errors import (
    BillingError,
    BillingFault,
    BillingProtocolError,
    BillingTimeout,
    BillingUnavailable,
    RecordsRefused,
)
from pes_sdk.billing.models import (
    ChannelCapabilities,
    DeliveryReceipt,
    DeliveryStatus,
    ReadingsReceipt,
    RecordOutcome,
    RecordStatus,
    RejectedReading,
)
from pes_sdk.models.payments import PaymentRegistry
from pes_sdk.models.readings import MeterReading
from pes_sdk.partners_file import PartnersFile
from pes_sdk_gis_zhkh.client import NOT_SENT_INCOMPLETE, GisClient, reading_transport_guid
from pes_sdk_gis_zhkh.errors import (
    GisError,
    GisFault,
    GisMessageFailed,
    GisPollTimeout,
    GisTransportError,
)
from pes_sdk_gis_zhkh.ids import stable_guid
from pes_sdk_gis_zhkh.models import (
    SERVICE_TIME_ZONE,
    ItemResult,
    ItemStatus,
    PaymentNotice,
    Recipient,
)

__all__ = ["CHANNEL_NAME", "GisDeliveryChannel", "billing_error"]

CHANNEL_NAME = "gis-zhkh"

_RECORD_STATUS = {
    ItemStatus.ACCEPTED: RecordStatus.ACCEPTED,
    ItemStatus.ALREADY_REPORTED: RecordStatus.ALREADY_ACCEPTED,
    ItemStatus.REFUSED: RecordStatus.REFUSED,
    ItemStatus.NOT_SENT: RecordStatus.REFUSED,
}


def billing_error(exc: GisError, *, endpoint: str) -> BillingError:
    """The SDK billing error that tells a caller what ``exc`` allows (see the module table)."""
    if isinstance(exc, GisTransportError):
        cause = exc.__cause__
        if isinstance(cause, requests.Timeout):
            return BillingTimeout(str(exc), endpoint=endpoint)
        if isinstance(cause, zeep.exceptions.TransportError):
            return BillingUnavailable(str(exc), endpoint=endpoint, status=cause.status_code)
        if isinstance(cause, requests.ConnectionError):
            return BillingUnavailable(str(exc), endpoint=endpoint)
        return BillingProtocolError(str(exc), endpoint=endpoint)
    if isinstance(exc, GisFault):
        if exc.transient:
            return BillingUnavailable(str(exc), endpoint=endpoint)
        return BillingFault(exc.message, endpoint=endpoint, code=exc.code)
    if isinstance(exc, GisMessageFailed):
        return BillingFault(str(exc), endpoint=endpoint, code=exc.code)
    if isinstance(exc, GisPollTimeout):
        return BillingTimeout(
            f"{exc}; delivering the same registry again reports nothing twice",
            endpoint=endpoint,
        )
    return BillingFault(str(exc), endpoint=endpoint)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class GisDeliveryChannel(DeliveryChannel):
    """Payment registries and meter readings to ГИС ЖКХ through a :class:`GisClient`.

    ``recipients`` gives the payee of the full form for a partner ИНН (a mapping, or a
    function returning None for an unknown partner); without one, the configured
    ``partners_file`` is read when first needed. The short form needs no recipient (its
    identifiers come from the records' ``GIS_*`` tags). ``devices`` maps meter numbers to
    their MeteringDeviceRootGUIDs on top of the configured ones. ``time_zone`` is the
    service's zone, which dates each notice (``OrderDate``); by default the partners file's
    ``service.time_zone``, else Europe/Moscow. The channel owns the client: :meth:`close`
    closes it.
    """

    name = CHANNEL_NAME
    capabilities = ChannelCapabilities(payments=True, readings=True, registry_conflicts=False)

    def __init__(
        self,
        client: GisClient,
        *,
        recipients: Mapping[str, Recipient] | Callable[[str], Recipient | None] | None = None,
        devices: Mapping[str, str] | None = None,
        time_zone: dt.tzinfo | None = None,
    ) -> None:
        self.client = client
        self._recipients = recipients
        self._devices = dict(devices or {})
        self._time_zone = time_zone
        self._partners: PartnersFile | None = None

    @property
    def endpoint(self) -> str:
        """Where payments go (the configured endpoint, which carries no credentials)."""
        return self.client.config.payment_endpoint

    def close(self) -> None:
        self.client.close()

    def _partners_file(self) -> PartnersFile | None:
        path = self.client.config.partners_file
        if path is None:
            return None
        if self._partners is None:
            from pes_sdk.partners_file import load_partners

            self._partners = load_partners(path)
        return self._partners

    def _zone(self) -> dt.tzinfo:
        if self._time_zone is None:
            partners = self._partners_file()
            self._time_zone = partners.service.time_zone if partners else SERVICE_TIME_ZONE
        return self._time_zone

    def _recipient(self, inn: str) -> Recipient | None:
        found = self._recipients
        if found is None:
            partners = self._partners_file()
            partner = partners.find(inn) if partners is not None else None
            return Recipient.from_partner(partner) if partner is not None else None
        if callable(found):
            return found(inn)
        return found.get(inn)

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        """Report every record of ``registry`` to ГИС ЖКХ; idempotent per record (OrderID).

        Returns a receipt whose ``records`` hold one outcome per record, in order; its
        status is ``ALREADY_ACCEPTED`` when ГИС ЖКХ knew every record already, else
        ``ACCEPTED``. Raises :class:`RecordsRefused` (with that receipt) when any record was
        refused or could not be sent, and the other billing errors per the module table.
        """
        recipient = self._recipient(registry.partner_inn) if registry.records else None
        zone = self._zone() if registry.records else SERVICE_TIME_ZONE
        online = self.client.config.online_channels
        notices: list[PaymentNotice] = []
        unusable: list[RecordOutcome] = []
        # OrderID → the positions of the records carrying it (a repeated line repeats it)
        positions: dict[str, collections.deque[int]] = collections.defaultdict(collections.deque)
        for index, record in enumerate(registry.records):
            try:
                notice = PaymentNotice.from_record(
                    record, recipient, time_zone=zone, online_channels=online
                )
            except ValueError as exc:  # e.g. a GIS_* tag of the wrong length
                unusable.append(
                    RecordOutcome(
                        index,
                        record.operation_id,
                        RecordStatus.REFUSED,
                        code=NOT_SENT_INCOMPLETE,
                        reason=str(exc),
                    )
                )
                continue
            positions[notice.order_id].append(index)
            notices.append(notice)
        try:
            report = self.client.notify(notices)
        except GisError as exc:
            raise billing_error(exc, endpoint=self.endpoint) from exc
        outcomes = sorted(
            [*(self._outcome(item, positions) for item in report.items), *unusable],
            key=lambda o: o.index,
        )
        statuses = {o.status for o in outcomes}
        status = (
            DeliveryStatus.ALREADY_ACCEPTED
            if statuses == {RecordStatus.ALREADY_ACCEPTED}
            else DeliveryStatus.ACCEPTED
        )
        receipt = DeliveryReceipt(
            registry.partner_inn,
            registry.number,
            status,
            # ГИС ЖКХ has no id for a registry: this one is derived from the registry and
            # its OrderIDs, so a repeated delivery names the same receipt.
            stable_guid("registry", registry.partner_inn, str(registry.number), *sorted(positions)),
            # ГИС ЖКХ does not say when it first took a known notice: a repeat carries the
            # time of this answer.
            _utc_now(),
            self.name,
            self.endpoint,
            records=outcomes,
        )
        if receipt.refused:
            first = receipt.refused[0]
            raise RecordsRefused(
                f"{len(receipt.refused)} of {len(outcomes)} record(s) refused, first: record "
                f"{first.index + 1} ({first.key}): {first.code}: {first.reason}",
                receipt=receipt,
                endpoint=self.endpoint,
            )
        return receipt

    @staticmethod
    def _outcome(
        item: ItemResult, positions: Mapping[str, collections.deque[int]]
    ) -> RecordOutcome:
        status = _RECORD_STATUS[item.status]
        # a known OrderID comes back with ГИС ЖКХ's "duplicate" error: not a refusal
        error = item.errors[0] if item.errors and status is RecordStatus.REFUSED else None
        return RecordOutcome(
            positions[item.key].popleft(),
            item.key,
            status,
            reference=item.unique_number or item.guid or "",
            code=error.code if error is not None else "",
            reason=error.description if error is not None else "",
        )

    def deliver_readings(
        self, partner_inn: str, readings: Sequence[MeterReading]
    ) -> ReadingsReceipt:
        """Send meter readings once (``importMeteringDeviceValues``); refusals per reading.

        A reading ГИС ЖКХ refused, or that could not be sent (no MeteringDeviceRootGUID,
        no НСИ-2 resource, too many digits), is a :class:`RejectedReading` with its index
        and ``"CODE: description"``.
        """
        positions: dict[str, collections.deque[int]] = collections.defaultdict(collections.deque)
        for index, reading in enumerate(readings):
            positions[reading_transport_guid(reading)].append(index)
        try:
            report = self.client.send_readings(readings, devices=self._devices, retry=False)
        except GisError as exc:
            raise billing_error(exc, endpoint=self.client.config.metering_endpoint) from exc
        accepted = 0
        rejected = []
        for item in report.items:
            index = positions[item.transport_guid].popleft()
            if item.status in (ItemStatus.ACCEPTED, ItemStatus.ALREADY_REPORTED):
                accepted += 1
                continue
            reason = "; ".join(f"{e.code}: {e.description}" for e in item.errors) or "refused"
            rejected.append(RejectedReading(index, reason))
        return ReadingsReceipt(
            partner_inn,
            accepted,
            sorted(rejected, key=lambda r: r.index),
            self.name,
            self.client.config.metering_endpoint,
        )
