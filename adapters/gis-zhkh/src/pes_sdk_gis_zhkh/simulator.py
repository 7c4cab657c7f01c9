"""A faithful ГИС ЖКХ simulator on loopback HTTP, for tests and local development.

It serves the asynchronous payment service (``/payment``) and metering service
(``/metering``) of format 16.3.0.0 the way ГИС ЖКХ does:

* every request's ``RequestHeader`` and body element are validated against the official
  XSDs of the configured format package (lxml); an invalid request is recorded in
  :attr:`GisSimulator.validation_failures` and answered with a SOAP fault, as ГИС ЖКХ
  answers format errors;
* imports are acknowledged (``AckRequest`` with a new ``MessageGUID``); a repeated
  ``RequestHeader/MessageGUID`` gets the first acknowledgement again and is not processed
  twice; ``getState`` answers "received" (1) and "processing" (2) for as many polls as
  :attr:`pending_polls` says, then the result (3) with one ``ImportResult`` per item;
* items are refused one by one: an OrderID already accepted (``SRV008007``), an unknown
  one to cancel, or any key listed in :attr:`item_errors`;
* dates are checked (:attr:`GisSimulator.date_failures`): an ``OrderDate`` after the
  message's own date, an OrderID reported again with another date or amount (what a
  host-dependent date would do), a cancellation dated before its order;
* ``exportForPaymentAggregator`` answers from :attr:`GisSimulator.documents`, or with an
  answer given whole (:meth:`GisSimulator.serve_export`, e.g. built by a test to the
  official schema);
* every answer it builds is validated against the same XSDs too (a simulator bug is a
  failure, never a silent pass).

Switches make it misbehave on purpose: :meth:`fail_next` (HTTP 5xx), :meth:`fault_next`
(SOAP faults), :meth:`slow_next` (process, then answer late: the client times out and
retries), :meth:`lose_next` (process, then answer with a 5xx: the answer is lost),
:attr:`pending_polls` (slow ``getState``); :meth:`heal` clears what is queued.

Why the standard library (``wsgiref`` in a thread) and not a framework: it adds no
dependency to the adapter, it listens on a real socket so zeep's ``requests`` transport,
its timeouts and HTTP status handling run exactly as in production, and a threading server
lets a deliberately slow answer overlap the client's retry, as on the real network.
"""

from __future__ import annotations

import collections
import datetime as dt
import socketserver
import threading
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
from lxml import etree

from pes_sdk.premises import Premises
from pes_sdk_gis_zhkh.config import check_format_package
from pes_sdk_gis_zhkh.schema import NS, safe_parser, validation_errors
from pes_sdk_gis_zhkh.signing import HmacTestSigner

__all__ = ["DUPLICATE_ORDER", "FORMAT_ERROR", "GisSimulator", "SimDocument"]

#: Error codes the simulator uses (ГИС ЖКХ's own catalogue is not public in the package).
DUPLICATE_ORDER = "SRV008007"
UNKNOWN_ORDER = "SRV008008"
FORMAT_ERROR = "FMT001300"
SIGNATURE_ERROR = "SIG001000"
UNKNOWN_MESSAGE = "INT002012"

SOAP = NS["soap"]
B, PM, DM = NS["base"], NS["pm"], NS["dm"]
_OPS = {
    "importNotificationsOfOrderExecutionRequest": (
        "payment",
        "importNotificationsOfOrderExecution",
    ),
    "importNotificationsOfOrderExecutionCancellationRequest": (
        "payment",
        "importNotificationsOfOrderExecutionCancellation",
    ),
    "exportForPaymentAggregatorRequest": ("payment", "exportForPaymentAggregator"),
    # acknowledged, with an empty result: the adapter does not use it
    "exportPaymentDocumentDetailsRequest": ("payment", "exportPaymentDocumentDetails"),
    "importMeteringDeviceValuesRequest": ("metering", "importMeteringDeviceValues"),
    "getStateRequest": ("*", "getState"),
}


_PREMISES = ("ResidentialPremise", "NonResidentialApartment", "ResidentialBlock")


@attrs.define
class SimDocument:
    """A payment document the simulator knows, found by address + ЛС, by ЕЛС or by ИПД.

    ``error`` (code, text) answers the document with an ``ErrorMessage`` (e.g. revoked:
    "Платёжный документ отозван") instead of its debt and total.
    """

    house_guid: str
    premises: str
    account: str
    els: str
    payment_document_id: str
    executor_inn: str
    executor_kpp: str
    executor_name: str
    bik: str
    bank_account: str
    bank_name: str
    amount_due: Decimal
    debt: Decimal = Decimal("0.00")
    year: int = 2026
    month: int = 10
    address: str = "г. Москва, ул. Тестовая, д. 1"
    service_name: str = "Содержание жилого помещения"
    corr_account: str | None = None
    error: tuple[str, str] | None = None


@attrs.define
class _Message:
    service: str
    operation: str
    message_guid: str
    results: list[etree._Element]
    payload: etree._Element | None = None  # an export's result element
    polls_left: int = 0
    polls: int = 0


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _e(parent: etree._Element, ns: str, tag: str, text: Any = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _kopecks(value: Decimal) -> str:
    return str(int(value * 100))


#: The easternmost zone of Russia (Kamchatka): no Russian payment is dated later than
#: today there, whatever zone the agent keeps its days in.
_EASTMOST = dt.timezone(dt.timedelta(hours=12))


class GisSimulator:
    """The simulator; use as a context manager, then point the client at its URLs."""

    def __init__(
        self,
        format_package: Path | str | None = None,
        *,
        verifier: HmacTestSigner | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.format_package = check_format_package(format_package)
        self.verifier = verifier
        self._host = host
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: getState answers "received"/"processing" this many times per message first
        self.pending_polls = 0
        #: OrderID, device GUID or other item key → (ErrorCode, Description) to refuse it with
        self.item_errors: dict[str, tuple[str, str]] = {}
        self.documents: list[SimDocument] = []
        #: OrderIDs accepted (each must stay at 1: nothing reported twice)
        self.accepted_order_ids: collections.Counter[str] = collections.Counter()
        #: OrderIDs seen in processed messages, accepted or refused
        self.received_order_ids: collections.Counter[str] = collections.Counter()
        self.cancelled_order_ids: collections.Counter[str] = collections.Counter()
        #: OrderID → Amount (kopecks) as accepted
        self.order_amounts: dict[str, int] = {}
        #: OrderID → OrderDate as first received
        self.order_dates: dict[str, dt.date] = {}
        #: OrderID → whether its notice said OnlinePayment (as first received)
        self.order_online: dict[str, bool] = {}
        #: dates that cannot be right (see the module notes); tests expect none
        self.date_failures: list[str] = []
        #: exportForPaymentAggregatorResult elements to answer the next look-ups with
        self._exports: list[etree._Element] = []
        #: (device GUID, values, date) of every accepted reading
        self.readings: list[tuple[str, tuple[str, ...], str]] = []
        #: HTTP requests per operation, including failed and repeated ones
        self.calls: collections.Counter[str] = collections.Counter()
        #: items per processed import message (to check batch sizes)
        self.batch_sizes: list[int] = []
        #: notices accepted by each processed notification message, in order (a resend that
        #: reported something again shows as a second message with a non-zero count)
        self.accepted_per_message: list[int] = []
        self.validation_failures: list[str] = []
        self.signature_failures: list[str] = []
        self._fail: dict[str, list[int]] = collections.defaultdict(list)
        self._faults: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
        self._slow: dict[str, list[float]] = collections.defaultdict(list)
        self._lose: dict[str, list[int]] = collections.defaultdict(list)
        self._raw: dict[str, list[tuple[str, bytes]]] = collections.defaultdict(list)
        self._messages: dict[str, _Message] = {}
        self._by_requester: dict[str, str] = {}

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> GisSimulator:
        self._server = make_server(
            self._host, 0, self._app, server_class=_Server, handler_class=_QuietHandler
        )
        # A short poll interval: shutdown() waits for it, and tests stop many simulators.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GisSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def payment_url(self) -> str:
        return f"{self.base_url}/payment"

    @property
    def metering_url(self) -> str:
        return f"{self.base_url}/metering"

    # -- switches ---------------------------------------------------------------------------

    def fail_next(self, operation: str, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` requests of ``operation`` with HTTP ``status``, unprocessed."""
        with self._lock:
            self._fail[operation].extend([status] * count)

    def fault_next(
        self, operation: str, code: str, count: int = 1, message: str = "Внутренняя ошибка"
    ) -> None:
        """Answer the next ``count`` requests of ``operation`` with a SOAP fault of ``code``."""
        with self._lock:
            self._faults[operation].extend([(code, message)] * count)

    def respond_next(self, operation: str, body: bytes, status: str = "200 OK") -> None:
        """Answer the next request of ``operation`` with these raw bytes (hostile answers)."""
        with self._lock:
            self._raw[operation].append((status, body))

    def slow_next(self, operation: str, seconds: float, count: int = 1) -> None:
        """Process the next ``count`` requests of ``operation``, then answer after ``seconds``."""
        with self._lock:
            self._slow[operation].extend([seconds] * count)

    def lose_next(self, operation: str, count: int = 1, status: int = 503) -> None:
        """Process the next ``count`` requests of ``operation``, then answer HTTP ``status``."""
        with self._lock:
            self._lose[operation].extend([status] * count)

    def heal(self) -> None:
        """Forget every queued failure, fault, slow or lost answer and raw reply."""
        with self._lock:
            for queue in (self._fail, self._faults, self._slow, self._lose, self._raw):
                queue.clear()

    def release(self) -> None:
        """Finish every message still "processing": the next ``getState`` gives its result."""
        with self._lock:
            for msg in self._messages.values():
                msg.polls_left = 0

    def add_document(self, doc: SimDocument) -> None:
        with self._lock:
            self.documents.append(doc)

    def serve_export(self, result: etree._Element) -> None:
        """Answer the next ``exportForPaymentAggregator`` with ``result`` as given.

        ``result`` is an ``exportForPaymentAggregatorResult`` element (charges or services);
        like every answer, it is validated against the official XSDs on its way out.
        """
        with self._lock:
            self._exports.append(_copy(result))

    # -- WSGI -------------------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length else b""
        path = environ.get("PATH_INFO", "")
        service = {"/payment": "payment", "/metering": "metering"}.get(path)
        if service is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        status, body, delay = self._handle(service, raw)
        if delay:
            time.sleep(delay)
        start_response(status, [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    def _handle(self, service: str, raw: bytes) -> tuple[str, bytes, float]:
        try:
            envelope = etree.fromstring(raw, safe_parser())
        except etree.XMLSyntaxError as exc:
            with self._lock:
                self.validation_failures.append(f"not XML: {exc}")
            return self._fault(FORMAT_ERROR, f"not XML: {exc}")
        header = envelope.find(f"{{{SOAP}}}Header/{{{B}}}RequestHeader")
        body = envelope.find(f"{{{SOAP}}}Body")
        element = body[0] if body is not None and len(body) else None
        if element is None or header is None:
            with self._lock:
                self.validation_failures.append("no RequestHeader or no body element")
            return self._fault(FORMAT_ERROR, "no RequestHeader or no body element")
        name = etree.QName(element).localname
        service_of, operation = _OPS.get(name, ("", name))
        with self._lock:
            self.calls[operation] += 1
            if self._fail[operation]:
                code = self._fail[operation].pop(0)
                return (f"{code} Unavailable", b"temporarily unavailable", 0.0)
            if self._raw[operation]:
                raw_status, raw_body = self._raw[operation].pop(0)
                return raw_status, raw_body, 0.0
            if self._faults[operation]:
                fcode, fmsg = self._faults[operation].pop(0)
                return self._fault(fcode, fmsg)
            delay = self._slow[operation].pop(0) if self._slow[operation] else 0.0
            lost = self._lose[operation].pop(0) if self._lose[operation] else 0
        problems = validation_errors(self.format_package, header) + validation_errors(
            self.format_package, element
        )
        if service_of not in ("*", service):
            problems.append(f"{name} sent to the {service} service")
        if problems:
            with self._lock:
                self.validation_failures.extend(f"{operation}: {p}" for p in problems)
            return self._fault(FORMAT_ERROR, "; ".join(problems)[:2000])
        signed = operation != "getState"  # getStateRequest has no room for a signature
        if signed and self.verifier is not None and not self.verifier.verify(element):
            with self._lock:
                self.signature_failures.append(operation)
            return self._fault(SIGNATURE_ERROR, "signature check failed")
        requester = header.findtext(f"{{{B}}}MessageGUID") or ""
        sent = dt.datetime.fromisoformat(header.findtext(f"{{{B}}}Date") or "")
        if sent.tzinfo is None:  # never the host's zone: the latest reading, so no false alarm
            sent = sent.replace(tzinfo=_EASTMOST)
        with self._lock:
            if operation == "getState":
                status, reply = self._get_state(service, element)
            else:
                status, reply = self._accept(service, operation, requester, element, sent)
        if lost:  # the work is done; the answer never reaches the client
            return f"{lost} Unavailable", b"temporarily unavailable", delay
        return status, reply, delay

    # -- answers ----------------------------------------------------------------------------

    def _envelope(self, payload: etree._Element) -> bytes:
        env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "base": B})
        head = _e(env, SOAP, "Header")
        rh = _e(head, B, "ResultHeader")
        _e(rh, B, "Date", _now())
        _e(rh, B, "MessageGUID", str(uuid.uuid4()))
        _e(env, SOAP, "Body").append(payload)
        for part in (rh, payload):
            errors = validation_errors(self.format_package, part)
            if errors:  # a simulator bug: make it loud
                self.validation_failures.extend(f"response: {e}" for e in errors)
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")

    def _fault(self, code: str, message: str) -> tuple[str, bytes, float]:
        env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "base": B})
        fault = _e(_e(env, SOAP, "Body"), SOAP, "Fault")
        etree.SubElement(fault, "faultcode").text = "soap:Server"
        etree.SubElement(fault, "faultstring").text = message
        detail = etree.SubElement(etree.SubElement(fault, "detail"), f"{{{B}}}Fault")
        _e(detail, B, "ErrorCode", code)
        _e(detail, B, "ErrorMessage", message)
        return ("500 Internal Server Error", etree.tostring(env, encoding="utf-8"), 0.0)

    def _ack(self, message_guid: str, requester: str) -> bytes:
        ack_req = etree.Element(f"{{{B}}}AckRequest", nsmap={"base": B})
        ack = _e(ack_req, B, "Ack")
        _e(ack, B, "MessageGUID", message_guid)
        _e(ack, B, "RequesterMessageGUID", requester)
        return self._envelope(ack_req)

    def _accept(
        self,
        service: str,
        operation: str,
        requester: str,
        element: etree._Element,
        sent: dt.datetime,
    ) -> tuple[str, bytes]:
        known = self._by_requester.get(requester)
        if known is not None:  # the same message again (a retry): same ack, no processing
            return "200 OK", self._ack(known, requester)
        message_guid = str(uuid.uuid4())
        msg = _Message(service, operation, message_guid, [], polls_left=self.pending_polls)
        if operation == "importNotificationsOfOrderExecution":
            self._notifications(element, msg, sent)
        elif operation == "importNotificationsOfOrderExecutionCancellation":
            self._cancellations(element, msg)
        elif operation == "importMeteringDeviceValues":
            self._readings(element, msg)
        elif operation == "exportForPaymentAggregator":
            msg.payload = self._export(element)
        self._messages[message_guid] = msg
        self._by_requester[requester] = message_guid
        return "200 OK", self._ack(message_guid, requester)

    def _result(
        self, msg: _Message, transport_guid: str, error: tuple[str, str] | None
    ) -> etree._Element:
        ns = PM if msg.service == "payment" else DM
        res = etree.Element(f"{{{ns}}}ImportResult", nsmap={"base": B})
        if error is None:
            _e(res, B, "GUID", str(uuid.uuid4()))
        _e(res, B, "TransportGUID", transport_guid)
        if error is None:
            _e(res, B, "UniqueNumber", f"SIM{uuid.uuid4().hex[:12].upper()}")
            _e(res, B, "UpdateDate", _now())
        else:
            err = _e(res, B, "Error")
            _e(err, B, "ErrorCode", error[0])
            _e(err, B, "Description", error[1])
        return res

    def _notifications(self, element: etree._Element, msg: _Message, sent: dt.datetime) -> None:
        items = element.findall(f"{{{PM}}}NotificationOfOrderExecutionType") + element.findall(
            f"{{{PM}}}NotificationOfOrderExecution139Type"
        )
        self.batch_sizes.append(len(items))
        self.accepted_per_message.append(0)
        for item in items:
            oid = item.findtext(f".//{{{NS['pb']}}}OrderID") or ""
            tg = item.findtext(f"{{{B}}}TransportGUID") or ""
            self._check_order_date(item, oid, sent)
            self.received_order_ids[oid] += 1
            error = self.item_errors.get(oid)
            if error is None and self.accepted_order_ids[oid]:
                error = (DUPLICATE_ORDER, "Извещение с таким OrderID уже размещено")
            if error is None:
                self.accepted_order_ids[oid] += 1
                self.accepted_per_message[-1] += 1
                self.order_amounts[oid] = int(item.findtext(f".//{{{NS['pb']}}}Amount") or -1)
            msg.results.append(self._result(msg, tg, error))

    def _check_order_date(self, item: etree._Element, oid: str, sent: dt.datetime) -> None:
        """Note an OrderDate that cannot be right; remember the first date and amount."""
        pb = NS["pb"]
        day = dt.date.fromisoformat(item.findtext(f".//{{{pb}}}OrderDate") or "")
        amount = int(item.findtext(f".//{{{pb}}}Amount") or -1)
        online = item.findtext(f".//{{{pb}}}OnlinePayment") in ("true", "1")
        latest = sent.astimezone(_EASTMOST).date()
        if day > latest:
            self.date_failures.append(
                f"{oid}: OrderDate {day} is after the message's date ({sent.isoformat()})"
            )
        first = self.order_dates.get(oid)
        if first is None:
            self.order_dates[oid] = day
            self.order_online[oid] = online
        elif first != day:
            self.date_failures.append(f"{oid}: reported again with OrderDate {day}, first {first}")
        known = self.order_amounts.get(oid)
        if known is not None and known != amount:
            self.date_failures.append(f"{oid}: reported again with Amount {amount}, first {known}")

    def _cancellations(self, element: etree._Element, msg: _Message) -> None:
        items = element.findall(f"{{{PM}}}NotificationOfOrderExecutionCancellation")
        self.batch_sizes.append(len(items))
        for item in items:
            oid = item.findtext(f"{{{NS['pb']}}}OrderID") or ""
            tg = item.findtext(f"{{{B}}}TransportGUID") or ""
            cancelled = dt.date.fromisoformat(
                item.findtext(f"{{{NS['pb']}}}CancellationDate") or ""
            )
            ordered = self.order_dates.get(oid)
            if ordered is not None and cancelled < ordered:
                self.date_failures.append(
                    f"{oid}: cancelled on {cancelled}, before its OrderDate {ordered}"
                )
            error = self.item_errors.get(oid)
            if error is None and not self.accepted_order_ids[oid]:
                error = (UNKNOWN_ORDER, "Извещение с таким OrderID не найдено")
            elif error is None and self.cancelled_order_ids[oid]:
                error = (DUPLICATE_ORDER, "Извещение уже аннулировано")
            if error is None:
                self.cancelled_order_ids[oid] += 1
            msg.results.append(self._result(msg, tg, error))

    def _readings(self, element: etree._Element, msg: _Message) -> None:
        items = element.findall(f"{{{DM}}}MeteringDevicesValues")
        self.batch_sizes.append(len(items))
        for item in items:
            device = item.findtext(f"{{{DM}}}MeteringDeviceRootGUID") or ""
            current = item.find(f".//{{{DM}}}CurrentValue")
            if current is None:
                continue
            tg = current.findtext(f"{{{B}}}TransportGUID") or ""
            values = tuple(
                v.text or ""
                for v in current
                if etree.QName(v).localname.startswith("MeteringValue")
            )
            date = current.findtext(f"{{{DM}}}DateValue") or ""
            error = self.item_errors.get(device)
            if error is None:
                self.readings.append((device, values, date))
            msg.results.append(self._result(msg, tg, error))

    def _export(self, element: etree._Element) -> etree._Element:
        if self._exports:
            return self._exports.pop(0)
        ab, bb = NS["ab"], NS["bb"]
        ipd = element.findtext(f"{{{bb}}}PaymentDocumentID")
        els = element.findtext(f"{{{ab}}}UnifiedAccountNumber")
        house = element.findtext(f"{{{PM}}}FIASHouseGuid")
        account = element.findtext(f"{{{ab}}}AccountNumber")
        premises = next(
            (el.text or "" for el in element if etree.QName(el).localname in _PREMISES),
            "",
        )
        room = next(
            (el.text or "" for el in element if etree.QName(el).localname.endswith("Room")), ""
        )
        wanted = Premises(f"{premises}, ком. {room}" if room else premises)

        def matches(d: SimDocument) -> bool:
            if ipd:
                return d.payment_document_id == ipd
            if els:
                return d.els == els
            return (
                house is not None
                and d.house_guid.lower() == house.lower()
                and Premises(d.premises).matches(wanted)
                and (account is None or d.account == account)
            )

        result = etree.Element(f"{{{PM}}}exportForPaymentAggregatorResult")
        charge = _e(result, PM, "Charge")
        for doc in (d for d in self.documents if matches(d)):
            charge.append(self._document(doc))
        return result

    def _document(self, d: SimDocument) -> etree._Element:
        ab, bb, ob, pb = NS["ab"], NS["bb"], NS["ob"], NS["pb"]
        el = etree.Element(f"{{{PM}}}PaymentDocumentForAggregator")
        _e(el, bb, "PaymentDocumentID", d.payment_document_id)
        _e(el, ab, "UnifiedAccountNumber", d.els)
        _e(el, ab, "AccountNumber", d.account)
        det = _e(el, PM, "PaymentDocumentForAggregatorDetails")
        addr = _e(_e(det, PM, "ConsumerInformation"), PM, "address")
        _e(addr, PM, "region", "77")
        _e(addr, PM, "FIASHouseGuid", d.house_guid)
        _e(addr, PM, "apartment", d.premises)
        _e(addr, PM, "address_string", f"{d.address}, кв. {d.premises}")
        ex = _e(det, PM, "ExecutorInformation")
        _e(ex, ob, "INN", d.executor_inn)
        legal = _e(ex, PM, "Legal")
        _e(legal, ob, "KPP", d.executor_kpp)
        _e(legal, PM, "Name", d.executor_name)
        pi = _e(ex, PM, "PaymentInformationForAggregator")
        _e(pi, pb, "RecipientINN", d.executor_inn)
        _e(pi, pb, "RecipientKPP", d.executor_kpp)
        _e(pi, pb, "BankName", d.bank_name)
        _e(pi, pb, "PaymentRecipient", d.executor_name)
        _e(pi, pb, "BankBIK", d.bik)
        _e(pi, pb, "operatingAccountNumber", d.bank_account)
        if d.corr_account:
            _e(pi, pb, "CorrespondentBankAccount", d.corr_account)
        _e(pi, PM, "Reminder", _kopecks(d.amount_due))
        _e(pi, ab, "AccountNumber", d.account)
        _e(pi, PM, "DebtOrAdvance", _kopecks(d.debt))
        _e(pi, PM, "TotalWithDebtAndAdvance", _kopecks(d.amount_due + d.debt))
        _e(ex, PM, "MailingAddress", d.address)
        _e(det, PM, "Reminder", _kopecks(d.amount_due))
        if d.error is not None:  # the choice: an error instead of the debt and total
            err = _e(det, B, "ErrorMessage")
            _e(err, B, "ErrorCode", d.error[0])
            _e(err, B, "Description", d.error[1])
        else:
            _e(det, PM, "Debt", _kopecks(d.debt))
            _e(det, PM, "TotalWithDebtAndAdvance", _kopecks(d.amount_due + d.debt))
        _e(det, PM, "PDServiceName", d.service_name)
        _e(el, B, "Year", d.year)
        _e(el, B, "Month", d.month)
        return el

    def _get_state(self, service: str, element: etree._Element) -> tuple[str, bytes]:
        guid = element.findtext(f"{{{B}}}MessageGUID") or ""
        msg = self._messages.get(guid)
        ns = PM if service == "payment" else DM
        res = etree.Element(f"{{{ns}}}getStateResult", nsmap={"base": B})
        res.set(f"{{{B}}}version", "10.0.1.1")
        if msg is None or msg.service != service:
            _e(res, B, "RequestState", 3)
            _e(res, B, "MessageGUID", guid)
            err = _e(res, B, "ErrorMessage")
            _e(err, B, "ErrorCode", UNKNOWN_MESSAGE)
            _e(err, B, "Description", "Сообщение не найдено")
            return "200 OK", self._envelope(res)
        msg.polls += 1
        if msg.polls_left > 0:
            msg.polls_left -= 1
            _e(res, B, "RequestState", 1 if msg.polls == 1 else 2)
            _e(res, B, "MessageGUID", guid)
            return "200 OK", self._envelope(res)
        _e(res, B, "RequestState", 3)
        _e(res, B, "MessageGUID", guid)
        if msg.payload is not None:
            res.append(_copy(msg.payload))
        for item in msg.results:
            res.append(_copy(item))
        return "200 OK", self._envelope(res)


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element), safe_parser())
