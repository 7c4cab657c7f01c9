"""The zeep adapter: a partner's billing service as a billing source and a delivery channel.

Hardened the way docs/STYLE asks of every zeep client in the kit:

* ``Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)``;
* the WSDL and its XSD come from this package's data, and the transport refuses to load
  any other document (:class:`LocalOnlyTransport`), so no answer can make zeep fetch one;
* ``Transport(timeout=…, operation_timeout=…)``, both always (zeep's operation timeout is
  none at all by default), over one ``requests.Session`` per client;
* tenacity retries (:class:`~pes_sdk.billing.BillingRetry`) only after transient errors
  (connection errors, timeouts, 5xx, the partner's ``TEMPORARILY_UNAVAILABLE`` fault),
  always with a stop and jittered backoff, and only for the idempotent calls:
  ``GetDebtRegistry`` (a read) and ``SubmitPaymentRegistry`` (idempotent by partner +
  registry number by design). ``SubmitMeterReadings`` is sent once.

Every failure reaches the caller as a :mod:`pes_sdk.billing.errors` error.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import os
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from pes_sdk.billing.contract import BillingSource, DeliveryChannel, verify_complete
from pes_sdk.billing.errors import (
    BillingError,
    BillingFault,
    BillingProtocolError,
    BillingTimeout,
    BillingUnavailable,
    PagingError,
    RegistryConflict,
)
from pes_sdk.billing.models import (
    ChannelCapabilities,
    DeliveryReceipt,
    DeliveryStatus,
    ReadingsReceipt,
    RejectedReading,
)
from pes_sdk.billing.retry import BillingRetry
from pes_sdk.errors import ConfigError, Issue, PesError
from pes_sdk.identifiers import check_inn
from pes_sdk.models.debts import DebtRecord, DebtRegistry
from pes_sdk.models.payments import PaymentRecord, PaymentRegistry
from pes_sdk.models.readings import MeterReading
from pes_sdk.models.registry import ControlTotals
from pes_sdk.money import amount as to_amount
from pes_sdk.period import Period
from pes_sdk_soap_billing.schema import NS, schema_problem

__all__ = [
    "BINDING",
    "DEFAULT_PAGE_SIZE",
    "NS",
    "LocalOnlyTransport",
    "SoapBillingClient",
    "hardened_settings",
    "wsdl_path",
]

BINDING = f"{{{NS}}}BillingBinding"
DEFAULT_PAGE_SIZE = 1000
T = TypeVar("T")


def wsdl_path() -> Path:
    """The WSDL shipped in this package (its XSD, ``billing.xsd``, lies beside it)."""
    return Path(str(importlib.resources.files("pes_sdk_soap_billing") / "wsdl" / "billing.wsdl"))


def hardened_settings() -> zeep.Settings:
    """zeep settings for every client of the kit: strict, no DTD, no entities, no fetching."""
    return zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)


class _SchemaBreach(Exception):
    """An answer that breaks the kit's own XSD (raised inside zeep, typed by ``_invoke``)."""


class _CheckAnswers(zeep.Plugin):
    """Checks every answer's payload against ``billing.xsd`` before zeep converts it.

    zeep reads ``-15`` as a decimal where the schema's money needs two places, and lets
    other breaches through as values; a partner's answer is checked as strictly as the
    reference server checks requests. SOAP faults are left to the fault handling.
    """

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        payload = body[0] if body is not None and len(body) else None
        if payload is not None and etree.QName(payload).namespace == NS:
            why = schema_problem(payload)
            if why is not None:
                raise _SchemaBreach(why)
        return envelope, http_headers


class LocalOnlyTransport(Transport):
    """A zeep transport that loads WSDL and XSD documents only from one local folder."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # zeep is untyped
        self._root = root.resolve()
        # the HTTP status of this thread's last POST: zeep's Fault does not carry it, and a
        # non-SOAP error page (a proxy's 502, a 401) is told apart by it alone
        self._local = threading.local()

    @property
    def last_status(self) -> int:
        return int(getattr(self._local, "status", 0))

    def post(self, address: str, message: Any, headers: Any) -> Any:
        self._local.status = 0
        response = super().post(address, message, headers)  # type: ignore[no-untyped-call]
        self._local.status = int(response.status_code)
        return response

    def load(self, url: str) -> bytes:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("", "file") or (parsed.scheme == "file" and parsed.netloc):
            raise ConfigError(f"refusing to load {url!r}: WSDL and XSD come from local files")
        path = Path(urllib.parse.unquote(parsed.path) if parsed.scheme else url).resolve()
        if not path.is_relative_to(self._root):
            raise ConfigError(f"refusing to load {path}: outside {self._root}")
        return path.read_bytes()


def _endpoint_label(url: str) -> str:
    """The address without credentials, query or fragment: safe for errors and receipts."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class SoapBillingClient(BillingSource, DeliveryChannel):
    """One partner's billing service (the kit's WSDL), as source and channel at once.

    :param url: the partner's endpoint (``http`` or ``https``; credentials go in
        ``username``/``password``, not in the URL).
    :param timeout: seconds to load the WSDL and XSD (local files: zeep's ``timeout``).
    :param operation_timeout: the timeout of each call's HTTP request (``requests``: to
        connect, and for each read of the answer).
    :param page_size: records asked per ``GetDebtRegistry`` page (1..5000).
    :param retry: the retry policy of the idempotent calls.
    :param max_pages: a registry with more pages than this is refused (a looping server).
    """

    name = "soap-billing"
    capabilities = ChannelCapabilities(payments=True, readings=True)

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        operation_timeout: float = 60.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry: BillingRetry | None = None,
        username: str | None = None,
        password: str | None = None,
        max_pages: int = 100_000,
        wsdl: Path | None = None,
    ) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"the billing endpoint must be http(s), not {_endpoint_label(url)!r}")
        if urllib.parse.urlsplit(url).password is not None:
            raise ConfigError("put credentials in username/password, not in the URL")
        if not (timeout > 0 and operation_timeout > 0):
            raise ConfigError("timeout and operation_timeout must both be positive")
        if not 1 <= page_size <= 5000:
            raise ConfigError(f"page_size is 1..5000, not {page_size}")
        self.url = url
        self.endpoint = _endpoint_label(url)
        self.page_size = page_size
        self.retry = retry or BillingRetry()
        self.max_pages = max_pages
        self._session = requests.Session()
        if username is not None:
            self._session.auth = (username, password or "")
        wsdl = wsdl or wsdl_path()
        self._transport = transport = LocalOnlyTransport(
            wsdl.parent,
            session=self._session,
            timeout=timeout,
            operation_timeout=operation_timeout,
        )
        # zeep is untyped: its client and service proxies are Any here
        client: Any = zeep.Client
        self._client = client(
            os.fspath(wsdl),
            transport=transport,
            settings=hardened_settings(),
            plugins=[_CheckAnswers()],
        )
        self._service: Any = self._client.create_service(BINDING, url)

    # -- billing source --------------------------------------------------------------------

    def fetch_debts(self, partner_inn: str, period: Period) -> DebtRegistry:
        """Every page of the partner's registry for ``period``, checked against its totals.

        Every error names the partner, the operation and the endpoint.
        """
        inn = self._inn(partner_inn)
        try:
            return self._fetch_debts(inn, period)
        except BillingError as exc:
            raise exc.naming_partner(inn, "GetDebtRegistry") from None

    def _fetch_debts(self, inn: str, period: Period) -> DebtRegistry:
        records: list[DebtRecord] = []
        token: str | None = None
        seen: set[str] = set()
        first: tuple[int, dt.datetime, int, Decimal] | None = None
        pages = 0
        while True:
            page = self.retry.call(partial(self._get_page, inn, period, token))
            pages += 1
            head = self._head(page, pages)
            if first is None:
                first = head
            elif head != first:
                raise PagingError(
                    f"page {pages} belongs to registry {head[0]} of {head[1]}, "
                    f"page 1 to registry {first[0]} of {first[1]}: it changed while read",
                    endpoint=self.endpoint,
                )
            for rec in page.record or ():
                records.append(self._debt(rec, len(records) + 1))
            token = page.nextPageToken
            if not token:
                break
            if token in seen:
                raise PagingError(
                    f"page {pages} repeats an earlier page token", endpoint=self.endpoint
                )
            if pages >= self.max_pages:
                raise PagingError(f"more than {self.max_pages} pages", endpoint=self.endpoint)
            seen.add(token)
        number, created_at, count, total = first
        registry = DebtRegistry(
            inn, period, number, created_at, records, ControlTotals(count, {"amount": total})
        )
        return verify_complete(registry, endpoint=self.endpoint)

    def _head(self, page: Any, index: int) -> tuple[int, dt.datetime, int, Decimal]:
        """What every page repeats about the whole registry: number, time, count, amount."""
        try:
            number = int(page.registryNumber)
            count = int(page.totals.count)
            total = to_amount(page.totals.amount)
            created_at = _utc(page.createdAt)
            if number < 1 or count < 0:
                raise ValueError(f"registry number {number}, count {count}")
        except (AttributeError, TypeError, ValueError) as exc:
            raise BillingProtocolError(
                f"GetDebtRegistry page {index}: unusable registry header: {exc}",
                endpoint=self.endpoint,
            ) from None
        return number, created_at, count, total

    def _get_page(self, inn: str, period: Period, token: str | None) -> Any:
        return self._invoke(
            "GetDebtRegistry",
            inn,
            partnerInn=inn,
            period=str(period),
            pageToken=token,
            pageSize=self.page_size,
        )

    def _debt(self, rec: Any, index: int) -> DebtRecord:
        try:
            return DebtRecord(
                rec.account,
                rec.houseGuid,
                rec.premises or "",
                rec.amount,
                period=Period.parse(rec.period) if rec.period else None,
                service=rec.service or "",
                service_code=rec.serviceCode or "",
            )
        except (ValueError, TypeError, PesError) as exc:
            raise BillingProtocolError(
                f"GetDebtRegistry record {index}: {exc}",
                endpoint=self.endpoint,
                issues=[Issue(index, "record", str(exc))],
            ) from None

    # -- delivery channel ------------------------------------------------------------------

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        """Submit the registry; retried after transient errors (idempotent by number)."""
        payload = {
            "partnerInn": registry.partner_inn,
            "registryNumber": registry.number,
            "date": registry.date,
            "totals": {
                "count": registry.totals.count,
                "amount": registry.totals.amount,
                "commission": registry.totals.commission,
                "vat": registry.totals.vat,
                "transfer": registry.totals.transfer,
            },
            "record": [_payment(r) for r in registry.records],
        }
        answer = self.retry.call(
            lambda: self._invoke("SubmitPaymentRegistry", registry.partner_inn, registry=payload)
        )
        try:
            status = {
                "ACCEPTED": DeliveryStatus.ACCEPTED,
                "ALREADY_ACCEPTED": DeliveryStatus.ALREADY_ACCEPTED,
            }[answer.status]
            return DeliveryReceipt(
                registry.partner_inn,
                registry.number,
                status,
                str(answer.receiptId),
                _utc(answer.acceptedAt),
                self.name,
                self.endpoint,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise BillingProtocolError(
                f"SubmitPaymentRegistry: unusable answer: {exc}", endpoint=self.endpoint
            ).naming_partner(registry.partner_inn) from None

    def deliver_readings(
        self, partner_inn: str, readings: Sequence[MeterReading]
    ) -> ReadingsReceipt:
        """Submit readings once: the operation is not idempotent, so it is never resent."""
        inn = self._inn(partner_inn)
        if not readings:
            return ReadingsReceipt(inn, 0, (), self.name, self.endpoint)
        items = [
            {
                "account": r.account,
                "meterNumber": r.meter_number,
                "meterType": int(r.meter_type),
                "value": list(r.values),
                "takenOn": r.taken_on,
                "houseGuid": r.house_id,
                "service": r.service or None,
            }
            for r in readings
        ]
        answer = BillingRetry.once(
            lambda: self._invoke("SubmitMeterReadings", inn, partnerInn=inn, reading=items)
        )
        try:
            rejected = tuple(
                RejectedReading(int(r.index), str(r.reason)) for r in answer.rejected or ()
            )
            return ReadingsReceipt(inn, int(answer.accepted), rejected, self.name, self.endpoint)
        except (AttributeError, TypeError, ValueError) as exc:
            raise BillingProtocolError(
                f"SubmitMeterReadings: unusable answer: {exc}", endpoint=self.endpoint
            ).naming_partner(inn) from None

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SoapBillingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one call, its failures typed ------------------------------------------------------

    def _inn(self, inn: str) -> str:
        try:
            return check_inn(inn)
        except ValueError as exc:
            raise ConfigError(f"partner ИНН: {exc}") from None

    def _invoke(self, operation: str, partner: str, **kwargs: Any) -> Any:
        """Call ``operation``; every failure typed, and named by operation and partner."""
        try:
            return self._call(operation, **kwargs)
        except BillingError as exc:
            raise exc.naming_partner(partner) from None

    def _call(self, operation: str, **kwargs: Any) -> Any:
        method: Callable[..., Any] = getattr(self._service, operation)
        try:
            return method(**kwargs)
        except _SchemaBreach as exc:
            raise BillingProtocolError(
                f"{operation}: the answer breaks the exchange's schema: {exc}",
                endpoint=self.endpoint,
            ) from None
        except requests.Timeout:
            raise BillingTimeout(
                f"{operation}: no answer in time", endpoint=self.endpoint
            ) from None
        except requests.RequestException as exc:
            # refused or broken connections: the request may not have arrived at all
            raise BillingUnavailable(
                f"{operation}: {type(exc).__name__}", endpoint=self.endpoint
            ) from None
        except zeep.exceptions.Fault as fault:
            raise self._fault(operation, fault) from None
        except zeep.exceptions.TransportError as exc:
            status = int(exc.status_code or 0)
            if status >= 500:
                raise BillingUnavailable(
                    f"{operation}: HTTP {status}", endpoint=self.endpoint, status=status
                ) from None
            if status >= 400:
                raise BillingFault(
                    f"{operation}: HTTP {status}", endpoint=self.endpoint, code=f"HTTP_{status}"
                ) from None
            # a 2xx whose body is not XML: the partner's answer is broken, not refused
            raise BillingProtocolError(
                f"{operation}: HTTP {status} with a body that is not XML", endpoint=self.endpoint
            ) from None
        except (zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
            # malformed, hostile or schema-breaking XML (either way), or a value zeep
            # could not convert: nothing of it is used
            raise BillingProtocolError(
                f"{operation}: {type(exc).__name__}: {exc}", endpoint=self.endpoint
            ) from None

    def _fault(self, operation: str, fault: zeep.exceptions.Fault) -> BillingError:
        code, message = "", str(fault.message or "")
        detail = fault.detail
        if fault.code is None:
            # not a SOAP fault at all: an error page with a non-200 status (zeep passes the
            # page as bytes). The status alone says whether trying again can help.
            status = self._transport.last_status
            if status >= 500 or status == 0:
                return BillingUnavailable(
                    f"{operation}: HTTP {status or '?'} without a SOAP fault",
                    endpoint=self.endpoint,
                    status=status or None,
                )
            return BillingFault(
                f"{operation}: HTTP {status}", endpoint=self.endpoint, code=f"HTTP_{status}"
            )
        if isinstance(detail, etree._Element):
            found = detail.find(f"{{{NS}}}BillingFault")
            if found is not None:
                code = found.findtext(f"{{{NS}}}code") or ""
                message = found.findtext(f"{{{NS}}}message") or message
        server = str(fault.code or "").rpartition(":")[2] == "Server"
        if code == "TEMPORARILY_UNAVAILABLE" or (server and not code):
            return BillingUnavailable(f"{operation}: {message}", endpoint=self.endpoint, status=500)
        if code == "REGISTRY_CONFLICT":
            return RegistryConflict(f"{operation}: {message}", endpoint=self.endpoint, code=code)
        return BillingFault(f"{operation}: {message}", endpoint=self.endpoint, code=code)


def _utc(value: Any) -> dt.datetime:
    """A time from an answer in UTC with the standard library's zone (zeep gives isodate's).

    A ValueError for a time without a zone: the caller names the operation and partner.
    """
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"a time with a time zone was expected, not {value!r}")
    return value.astimezone(dt.UTC)


def _payment(r: PaymentRecord) -> dict[str, Any]:
    if r.paid_at.tzinfo is None:
        raise ConfigError(f"payment {r.operation_id}: paid_at must carry a time zone")
    return {
        "operationId": r.operation_id,
        "paidAt": r.paid_at,
        "account": r.account,
        "amount": to_amount(r.amount),
        "transfer": to_amount(r.transfer),
        "fee": to_amount(r.fee),
        "houseGuid": r.house_id,
        "premises": r.premises.text or None,
        "period": str(r.period) if r.period is not None else None,
        "service": r.service or None,
        "channel": r.channel or None,
        # Sent only when the debt registry gave a code: a partner on the schema before
        # serviceCode never sees it.
        "serviceCode": r.service_code or None,
    }
