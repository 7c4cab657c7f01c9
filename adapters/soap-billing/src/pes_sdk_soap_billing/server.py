"""The reference server of the billing exchange: the WSDL implemented by a partner, for copying.

:func:`make_app` is a plain **WSGI** application; :class:`ReferenceServer` serves it with
:mod:`wsgiref` on loopback in a thread. Why WSGI and wsgiref rather than a SOAP server
framework: a partner copies this file into whatever it runs (gunicorn, uWSGI, mod_wsgi, a
1C HTTP service in front of it) and WSGI is the one interface all of them take; wsgiref is
in the standard library, so the tests need nothing but lxml, start the server in
milliseconds, and speak real HTTP over ``127.0.0.1``. A threading mix-in lets one slow
request (the timeout tests) sleep without holding up the retry that follows it.

What it does, per the WSDL (``wsdl/billing.wsdl``):

* every request body is parsed **hardened** through :mod:`pes_sdk.safexml` (lxml
  ``resolve_entities=False``, ``no_network=True``, ``load_dtd=False``; any ``<!DOCTYPE``
  is refused before parsing),
  size-limited, and its operation element validated against ``wsdl/billing.xsd``; a request
  that fails any of it gets a ``soap:Client`` fault ``INVALID_REQUEST``;
* ``GetDebtRegistry`` pages the current debt registry of a partner and period; the page
  token binds the registry number, so a registry replaced mid-reading gives
  ``BAD_PAGE_TOKEN`` instead of a mix of two registries;
* ``SubmitPaymentRegistry`` is idempotent by partner + registry number: the same content
  again is answered ``ALREADY_ACCEPTED`` with the first receipt; other content under a taken
  number is the fault ``REGISTRY_CONFLICT``. "The same" compares the parsed values (amounts
  as numbers, times as instants), not the bytes, so two serialisations of one registry agree;
* ``SubmitMeterReadings`` refuses, per item, a value below the last one of the same meter.

The store is in memory (:class:`MemoryBillingStore`); a partner puts its database behind
the same few methods. :class:`FaultPlan` injects bad days for tests: 503s, 502s, transient
SOAP faults, answers lost after the work was done, and answers slower than a client's
timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
from lxml import etree

from pes_sdk.errors import FormatError
from pes_sdk.models.debts import DebtRecord
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.safexml import HARDENED_PARSER_OPTIONS, PROLOG_LIMIT, check_prolog_bytes
from pes_sdk_soap_billing.schema import NS, schema, schema_problem

__all__ = [
    "FAULT_KINDS",
    "NS",
    "OPERATIONS",
    "FaultPlan",
    "MemoryBillingStore",
    "PublishedRegistry",
    "ReferenceServer",
    "make_app",
    "schema",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OPERATIONS = ("GetDebtRegistry", "SubmitPaymentRegistry", "SubmitMeterReadings")
#: what :class:`FaultPlan` can make a request suffer
FAULT_KINDS = ("unavailable", "bad-gateway", "temporary-fault", "lost-answer", "slow")
MAX_BODY = 32 * 1024 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _parser() -> etree.XMLParser:
    # A new parser per use: lxml parsers are not safe to share between threads.
    return etree.XMLParser(**HARDENED_PARSER_OPTIONS)


class SoapFault(Exception):
    """A fault the server answers with: ``code`` is one of the WSDL's FaultCode values."""

    def __init__(self, code: str, message: str, *, server: bool = False) -> None:
        self.code = code
        self.message = message
        self.server = server
        super().__init__(f"{code}: {message}")


# -- the store -----------------------------------------------------------------------------


@attrs.frozen
class PublishedRegistry:
    """A debt registry as the partner published it for one period."""

    number: int
    created_at: dt.datetime
    records: tuple[DebtRecord, ...]

    @property
    def amount(self) -> Decimal:
        return sum((r.amount for r in self.records), ZERO)


@attrs.frozen
class _Accepted:
    digest: str
    receipt_id: str
    accepted_at: dt.datetime
    record_count: int
    amount: Decimal


class MemoryBillingStore:
    """The partner's side in memory: its debt registries, what it accepted, its readings.

    Every method is atomic (one lock), which is what makes idempotent acceptance safe when
    a retry arrives while the first request is still being answered.
    """

    def __init__(self, partners: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._partners: set[str] = set(partners)
        self._debts: dict[tuple[str, str], PublishedRegistry] = {}
        self._numbers: Counter[str] = Counter()
        self._accepted: dict[tuple[str, int], _Accepted] = {}
        #: every acceptance that stored something, in order (a duplicate would show here)
        self.acceptance_log: list[tuple[str, int]] = []
        self._readings: dict[tuple[str, str, str], tuple[Decimal, ...]] = {}
        self.readings_log: list[tuple[str, str, str]] = []

    def add_partner(self, inn: str) -> None:
        with self._lock:
            self._partners.add(inn)

    def knows(self, inn: str) -> bool:
        with self._lock:
            return inn in self._partners

    def publish_debts(
        self,
        partner_inn: str,
        period: Period,
        records: Iterable[DebtRecord],
        *,
        created_at: dt.datetime | None = None,
    ) -> PublishedRegistry:
        """Make ``records`` the partner's current registry for ``period`` (a new number)."""
        with self._lock:
            self._partners.add(partner_inn)
            self._numbers[partner_inn] += 1
            published = PublishedRegistry(
                self._numbers[partner_inn],
                created_at or dt.datetime.now(dt.UTC).replace(microsecond=0),
                tuple(records),
            )
            self._debts[(partner_inn, str(period))] = published
            return published

    def debts(self, partner_inn: str, period: str) -> PublishedRegistry | None:
        with self._lock:
            return self._debts.get((partner_inn, period))

    def accept_payments(
        self, partner_inn: str, number: int, digest: str, count: int, amount: Decimal
    ) -> tuple[bool, _Accepted]:
        """Accept a registry once: ``(True, receipt)`` the first time, ``(False, …)`` after.

        :raises SoapFault: ``REGISTRY_CONFLICT`` for the number with another digest.
        """
        with self._lock:
            known = self._accepted.get((partner_inn, number))
            if known is not None:
                if known.digest != digest:
                    raise SoapFault(
                        "REGISTRY_CONFLICT",
                        f"registry {number} was accepted on {known.accepted_at.isoformat()} "
                        "with other content; send corrections under a new number",
                    )
                return False, known
            receipt = _Accepted(digest, uuid.uuid4().hex, dt.datetime.now(dt.UTC), count, amount)
            self._accepted[(partner_inn, number)] = receipt
            self.acceptance_log.append((partner_inn, number))
            return True, receipt

    def accepted(self, partner_inn: str) -> dict[int, tuple[int, Decimal]]:
        """The partner's accepted payment registries: number → (record count, amount)."""
        with self._lock:
            return {
                n: (a.record_count, a.amount)
                for (inn, n), a in self._accepted.items()
                if inn == partner_inn
            }

    def add_reading(
        self, partner_inn: str, account: str, meter: str, values: tuple[Decimal, ...]
    ) -> str | None:
        """Store a reading; the reason it is refused, or None."""
        with self._lock:
            key = (partner_inn, account, meter)
            last = self._readings.get(key)
            if last is not None and len(last) == len(values):
                for i, (old, new) in enumerate(zip(last, values, strict=True), start=1):
                    if new < old:
                        return f"T{i} value {new} is below the last one, {old}"
            self._readings[key] = values
            self.readings_log.append(key)
            return None


# -- bad days --------------------------------------------------------------------------------


class FaultPlan:
    """Faults to inflict on the next requests of an operation (or of any operation).

    * ``unavailable``: HTTP 503, plain text, before any work;
    * ``bad-gateway``: HTTP 502, HTML (what a proxy sends), before any work;
    * ``temporary-fault``: a ``soap:Server`` fault ``TEMPORARILY_UNAVAILABLE``, before work;
    * ``lost-answer``: the work is done, then HTTP 503 instead of the answer;
    * ``slow``: the work is done, then the answer waits ``slow_seconds`` (past the client's
      timeout), then is sent.
    """

    def __init__(self, slow_seconds: float = 3.0) -> None:
        self._lock = threading.Lock()
        self._queue: dict[str | None, list[str]] = {}
        self._always: dict[str | None, str] = {}
        self.slow_seconds = slow_seconds

    def fail_next(self, how: str, *, times: int = 1, operation: str | None = None) -> None:
        self._check(how, operation)
        with self._lock:
            self._queue.setdefault(operation, []).extend([how] * times)

    def fail_always(self, how: str, *, operation: str | None = None) -> None:
        self._check(how, operation)
        with self._lock:
            self._always[operation] = how

    def heal(self) -> None:
        with self._lock:
            self._queue.clear()
            self._always.clear()

    def take(self, operation: str) -> str | None:
        """The fault for this request of ``operation``, if any (consumes a queued one)."""
        with self._lock:
            for key in (operation, None):
                if key in self._always:
                    return self._always[key]
                queued = self._queue.get(key)
                if queued:
                    return queued.pop(0)
            return None

    @staticmethod
    def _check(how: str, operation: str | None) -> None:
        if how not in FAULT_KINDS:
            raise ValueError(f"unknown fault {how!r}; known: {', '.join(FAULT_KINDS)}")
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")


# -- the application -------------------------------------------------------------------------


class _Response(Exception):
    """A raw HTTP answer that is not a SOAP envelope (what proxies and broken servers send)."""

    def __init__(self, status: str, body: bytes, content_type: str = "text/plain") -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        super().__init__(status)


def _text(parent: etree._Element, name: str) -> str:
    child = parent.find(_q(name))
    return "" if child is None or child.text is None else child.text


def _opt(parent: etree._Element, name: str) -> str | None:
    child = parent.find(_q(name))
    return None if child is None else (child.text or "")


def _sub(parent: etree._Element, name: str, text: object | None) -> etree._Element:
    el = etree.SubElement(parent, _q(name))
    if text is not None:
        el.text = text if isinstance(text, str) else str(text)
    return el


def _money(value: Decimal) -> str:
    return format(value, "f")


def _envelope(payload: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "b": NS})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    body.append(payload)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def _fault_envelope(fault: SoapFault) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "b": NS})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    f = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(f, "faultcode").text = "soap:Server" if fault.server else "soap:Client"
    etree.SubElement(f, "faultstring").text = fault.message
    detail = etree.SubElement(etree.SubElement(f, "detail"), _q("BillingFault"))
    _sub(detail, "code", fault.code)
    _sub(detail, "message", fault.message)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def _token(number: int, offset: int) -> str:
    return f"r{number}.o{offset}"


def _parse_token(token: str) -> tuple[int, int]:
    try:
        number, offset = token.split(".")
        if number[0] != "r" or offset[0] != "o":
            raise ValueError(token)
        return int(number[1:]), int(offset[1:])
    except (ValueError, IndexError):
        raise SoapFault("BAD_PAGE_TOKEN", "the page token is not one this server gave") from None


class BillingApp:
    """The WSGI application (use :func:`make_app`); counts requests per operation."""

    def __init__(
        self,
        store: MemoryBillingStore,
        *,
        path: str = "/pes-billing",
        faults: FaultPlan | None = None,
        max_body: int = MAX_BODY,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.path = path
        self.faults = faults or FaultPlan()
        self.max_body = max_body
        self._stopping = stopping or threading.Event()
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        #: requests refused before reaching an operation (hostile or broken XML)
        self.refused: list[str] = []

    def calls(self, operation: str) -> int:
        """How many requests of ``operation`` arrived (faults injected included)."""
        with self._lock:
            return self._calls[operation]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, body, ctype = self._handle(environ)
        except _Response as raw:
            status, body, ctype = raw.status, raw.body, raw.content_type
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    # -- request handling --------------------------------------------------------------

    def _handle(self, environ: dict[str, Any]) -> tuple[str, bytes, str]:
        xml = "text/xml; charset=utf-8"
        if environ.get("PATH_INFO", "") != self.path:
            raise _Response("404 Not Found", b"not found")
        if environ.get("REQUEST_METHOD") != "POST":
            raise _Response("405 Method Not Allowed", b"POST a SOAP envelope")
        raw = _request_body(environ, self.max_body)
        try:
            request = self._parse(raw)
        except SoapFault as fault:
            self.refused.append(fault.message)
            return "500 Internal Server Error", _fault_envelope(fault), xml
        operation = etree.QName(request).localname.removesuffix("Request")
        with self._lock:
            self._calls[operation] += 1
        fault_kind = self.faults.take(operation)
        if fault_kind == "unavailable":
            raise _Response("503 Service Unavailable", b"try again later")
        if fault_kind == "bad-gateway":
            raise _Response("502 Bad Gateway", b"<html><body>502</body></html>", "text/html")
        if fault_kind == "temporary-fault":
            transient = SoapFault("TEMPORARILY_UNAVAILABLE", "try again later", server=True)
            return "500 Internal Server Error", _fault_envelope(transient), xml
        try:
            answer = _envelope(self._dispatch(operation, request))
            status = "200 OK"
        except SoapFault as fault:
            answer, status = _fault_envelope(fault), "500 Internal Server Error"
        if fault_kind == "lost-answer":
            raise _Response("503 Service Unavailable", b"the answer was lost")
        if fault_kind == "slow":
            self._stopping.wait(self.faults.slow_seconds)
        return status, answer, xml

    def _parse(self, raw: bytes) -> etree._Element:
        # Refused before parsing: a DTD is how entity expansion and external entities get in,
        # and no message of this protocol has one.
        try:
            check_prolog_bytes(raw[:PROLOG_LIMIT])
        except FormatError as exc:
            raise SoapFault("INVALID_REQUEST", exc.message) from None
        try:
            root = etree.fromstring(raw, _parser())
        except etree.XMLSyntaxError as exc:
            raise SoapFault("INVALID_REQUEST", f"not well-formed XML: {exc}") from None
        docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
        if docinfo.doctype:
            raise SoapFault("INVALID_REQUEST", "a DOCTYPE is not allowed")
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            raise SoapFault("INVALID_REQUEST", "the root is not a SOAP 1.1 Envelope")
        body = root.find(f"{{{SOAP_ENV}}}Body")
        children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
        if len(children) != 1:
            raise SoapFault("INVALID_REQUEST", "the Body must hold exactly one element")
        request = children[0]
        qname = etree.QName(request)
        if qname.namespace != NS or qname.localname.removesuffix("Request") not in OPERATIONS:
            raise SoapFault("INVALID_REQUEST", f"unknown operation element {qname.text}")
        why = schema_problem(request)
        if why is not None:
            raise SoapFault("INVALID_REQUEST", f"the request breaks the schema: {why}")
        return request

    def _dispatch(self, operation: str, request: etree._Element) -> etree._Element:
        handlers: dict[str, Callable[[etree._Element], etree._Element]] = {
            "GetDebtRegistry": self._get_debt_registry,
            "SubmitPaymentRegistry": self._submit_payment_registry,
            "SubmitMeterReadings": self._submit_meter_readings,
        }
        return handlers[operation](request)

    def _partner(self, inn: str) -> str:
        if not self.store.knows(inn):
            raise SoapFault("UNKNOWN_PARTNER", f"no partner with ИНН {inn} here")
        return inn

    def _get_debt_registry(self, request: etree._Element) -> etree._Element:
        inn = self._partner(_text(request, "partnerInn"))
        period = _text(request, "period")
        size = int(_text(request, "pageSize"))
        published = self.store.debts(inn, period)
        if published is None:
            raise SoapFault("NO_REGISTRY", f"no debt registry for {period}")
        token = _opt(request, "pageToken")
        offset = 0
        if token is not None:
            number, offset = _parse_token(token)
            if number != published.number:
                raise SoapFault(
                    "BAD_PAGE_TOKEN", "the registry was replaced since; read it from the start"
                )
            if not 0 <= offset <= len(published.records):
                raise SoapFault("BAD_PAGE_TOKEN", "the page token points past the registry")
        out = etree.Element(_q("GetDebtRegistryResponse"), nsmap={"b": NS})
        _sub(out, "registryNumber", published.number)
        _sub(out, "createdAt", published.created_at.isoformat())
        totals = _sub(out, "totals", None)
        _sub(totals, "count", len(published.records))
        _sub(totals, "amount", _money(published.amount))
        for r in published.records[offset : offset + size]:
            rec = _sub(out, "record", None)
            _sub(rec, "account", r.account)
            _sub(rec, "houseGuid", r.house_id)
            _sub(rec, "premises", r.premises.text)
            _sub(rec, "amount", _money(r.amount))
            if r.service:
                _sub(rec, "service", r.service)
            if r.period is not None:
                _sub(rec, "period", str(r.period))
            if r.service_code:
                _sub(rec, "serviceCode", r.service_code)
        if offset + size < len(published.records):
            _sub(out, "nextPageToken", _token(published.number, offset + size))
        return out

    def _submit_payment_registry(self, request: etree._Element) -> etree._Element:
        registry = request.find(_q("registry"))
        assert registry is not None  # the schema requires it
        inn = self._partner(_text(registry, "partnerInn"))
        number = int(_text(registry, "registryNumber"))
        canonical, count, amount = _canonical_payments(registry)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        first, receipt = self.store.accept_payments(inn, number, digest, count, amount)
        out = etree.Element(_q("SubmitPaymentRegistryResponse"), nsmap={"b": NS})
        _sub(out, "status", "ACCEPTED" if first else "ALREADY_ACCEPTED")
        _sub(out, "receiptId", receipt.receipt_id)
        _sub(out, "acceptedAt", receipt.accepted_at.isoformat())
        return out

    def _submit_meter_readings(self, request: etree._Element) -> etree._Element:
        inn = self._partner(_text(request, "partnerInn"))
        accepted = 0
        rejected: list[tuple[int, str]] = []
        for i, reading in enumerate(request.iterfind(_q("reading"))):
            values = tuple(Decimal(v.text or "") for v in reading.iterfind(_q("value")))
            reason = self.store.add_reading(
                inn, _text(reading, "account"), _text(reading, "meterNumber"), values
            )
            if reason is None:
                accepted += 1
            else:
                rejected.append((i, reason))
        out = etree.Element(_q("SubmitMeterReadingsResponse"), nsmap={"b": NS})
        _sub(out, "accepted", accepted)
        for index, reason in rejected:
            rej = _sub(out, "rejected", None)
            _sub(rej, "index", index)
            _sub(rej, "reason", reason)
        return out


_RECORD_FIELDS = (
    "operationId",
    "paidAt",
    "account",
    "amount",
    "transfer",
    "fee",
    "houseGuid",
    "premises",
    "period",
    "service",
    "channel",
    "serviceCode",
)
_MONEY_FIELDS = frozenset({"amount", "transfer", "fee", "commission", "vat"})


def _value(name: str, text: str | None) -> str | None:
    """A field's value in a form that does not depend on how it was written."""
    if text is None:
        return None
    try:
        if name in _MONEY_FIELDS:
            return str(Decimal(text))
        if name == "paidAt":
            moment = dt.datetime.fromisoformat(text)
            # A time without an offset is the partner's wall time: compared as written,
            # never read in this host's zone (the same file must compare equal on any host).
            if moment.tzinfo is None:
                return moment.isoformat()
            return moment.astimezone(dt.UTC).isoformat()
        if name == "houseGuid":
            return text.lower()
    except (InvalidOperation, ValueError) as exc:
        raise SoapFault("INVALID_REQUEST", f"{name}: {exc}") from None
    return text


def _canonical_payments(registry: etree._Element) -> tuple[str, int, Decimal]:
    """The registry's content as canonical JSON, and its count and amount (totals checked)."""
    totals = registry.find(_q("totals"))
    assert totals is not None
    head = {
        name: _value(name, _opt(totals, name))
        for name in ("count", "amount", "commission", "vat", "transfer")
    }
    records = [
        [_value(name, _opt(rec, name)) for name in _RECORD_FIELDS]
        for rec in registry.iterfind(_q("record"))
    ]
    count = len(records)
    amount = sum((Decimal(r[3] or "0") for r in records), ZERO)
    transfer = sum((Decimal(r[4] or "0") for r in records), ZERO)
    if int(head["count"] or "0") != count:
        raise SoapFault("INVALID_REQUEST", f"totals count {head['count']} != {count} records")
    if Decimal(head["amount"] or "0") != amount or Decimal(head["transfer"] or "0") != transfer:
        raise SoapFault("INVALID_REQUEST", "the records do not add up to the totals")
    for i, r in enumerate(records, start=1):
        if Decimal(r[4] or "0") + Decimal(r[5] or "0") != Decimal(r[3] or "0"):
            raise SoapFault("INVALID_REQUEST", f"record {i}: transfer + fee != amount")
    doc = {
        "partnerInn": _text(registry, "partnerInn"),
        "registryNumber": int(_text(registry, "registryNumber")),
        "date": _text(registry, "date"),
        "totals": head,
        "records": records,
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True), count, amount


#: The longest chunk-size line of a chunked request (the size in hex and any extensions).
_CHUNK_LINE_MAX = 1024


def _request_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request's body, at most ``limit`` bytes, whether it has a Content-Length or is
    sent chunked (as Java and streaming .NET clients send it): 413 past the limit, 411 when
    neither tells where it ends, 400 for broken chunk framing."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise _Response("400 Bad Request", b"Content-Length is not a number") from None
        if length < 0 or length > limit:
            raise _Response("413 Content Too Large", b"the request is too large")
        return bytes(stream.read(length))
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise _Response("411 Length Required", b"Content-Length or chunked encoding is required")
    if environ.get("wsgi.input_terminated"):  # the server has taken the chunks apart
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise _Response("413 Content Too Large", b"the request is too large")
        return bytes(body)
    # wsgiref hands the chunks over as they came: take them apart here (RFC 9112, 7.1).
    parts: list[bytes] = []
    size_so_far = 0
    while True:
        line = stream.readline(_CHUNK_LINE_MAX + 1)
        if len(line) > _CHUNK_LINE_MAX or not line.endswith(b"\n"):
            raise _Response("400 Bad Request", b"a chunk-size line is broken")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Response("400 Bad Request", b"a chunk size is not hexadecimal") from None
        if size == 0:
            break
        size_so_far += size
        if size < 0 or size_so_far > limit:
            raise _Response("413 Content Too Large", b"the request is too large")
        chunk = stream.read(size)
        if len(chunk) != size or stream.read(2) != b"\r\n":
            raise _Response("400 Bad Request", b"a chunk is cut short")
        parts.append(chunk)
    for _ in range(100):  # trailer fields, then the empty line
        line = stream.readline(_CHUNK_LINE_MAX + 1)
        if line in (b"\r\n", b"\n", b""):
            return b"".join(parts)
    raise _Response("400 Bad Request", b"too many trailer fields")


def make_app(
    store: MemoryBillingStore | None = None,
    *,
    path: str = "/pes-billing",
    faults: FaultPlan | None = None,
    max_body: int = MAX_BODY,
) -> BillingApp:
    """The WSGI application of the billing service, to serve with any WSGI server."""
    return BillingApp(store or MemoryBillingStore(), path=path, faults=faults, max_body=max_body)


# -- serving it on loopback --------------------------------------------------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    # Request lines would carry nothing personal, but a test run's stderr is no log.
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ReferenceServer:
    """The reference service on ``127.0.0.1`` (port chosen by the OS) in a daemon thread.

    Use as a context manager, or :meth:`start` / :meth:`stop`. ``url`` is the endpoint
    address to give the client.
    """

    def __init__(
        self,
        store: MemoryBillingStore | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/pes-billing",
        slow_seconds: float = 3.0,
        max_body: int = MAX_BODY,
    ) -> None:
        self.store = store or MemoryBillingStore()
        self._stopping = threading.Event()
        self.app = BillingApp(
            self.store,
            path=path,
            faults=FaultPlan(slow_seconds),
            max_body=max_body,
            stopping=self._stopping,
        )
        self._server = make_server(
            host, port, self.app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> FaultPlan:
        return self.app.faults

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.app.path}"

    def start(self) -> ReferenceServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="pes-billing-reference",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes answers held back by the "slow" fault
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def calls(self, operation: str) -> int:
        return self.app.calls(operation)
