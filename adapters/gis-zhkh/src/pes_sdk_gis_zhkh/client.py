"""The ГИС ЖКХ client: zeep over the official WSDLs, hardened, retried, polled.

* The WSDLs are read from the configured format package (local files only) with
  ``Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)``;
  the endpoint is configuration (operators reach ГИС ЖКХ through a GOST TLS tunnel such as
  stunnel, so the URL is usually ``http://127.0.0.1:…``).
* One ``requests.Session`` per client, reused for every call; ``Transport`` always gets both
  ``timeout`` and ``operation_timeout``.
* Retries (tenacity) only on transient faults: connection errors, timeouts, HTTP 5xx and SOAP
  faults whose ``ErrorCode`` is configured as transient; bounded by ``retry_attempts`` with
  jittered exponential backoff. Only idempotent calls are retried: ``getState`` and
  ``exportForPaymentAggregator`` read, and every import is sent with one ``MessageGUID``
  fixed before the first attempt, so ГИС ЖКХ sees a retry as the same message; its items
  carry stable OrderIDs and TransportGUIDs besides, so a resend is recognised per item.
* The asynchronous protocol: the import is acknowledged with a ``MessageGUID``; ``getState``
  is polled with jittered backoff until ``RequestState`` is 3 or the poll deadline passes
  (:class:`~pes_sdk_gis_zhkh.errors.GisPollTimeout` keeps the GUID for a later
  :meth:`GisClient.poll`). Results come back per item as :class:`ItemResult`.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import requests
import tenacity
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from pes_sdk.errors import FormatError
from pes_sdk.models.readings import MeterReading, MeterType
from pes_sdk.period import Period
from pes_sdk.premises import Premises, PremisesKind
from pes_sdk_gis_zhkh.config import (
    METERING_WSDL,
    PAYMENT_WSDL,
    GisConfig,
    NotificationForm,
)
from pes_sdk_gis_zhkh.errors import (
    GisConfigError,
    GisFault,
    GisMessageFailed,
    GisPollTimeout,
    GisTransportError,
)
from pes_sdk_gis_zhkh.ids import stable_guid
from pes_sdk_gis_zhkh.models import (
    BatchResult,
    CancellationNotice,
    ChargeDocument,
    Executor,
    ItemError,
    ItemResult,
    ItemStatus,
    LookupResult,
    PaymentDetails,
    PaymentNotice,
    SendReport,
    ServiceInfo,
    from_kopecks,
)
from pes_sdk_gis_zhkh.schema import NS, safe_parser
from pes_sdk_gis_zhkh.signing import CONTAINER_ID, Signer

__all__ = ["GisClient", "hardened_settings", "reading_transport_guid"]

T = TypeVar("T")

PAYMENT_BINDING = (
    "{http://dom.gosuslugi.ru/schema/integration/payment-service-async/}PaymentsBindingAsync"
)
METERING_BINDING = (
    "{http://dom.gosuslugi.ru/schema/integration/device-metering-service-async/}"
    "DeviceMeteringBindingAsync"
)
#: ``version`` attributes the 16.3.0.0 schemas fix (or, for the look-up, allow).
IMPORT_VERSION = "10.0.1.1"
EXPORT_AGGREGATOR_VERSION = "13.1.0.1"

#: Operations safe to repeat (reads, or imports with a fixed MessageGUID and stable item ids).
IDEMPOTENT = frozenset(
    {
        "getState",
        "exportForPaymentAggregator",
        "importNotificationsOfOrderExecution",
        "importNotificationsOfOrderExecutionCancellation",
        "importMeteringDeviceValues",
    }
)
#: Operations whose request element cannot carry a signature (not a ``base:BaseType``).
UNSIGNED = frozenset({"getState"})
#: Codes of the adapter's own per-item errors (items it did not send).
NOT_SENT_DUPLICATE = "PES-DUPLICATE"
NOT_SENT_INCOMPLETE = "PES-INCOMPLETE"
NO_RESULT = "PES-NO-RESULT"

_ELECTRIC = frozenset(
    {
        MeterType.ELECTRICITY,
        MeterType.ELECTRICITY_DAY,
        MeterType.ELECTRICITY_NIGHT,
        MeterType.ELECTRICITY_PEAK,
        MeterType.ELECTRICITY_HALF_PEAK,
        MeterType.ELECTRICITY_NIGHT_ZONE,
    }
)


_UNUSABLE = (
    zeep.exceptions.DTDForbidden,
    zeep.exceptions.EntitiesForbidden,
    zeep.exceptions.XMLSyntaxError,
    zeep.exceptions.XMLParseError,
    etree.XMLSyntaxError,
)


def hardened_settings() -> Any:
    """zeep settings for every client: strict, and no DTD, entities or external documents."""
    return zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)


class _SigningPlugin(zeep.Plugin):
    """Marks the body element ``Id="signed-data-container"`` and has the signer sign it.

    ``getStateRequest`` is not a ``base:BaseType`` (it has no ``Id`` and no room for a
    ``ds:Signature``), so state polls go unsigned, as the schema says.
    """

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def egress(
        self, envelope: etree._Element, http_headers: dict[str, str], operation: Any, options: Any
    ) -> tuple[etree._Element, dict[str, str]]:
        body = envelope.find(f"{{{NS['soap']}}}Body")
        if getattr(operation, "name", "") in UNSIGNED:
            return envelope, http_headers
        if body is not None and len(body):
            element = body[0]
            element.set("Id", CONTAINER_ID)
            self._signer.sign(element)
        return envelope, http_headers


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    try:
        return obj[name]
    except (KeyError, TypeError, IndexError):
        return getattr(obj, name, None)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _premises_fields(premises: Premises) -> dict[str, str]:
    """The premises choice of ``exportForPaymentAggregatorRequest``."""
    kind, number, room = premises.kind, premises.number, premises.room
    if kind is PremisesKind.NONE or not premises.text.strip():
        return {}
    if kind is PremisesKind.APARTMENT:
        return {"ResidentialPremise": number}
    if kind is PremisesKind.ROOM:
        if not number:
            raise FormatError("a room needs its flat number", field="premises")
        return {"ResidentialPremise": number, "ResidentialPremiseRoom": room}
    if kind is PremisesKind.NON_RESIDENTIAL:
        return {"NonResidentialApartment": number}
    if kind is PremisesKind.BLOCK:
        return {"ResidentialBlock": number}
    if kind is PremisesKind.BLOCK_ROOM:
        return {"ResidentialBlock": number, "ResidentialBlockRoom": room}
    return {"ResidentialPremise": premises.text.strip()}


def _metering_value(value: Decimal) -> str | None:
    text = format(value, "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if not 1 <= len(whole) <= 15 or len(frac) > 7:
        return None
    return f"{whole}.{frac}" if frac else whole


class GisClient:
    """A client of ГИС ЖКХ's payment and metering services (asynchronous, format 16.3).

    ``signer`` signs every request (``None`` sends unsigned messages: test stands only).
    ``session`` lets a caller supply a configured ``requests.Session`` (client certificates,
    proxies); one is created otherwise. ``sleep`` and ``clock`` are injectable for tests.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        config: GisConfig,
        *,
        signer: Signer | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._signer = signer
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._services: dict[str, Any] = {}
        self._raw_clients: dict[str, Any] = {}
        #: how many attempts each call took, in order (what the retries did, for logs/tests)
        self.attempts: list[tuple[str, int]] = []

    # -- plumbing ---------------------------------------------------------------------------

    def __enter__(self) -> GisClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session (if the client created it)."""
        if self._own_session:
            self._session.close()

    def _service(self, name: str) -> Any:
        if name not in self._services:
            cfg = self.config
            wsdl, binding, endpoint = (
                (PAYMENT_WSDL, PAYMENT_BINDING, cfg.payment_endpoint)
                if name == "payment"
                else (METERING_WSDL, METERING_BINDING, cfg.metering_endpoint)
            )
            if not endpoint:
                raise GisConfigError(f"no {name} endpoint configured")
            transport = Transport(  # type: ignore[no-untyped-call]
                session=self._session,
                timeout=cfg.timeout,
                operation_timeout=cfg.operation_timeout,
            )
            plugins = [_SigningPlugin(self._signer)] if self._signer is not None else []
            client = zeep.Client(  # type: ignore[no-untyped-call]
                str(Path(cfg.format_package) / wsdl),
                settings=hardened_settings(),
                transport=transport,
                plugins=plugins,
            )
            self._services[name] = client.create_service(  # type: ignore[no-untyped-call]
                binding, endpoint
            )
            self._raw_clients[name] = client
        return self._services[name]

    def _is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return True
        if isinstance(exc, zeep.exceptions.TransportError):
            return int(exc.status_code or 0) >= 500
        if isinstance(exc, zeep.exceptions.Fault):
            return _fault_code(exc) in self.config.transient_fault_codes
        return False

    def _call(
        self,
        service: str,
        operation: str,
        message_guid: str,
        *,
        raw: bool = False,
        retry: bool = True,
        **body: Any,
    ) -> Any:
        """Call ``operation`` with a RequestHeader of ``message_guid``, retrying if allowed.

        With ``raw``, the answer's body element is returned as parsed XML instead of a zeep
        object (see :meth:`poll` for why). ``retry=False`` sends it once whatever the
        operation (a caller whose contract forbids resending it).
        """
        cfg = self.config
        proxy = self._service(service)
        header = {
            "Date": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "MessageGUID": message_guid,
            "orgPPAGUID": cfg.org_ppa_guid,
        }
        attempts = cfg.retry_attempts if retry and operation in IDEMPOTENT else 1
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_random_exponential(multiplier=cfg.retry_initial, max=cfg.retry_max),
            retry=tenacity.retry_if_exception(self._is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        tried = 0
        try:
            for attempt in retrying:
                with attempt:
                    tried += 1
                    if not raw:
                        return getattr(proxy, operation)(_soapheaders={"Header": header}, **body)
                    with self._raw_clients[service].settings(raw_response=True):
                        response = getattr(proxy, operation)(
                            _soapheaders={"Header": header}, **body
                        )
                    return _raw_body(response)
        except zeep.exceptions.Fault as exc:
            code = _fault_code(exc)
            raise GisFault(
                code,
                _fault_message(exc),
                operation=operation,
                transient=code in cfg.transient_fault_codes,
            ) from exc
        except zeep.exceptions.TransportError as exc:
            raise GisTransportError(
                f"HTTP {exc.status_code}", operation=operation, attempts=tried
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise GisTransportError(
                type(exc).__name__, operation=operation, attempts=tried
            ) from exc
        except _UNUSABLE as exc:
            # A DTD, an entity or broken XML in an answer: refused, never retried.
            raise GisTransportError(
                f"unusable answer: {type(exc).__name__}: {exc}", operation=operation, attempts=tried
            ) from exc
        finally:
            self.attempts.append((operation, tried))
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def poll(self, message_guid: str, *, service: str = "payment") -> Any:
        """Poll ``getState`` for ``message_guid`` until processed (RequestState 3).

        Backs off from ``poll_initial`` doubling up to ``poll_max`` (each wait jittered to
        50-100 %), and raises :class:`GisPollTimeout` when the next wait would pass
        ``poll_deadline``; raises :class:`GisMessageFailed` when ГИС ЖКХ refused the
        message whole. Returns the ``getStateResult`` element.

        The answer is read with lxml, not zeep: zeep's strict parser rejects valid
        ``ImportResult`` items that carry ``Error`` (it does not backtrack out of the
        ``UniqueNumber?, UpdateDate`` branch of ``base:CommonResultType``'s choice).
        """
        cfg = self.config
        deadline = self._clock() + cfg.poll_deadline
        interval = cfg.poll_initial
        polls = 0
        while True:
            state = self._call(
                service, "getState", str(uuid.uuid4()), raw=True, MessageGUID=message_guid
            )
            polls += 1
            if _t(state, "RequestState") == "3":
                error = _child(state, "ErrorMessage")
                if error is not None:
                    raise GisMessageFailed(
                        _t(error, "ErrorCode") or "",
                        _t(error, "Description") or "",
                        message_guid=message_guid,
                    )
                return state
            wait = interval * self._rng.uniform(0.5, 1.0)
            if self._clock() + wait > deadline:
                raise GisPollTimeout(message_guid, polls=polls, deadline=cfg.poll_deadline)
            self._sleep(wait)
            interval = min(interval * 2, cfg.poll_max)

    def _send(
        self,
        service: str,
        operation: str,
        body: Mapping[str, Any],
        keys: Mapping[str, str],
        done: list[BatchResult],
        *,
        retry: bool = True,
    ) -> BatchResult:
        # The MessageGUID is fixed before the first attempt and reused by every retry.
        requester = str(uuid.uuid4())
        ack = _body(self._call(service, operation, requester, retry=retry, **body))
        message_guid = str(_get(_get(ack, "Ack"), "MessageGUID"))
        try:
            state = self.poll(message_guid, service=service)
        except GisPollTimeout as exc:
            exc.completed = tuple(done)
            raise
        return BatchResult(
            operation=operation,
            requester_message_guid=requester,
            message_guid=message_guid,
            items=self._import_results(state, keys),
        )

    def _import_results(
        self, state: etree._Element, keys: Mapping[str, str]
    ) -> tuple[ItemResult, ...]:
        by_transport: dict[str, etree._Element] = {}
        for result in _children(state, "ImportResult"):
            by_transport[(_t(result, "TransportGUID") or "").lower()] = result
        out = []
        for transport_guid, key in keys.items():
            found = by_transport.get(transport_guid)
            if found is None:
                out.append(
                    ItemResult(
                        key,
                        transport_guid,
                        ItemStatus.REFUSED,
                        errors=(ItemError(NO_RESULT, "ГИС ЖКХ returned no result for it"),),
                    )
                )
                continue
            result = found
            errors = tuple(
                ItemError(_t(e, "ErrorCode") or "", _t(e, "Description") or "")
                for e in _children(result, "Error")
            )
            if errors:
                dup = all(e.code in self.config.duplicate_order_codes for e in errors)
                status = ItemStatus.ALREADY_REPORTED if dup else ItemStatus.REFUSED
            else:
                status = ItemStatus.ACCEPTED
            out.append(
                ItemResult(
                    key,
                    transport_guid,
                    status,
                    guid=_t(result, "GUID"),
                    unique_number=_t(result, "UniqueNumber"),
                    errors=errors,
                )
            )
        return tuple(out)

    # -- payments ---------------------------------------------------------------------------

    def notify(self, notices: Iterable[PaymentNotice]) -> SendReport:
        """Report confirmed payments (``importNotificationsOfOrderExecution``).

        Sends in batches of at most ``batch_size`` (≤ 500) in the configured form. A notice
        whose OrderID repeats one earlier in the input, or that lacks what its form needs,
        is not sent and is reported as :attr:`ItemStatus.NOT_SENT`.
        """
        form = self.config.form
        seen: set[str] = set()
        ready: list[tuple[str, dict[str, Any]]] = []
        skipped: list[ItemResult] = []
        for notice in notices:
            tg = stable_guid("notice", notice.order_id)
            if notice.order_id in seen:
                skipped.append(_not_sent(notice.order_id, tg, NOT_SENT_DUPLICATE, "repeated"))
                continue
            seen.add(notice.order_id)
            try:
                element = (
                    _full_notice(notice, tg)
                    if form is NotificationForm.FULL
                    else _short_notice(notice, tg)
                )
            except ValueError as exc:
                skipped.append(_not_sent(notice.order_id, tg, NOT_SENT_INCOMPLETE, str(exc)))
                continue
            ready.append((notice.order_id, element))
        key = (
            "NotificationOfOrderExecutionType"
            if form is NotificationForm.FULL
            else "NotificationOfOrderExecution139Type"
        )
        done: list[BatchResult] = []
        for chunk in _chunks(ready, self.config.batch_size):
            keys = {el["TransportGUID"]: oid for oid, el in chunk}
            body = {"version": IMPORT_VERSION, key: [el for _, el in chunk]}
            done.append(
                self._send("payment", "importNotificationsOfOrderExecution", body, keys, done)
            )
        return SendReport(tuple(done), tuple(skipped))

    def cancel(self, notices: Iterable[CancellationNotice]) -> SendReport:
        """Report refunds (``importNotificationsOfOrderExecutionCancellation``), ≤ 500 a message."""
        seen: set[str] = set()
        ready: list[tuple[str, dict[str, Any]]] = []
        skipped: list[ItemResult] = []
        for notice in notices:
            tg = stable_guid("cancel", notice.order_id)
            if notice.order_id in seen:
                skipped.append(_not_sent(notice.order_id, tg, NOT_SENT_DUPLICATE, "repeated"))
                continue
            seen.add(notice.order_id)
            element: dict[str, Any] = {
                "OrderID": notice.order_id,
                "CancellationDate": notice.cancelled_on,
            }
            if notice.comment:
                element["Comment"] = notice.comment[:210]
            element["TransportGUID"] = tg
            ready.append((notice.order_id, element))
        done: list[BatchResult] = []
        for chunk in _chunks(ready, self.config.batch_size):
            keys = {el["TransportGUID"]: oid for oid, el in chunk}
            body = {
                "version": IMPORT_VERSION,
                "NotificationOfOrderExecutionCancellation": [el for _, el in chunk],
            }
            done.append(
                self._send(
                    "payment", "importNotificationsOfOrderExecutionCancellation", body, keys, done
                )
            )
        return SendReport(tuple(done), tuple(skipped))

    # -- look-up ----------------------------------------------------------------------------

    def lookup_address(
        self,
        house_guid: str,
        premises: Premises | str,
        *,
        account: str | None = None,
        payment_document_number: str | None = None,
        period: Period | None = None,
    ) -> LookupResult:
        """What is owed at a house (ФИАС GUID) and premises.

        The 16.3 schema asks, with an address, for the client's ЛС (``account``) or the
        number of the payment document: one of them is required.
        """
        if bool(account) == bool(payment_document_number):
            raise GisConfigError(
                "a look-up by address needs exactly one of: account (ЛС), payment document number"
            )
        body: dict[str, Any] = _period_fields(period)
        body["FIASHouseGuid"] = house_guid
        body.update(
            _premises_fields(premises if isinstance(premises, Premises) else Premises(premises))
        )
        if account:
            body["AccountNumber"] = account
        else:
            body["PaymentDocumentNumber"] = payment_document_number
        return self._lookup(body)

    def lookup_els(self, els: str, *, period: Period | None = None) -> LookupResult:
        """What is owed on a unified account (ЕЛС, 10 characters)."""
        body = _period_fields(period)
        body["UnifiedAccountNumber"] = els
        return self._lookup(body)

    def lookup_payment_document(self, payment_document_id: str) -> LookupResult:
        """What is owed on a payment document (ИПД, 18 characters)."""
        return self._lookup({"PaymentDocumentID": payment_document_id})

    def _lookup(self, body: dict[str, Any]) -> LookupResult:
        body["version"] = EXPORT_AGGREGATOR_VERSION
        ack = _body(self._call("payment", "exportForPaymentAggregator", str(uuid.uuid4()), **body))
        message_guid = str(_get(_get(ack, "Ack"), "MessageGUID"))
        state = self.poll(message_guid, service="payment")
        # The result is a choice: charges (Charge), or, when there are none, the services
        # that can be paid (ServiceForAggregator).
        result = _child(state, "exportForPaymentAggregatorResult")
        charge = _child(result, "Charge")
        docs = tuple(_document(d) for d in _children(charge, "PaymentDocumentForAggregator"))
        services = tuple(_service_info(s) for s in _children(result, "ServiceForAggregator"))
        return LookupResult(message_guid=message_guid, documents=docs, services=services)

    # -- readings ---------------------------------------------------------------------------

    def send_readings(
        self,
        readings: Iterable[MeterReading],
        *,
        devices: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> SendReport:
        """Send meter readings (``importMeteringDeviceValues``), ≤ 1000 a message.

        ``devices`` maps a meter number to its MeteringDeviceRootGUID in ГИС ЖКХ (on top of
        the configured ``devices``); non-electric meters also need the configured НСИ-2
        resource of their type. Readings without these are reported NOT_SENT. Each item's
        TransportGUID is :func:`reading_transport_guid` of its reading. With
        ``retry=False`` each import is sent once even after a transient fault (its
        ``getState`` polls, being reads, are still retried).
        """
        known = {**self.config.devices, **(devices or {})}
        ready: list[tuple[str, dict[str, Any]]] = []
        skipped: list[ItemResult] = []
        seen: set[str] = set()
        for reading in readings:
            values = [_metering_value(v) for v in reading.values]
            tg = reading_transport_guid(reading)
            key = reading.meter_number
            problem = None
            device = known.get(reading.meter_number)
            if tg in seen:
                skipped.append(_not_sent(key, tg, NOT_SENT_DUPLICATE, "repeated"))
                continue
            seen.add(tg)
            if device is None:
                problem = "no MeteringDeviceRootGUID configured for this meter"
            elif any(v is None for v in values):
                problem = "a value has more than 15 whole or 7 decimal digits"
            # The month the values count for: that of the reading's date, said explicitly.
            period = {"Year": reading.taken_on.year, "Month": reading.taken_on.month}
            value: dict[str, Any] = {}
            if problem is None and reading.meter_type in _ELECTRIC:
                current: dict[str, Any] = {
                    f"MeteringValueT{i}": v for i, v in enumerate(values, start=1)
                }
                current.update(
                    {"DateValue": reading.taken_on, "TransportGUID": tg, "Period": period}
                )
                value = {"ElectricDeviceValue": {"CurrentValue": current}}
            elif problem is None:
                resource = self.config.resources.get(reading.meter_type.name)
                if resource is None:
                    problem = f"no НСИ-2 resource configured for {reading.meter_type.name}"
                elif len(values) != 1:
                    problem = "a one-rate meter has one value"
                else:
                    value = {
                        "OneRateDeviceValue": {
                            "CurrentValue": [
                                {
                                    "MunicipalResource": {
                                        "Code": resource.code,
                                        "GUID": resource.guid,
                                    },
                                    "MeteringValue": values[0],
                                    "DateValue": reading.taken_on,
                                    "TransportGUID": tg,
                                    "Period": period,
                                }
                            ]
                        }
                    }
            if problem is not None:
                skipped.append(_not_sent(key, tg, NOT_SENT_INCOMPLETE, problem))
                continue
            ready.append((key, {"MeteringDeviceRootGUID": device, **value}))
        done: list[BatchResult] = []
        for chunk in _chunks(ready, self.config.readings_batch_size):
            keys = {_reading_tg(el): k for k, el in chunk}
            body = {"version": IMPORT_VERSION, "MeteringDevicesValues": [el for _, el in chunk]}
            done.append(
                self._send("metering", "importMeteringDeviceValues", body, keys, done, retry=retry)
            )
        return SendReport(tuple(done), tuple(skipped))


def reading_transport_guid(reading: MeterReading) -> str:
    """The TransportGUID of a reading's item: stable for the meter, date and values."""
    values = [_metering_value(v) for v in reading.values]
    return stable_guid(
        "reading", reading.meter_number, reading.taken_on.isoformat(), *map(str, values)
    )


def _reading_tg(element: Mapping[str, Any]) -> str:
    if "ElectricDeviceValue" in element:
        return str(element["ElectricDeviceValue"]["CurrentValue"]["TransportGUID"])
    return str(element["OneRateDeviceValue"]["CurrentValue"][0]["TransportGUID"])


def _not_sent(key: str, tg: str, code: str, why: str) -> ItemResult:
    return ItemResult(key, tg, ItemStatus.NOT_SENT, errors=(ItemError(code, why),))


def _period_fields(period: Period | None) -> dict[str, Any]:
    return {} if period is None else {"Year": period.year, "Month": period.month}


def _full_notice(notice: PaymentNotice, tg: str) -> dict[str, Any]:
    r = notice.recipient
    if r is None:
        raise ValueError("the full form needs the recipient's details (partners file)")
    info: dict[str, Any] = {"INN": r.inn}
    if r.kpp:
        info["Legal"] = {"KPP": r.kpp, "Name": r.name[:4000]}
    elif len(r.inn) == 12:
        info["EntprFIO"] = r.name[:160]
    else:
        raise ValueError(f"recipient {r.inn}: a legal entity needs its КПП")
    payment_info: dict[str, Any] = {
        "RecipientINN": r.inn,
        "BankName": r.bank_name[:255],
        "PaymentRecipient": r.name[:4000],
        "BankBIK": r.bik,
        "operatingAccountNumber": r.account,
    }
    if r.kpp:
        payment_info["RecipientKPP"] = r.kpp
    if r.corr_account:
        payment_info["CorrespondentBankAccount"] = r.corr_account
    info["PaymentInformation"] = payment_info
    order: dict[str, Any] = {
        "OrderID": notice.order_id,
        "OrderDate": notice.order_date,
        "Amount": notice.amount_kopecks,
    }
    if notice.online:  # fixed to true by the schema: an offline payment leaves it out
        order["OnlinePayment"] = True
    if notice.purpose:
        order["PaymentPurpose"] = notice.purpose[:1000]
    if notice.payment_document_id:
        order["PaymentDocumentID"] = notice.payment_document_id
    if notice.period is not None:
        order["Year"] = notice.period.year
        order["Month"] = notice.period.month
    if notice.els:
        order["UnifiedAccountNumber"] = notice.els
    if notice.service_id:
        order["Service"] = {"ServiceID": notice.service_id}
    if notice.account:
        order["AccountNumber"] = notice.account
    return {"RecipientInfo": info, "OrderInfo": order, "TransportGUID": tg}


def _short_notice(notice: PaymentNotice, tg: str) -> dict[str, Any]:
    order: dict[str, Any] = {
        "OrderID": notice.order_id,
        "OrderDate": notice.order_date,
        "Amount": notice.amount_kopecks,
    }
    if notice.online:
        order["OnlinePayment"] = True
    if notice.period is not None:
        order["MonthAndYear"] = {"Year": notice.period.year, "Month": notice.period.month}
    if notice.service_id and notice.service_guid:
        order["ServiceID"] = notice.service_id
        order["ServiceIDGUID"] = notice.service_guid
    elif notice.payment_document_id and notice.payment_document_guid:
        order["PaymentDocumentID"] = notice.payment_document_id
        order["PaymentDocumentGUID"] = notice.payment_document_guid
    else:
        raise ValueError(
            "the short form needs ИЖКУ with its GUID, or ИПД with its GUID (GIS_* tags)"
        )
    return {"OrderInfo": order, "TransportGUID": tg}


def _body(result: Any) -> Any:
    # zeep returns {"body": ..., "header": ...} when the output message has a SOAP header.
    body = _get(result, "body")
    return body if body is not None else result


def _fault_detail(exc: Any) -> etree._Element | None:
    detail = getattr(exc, "detail", None)
    if not isinstance(detail, etree._Element):
        return None
    found = detail.find(f".//{{{NS['base']}}}Fault")
    return found if found is not None else detail


def _fault_code(exc: Any) -> str:
    detail = _fault_detail(exc)
    if detail is not None:
        code = detail.findtext(f"{{{NS['base']}}}ErrorCode")
        if code:
            return code
    return str(getattr(exc, "code", "") or "")


def _fault_message(exc: Any) -> str:
    detail = _fault_detail(exc)
    if detail is not None:
        text = detail.findtext(f"{{{NS['base']}}}ErrorMessage")
        if text:
            return text
    return str(getattr(exc, "message", exc))


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    """The first child of ``el`` with local name ``name`` (namespaces vary by type origin)."""
    if el is None:
        return None
    for child in el:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child
    return None


def _children(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _t(el: etree._Element | None, name: str) -> str | None:
    child = _child(el, name)
    return None if child is None or child.text is None else child.text.strip()


def _m(el: etree._Element | None, name: str) -> Decimal | None:
    text = _t(el, name)
    return None if text is None else from_kopecks(Decimal(text))


def _raw_body(response: requests.Response) -> etree._Element:
    """The body element of a raw answer; faults and HTTP errors raised as zeep raises them."""
    if response.status_code >= 500 and b"Envelope" not in response.content[:2000]:
        raise zeep.exceptions.TransportError(  # type: ignore[no-untyped-call]
            status_code=response.status_code, content=response.content
        )
    envelope = etree.fromstring(response.content, safe_parser())
    if envelope.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise zeep.exceptions.DTDForbidden(  # type: ignore[no-untyped-call]
            None, None, None
        )
    body = envelope.find(f"{{{NS['soap']}}}Body")
    first = body[0] if body is not None and len(body) else None
    if first is None:
        raise zeep.exceptions.TransportError(  # type: ignore[no-untyped-call]
            status_code=response.status_code, content=response.content
        )
    if etree.QName(first).localname == "Fault":
        raise zeep.exceptions.Fault(  # type: ignore[no-untyped-call]
            first.findtext("faultstring") or "SOAP fault",
            code=first.findtext("faultcode"),
            detail=first.find("detail"),
        )
    if response.status_code >= 400:
        raise zeep.exceptions.TransportError(  # type: ignore[no-untyped-call]
            status_code=response.status_code, content=response.content
        )
    return first


def _error(el: etree._Element | None) -> ItemError | None:
    if el is None:
        return None
    return ItemError(_t(el, "ErrorCode") or "", _t(el, "Description") or "")


def _payee(p: etree._Element) -> PaymentDetails:
    """One ``PaymentInformationForAggregator`` (of a document, or of a service: no amounts)."""
    return PaymentDetails(
        recipient_inn=_t(p, "RecipientINN"),
        recipient_kpp=_t(p, "RecipientKPP"),
        recipient_name=_t(p, "PaymentRecipient"),
        bank_name=_t(p, "BankName"),
        bik=_t(p, "BankBIK"),
        account=_t(p, "operatingAccountNumber"),
        amount_due=_m(p, "Reminder"),
        debt_or_advance=_m(p, "DebtOrAdvance"),
        total=_m(p, "TotalWithDebtAndAdvance"),
        account_number=_t(p, "AccountNumber"),
        service_id=_t(p, "ServiceID"),
        error=_error(_child(p, "ErrorMessage")),
        corr_account=_t(p, "CorrespondentBankAccount"),
        # xs:boolean: "true" or "1" (the schema fixes it to true when present)
        capital_repair=_t(p, "IsCapitalRepair") in ("true", "1"),
        payment_information_guid=_t(p, "PaymentInformationGuid"),
    )


def _executor(executor: etree._Element | None) -> Executor:
    """``ExecutorInformation``: a legal entity (КПП, name) or an entrepreneur (full name)."""
    legal = _child(executor, "Legal")
    name = _t(legal, "Name")
    entpr = _child(executor, "Entpr")
    if name is None and entpr is not None:
        parts = [_t(entpr, n) for n in ("Surname", "FirstName", "Patronymic")]
        name = " ".join(p for p in parts if p) or None
    return Executor(
        inn=_t(executor, "INN"),
        kpp=_t(legal, "KPP"),
        name=name,
        mailing_address=_t(executor, "MailingAddress"),
        payees=tuple(_payee(p) for p in _children(executor, "PaymentInformationForAggregator")),
    )


def _document(doc: etree._Element) -> ChargeDocument:
    details = _child(doc, "PaymentDocumentForAggregatorDetails")
    consumer = _child(details, "ConsumerInformation")
    addresses = (_t(a, "address_string") for a in _children(consumer, "address"))
    year, month = _t(doc, "Year"), _t(doc, "Month")
    due = _m(details, "Reminder")
    return ChargeDocument(
        payment_document_id=_t(doc, "PaymentDocumentID"),
        payment_document_number=_t(doc, "PaymentDocumentNumber"),
        els=_t(doc, "UnifiedAccountNumber"),
        account_number=_t(doc, "AccountNumber"),
        service_id=_t(doc, "ServiceID"),
        period=Period(int(year), int(month)) if year and month else None,
        payment_document_guid=_t(doc, "PaymentDocumentGUID"),
        addresses=tuple(a for a in addresses if a),
        executor=_executor(_child(details, "ExecutorInformation")),
        amount_due=due if due is not None else from_kopecks(0),
        debt=_m(details, "Debt"),
        total=_m(details, "TotalWithDebtAndAdvance"),
        purpose=_t(details, "Purpose"),
        service_name=_t(details, "PDServiceName"),
        error=_error(_child(details, "ErrorMessage")),
    )


def _service_info(service: etree._Element) -> ServiceInfo:
    return ServiceInfo(
        els=_t(service, "UnifiedAccountNumber") or "",
        account_number=_t(service, "AccountNumber"),
        service_id=_t(service, "ServiceID") or "",
        service_guid=_t(service, "ServiceIDGuid") or "",
        executor=_executor(_child(service, "ExecutorInformation")),
        purpose=_t(service, "Purpose"),
        service_name=_t(service, "PDServiceName"),
    )
