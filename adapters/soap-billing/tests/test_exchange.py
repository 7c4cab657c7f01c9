"""zeep against the reference server over real loopback HTTP: paging, idempotency, bad days.

Nothing here leaves 127.0.0.1. Timeouts are made certain, not measured: the server holds a
"slow" answer for several times the client's operation_timeout.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pes_sdk_conformance.billing import debt_records, payment_registry
from pes_sdk_soap_billing.client import SoapBillingClient
from pes_sdk_soap_billing.harness import SoapHarness
from pes_sdk_soap_billing.server import NS, ReferenceServer, schema

from pes_sdk import DebtRecord, Period
from pes_sdk.billing import (
    BillingError,
    BillingFault,
    BillingProtocolError,
    BillingRetry,
    BillingTimeout,
    BillingUnavailable,
    ControlTotalsMismatch,
    DeliveryStatus,
    PagingError,
    RegistryConflict,
)
from pes_sdk.errors import PesError

INN = "7707083893"
PERIOD = Period(2026, 1)
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@pytest.fixture
def harness() -> Iterator[SoapHarness]:
    with SoapHarness(partner_inn=INN, page_size=1000, attempts=3) as h:
        yield h


# -- paging ------------------------------------------------------------------------------


def test_2500_records_in_pages_of_1000(harness: SoapHarness) -> None:
    published = debt_records(2500)
    harness.publish_debts(PERIOD, published)
    registry = harness.client.fetch_debts(INN, PERIOD)
    assert registry.records == tuple(published)  # order kept, nothing lost or doubled
    assert harness.calls("debts") == 3
    assert registry.control is not None
    assert registry.control.count == 2500
    assert registry.control.sums["amount"] == sum((r.amount for r in published), Decimal("0"))
    assert registry.created_at is not None and registry.created_at.tzinfo is dt.UTC
    assert harness.server.app.refused == []  # every request the client sent was valid


def test_every_answer_validates_against_the_xsd(harness: SoapHarness) -> None:
    harness.publish_debts(PERIOD, debt_records(1001))
    seen: list[bytes] = []

    def keep(body: bytes) -> bytes:
        seen.append(body)
        return body

    app = _rewrite(harness.server.app, keep)
    with _serve(app) as url, _client(url, page_size=1000) as client:
        client.fetch_debts(INN, PERIOD)
        client.deliver_payments(payment_registry(INN, 1))
    assert len(seen) == 3
    for body in seen:
        payload = etree.fromstring(body)[0][0]
        assert schema().validate(payload), schema().error_log


def test_the_service_code_travels_from_the_debt_to_the_payment(harness: SoapHarness) -> None:
    # Issue 11: a partner books a payment to a service by the code and name its own debt
    # registry gave; both come in with the debts and go back with the payments.
    debts = [
        DebtRecord("0100149", HOUSE, "12", Decimal("1047.86"), service="Содержание жилья",
                   service_code="ЖКУ-01"),
        DebtRecord("0100149", HOUSE, "12", Decimal("1371.79"), service="Взнос на капремонт",
                   service_code="КР"),
        DebtRecord("0100150", HOUSE, "14", Decimal("10.00"), service="Вывоз ТКО"),
    ]  # fmt: skip
    harness.publish_debts(PERIOD, debts)
    assert harness.client.fetch_debts(INN, PERIOD).records == tuple(debts)

    base = payment_registry(INN, 3, records=2)
    registry = attrs.evolve(
        base,
        records=[
            attrs.evolve(r, service=d.service, service_code=d.service_code)
            for r, d in zip(base.records, debts, strict=False)
        ],
    )
    seen: list[bytes] = []
    with _serve(_capture_requests(harness.server.app, seen)) as url, _client(url) as client:
        client.deliver_payments(registry)
    sent = etree.fromstring(seen[-1])
    records = sent.findall(f".//{{{NS}}}record")
    got = [(r.findtext(f"{{{NS}}}serviceCode"), r.findtext(f"{{{NS}}}service")) for r in records]
    assert got == [("ЖКУ-01", "Содержание жилья"), ("КР", "Взнос на капремонт")]
    payload = sent[0][0]
    assert schema().validate(payload), schema().error_log
    # A payment whose debt gave no code sends none: a partner without codes never sees one.
    plain = attrs.evolve(
        registry, number=4, records=[attrs.evolve(r, service_code="") for r in registry.records]
    )
    with _serve(_capture_requests(harness.server.app, seen)) as url, _client(url) as client:
        client.deliver_payments(plain)
    assert b"serviceCode" not in seen[-1]


def test_a_registry_replaced_mid_read_is_a_typed_fault(harness: SoapHarness) -> None:
    harness.publish_debts(PERIOD, debt_records(30))
    replaced = {"done": False}

    def replace_after_first_page(body: bytes) -> bytes:
        if not replaced["done"]:
            replaced["done"] = True
            harness.publish_debts(PERIOD, debt_records(30, start=500))
        return body

    app = _rewrite(harness.server.app, replace_after_first_page)
    with (
        _serve(app) as url,
        _client(url, page_size=10) as client,
        pytest.raises(BillingFault) as caught,
    ):
        client.fetch_debts(INN, PERIOD)
    assert caught.value.code == "BAD_PAGE_TOKEN"


def test_control_totals_of_the_whole_registry_are_checked(harness: SoapHarness) -> None:
    harness.publish_debts(PERIOD, debt_records(25))
    app = _rewrite(harness.server.app, lambda b: b.replace(b"<b:count>25<", b"<b:count>26<"))
    with (
        _serve(app) as url,
        _client(url, page_size=10) as client,
        pytest.raises(ControlTotalsMismatch, match="control count is 26"),
    ):
        client.fetch_debts(INN, PERIOD)


def test_a_wrong_control_sum_is_refused(harness: SoapHarness) -> None:
    published = debt_records(5)
    harness.publish_debts(PERIOD, published)
    total = sum((r.amount for r in published), Decimal("0"))
    wrong = f"<b:amount>{total + Decimal('0.01')}<".encode()
    # the totals come before the records: change only the first amount
    app = _rewrite(
        harness.server.app, lambda b: b.replace(f"<b:amount>{total}<".encode(), wrong, 1)
    )
    with (
        _serve(app) as url,
        _client(url) as client,
        pytest.raises(ControlTotalsMismatch, match="control sum of amount"),
    ):
        client.fetch_debts(INN, PERIOD)


def test_a_page_served_twice_is_a_paging_error(harness: SoapHarness) -> None:
    harness.publish_debts(PERIOD, debt_records(30))
    # the server hands out the first page's token again: the same records come twice
    app = _rewrite(harness.server.app, lambda b: re.sub(rb"\.o20<", b".o10<", b))
    with (
        _serve(app) as url,
        _client(url, page_size=10) as client,
        pytest.raises(PagingError) as caught,
    ):
        client.fetch_debts(INN, PERIOD)
    # a check of the registry as a whole names the partner and the operation too
    assert f"partner {INN}: GetDebtRegistry: " in str(caught.value)


def test_an_invalid_record_names_its_place(harness: SoapHarness) -> None:
    harness.publish_debts(PERIOD, debt_records(3))
    app = _rewrite(harness.server.app, lambda b: b.replace(b"0000000001<", b"  <", 1))
    with (
        _serve(app) as url,
        _client(url) as client,
        pytest.raises(BillingProtocolError, match="record 2") as caught,
    ):
        client.fetch_debts(INN, PERIOD)
    assert caught.value.issues[0].line == 2


# -- delivery ----------------------------------------------------------------------------


def test_delivery_is_idempotent_and_conflicts_are_refused(harness: SoapHarness) -> None:
    registry = payment_registry(INN, 12, records=5)
    first = harness.client.deliver_payments(registry)
    again = harness.client.deliver_payments(registry)
    assert (first.status, again.status) == (
        DeliveryStatus.ACCEPTED,
        DeliveryStatus.ALREADY_ACCEPTED,
    )
    assert again.receipt_id == first.receipt_id and again.accepted_at == first.accepted_at
    with pytest.raises(RegistryConflict) as caught:
        harness.client.deliver_payments(payment_registry(INN, 12, records=4))
    assert caught.value.code == "REGISTRY_CONFLICT"
    assert harness.server.store.acceptance_log == [(INN, 12)]
    assert harness.accepted_amount(12) == registry.totals.amount


def test_the_same_registry_written_differently_is_the_same(harness: SoapHarness) -> None:
    registry = payment_registry(INN, 5)
    harness.client.deliver_payments(registry)
    seen: list[bytes] = []
    with _serve(_capture_requests(harness.server.app, seen)) as url, _client(url) as client:
        client.deliver_payments(registry)
    # send the captured request again with every time moved to UTC and prefixes renamed
    body = seen[-1].decode("utf-8")
    body = re.sub(
        r"(paidAt>)([^<]+)(<)",
        lambda m: m[1] + dt.datetime.fromisoformat(m[2]).astimezone(dt.UTC).isoformat() + m[3],
        body,
    )
    body = body.replace("ns0:", "x:").replace(":ns0=", ":x=")
    assert "+03:00" not in body and "<x:registry>" in body  # it really is written differently
    status, answer = _post(harness.server.url, body)
    assert status == 200, answer
    assert b"ALREADY_ACCEPTED" in answer
    assert harness.acceptances() == 1


@pytest.mark.timezone
def test_a_time_without_an_offset_compares_the_same_on_any_host(
    harness: SoapHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A partner's billing may write paidAt without an offset (xs:dateTime allows it): that
    # is its wall time, and the same registry sent again must match on whatever host, in
    # whatever zone, the server runs. Reading it in the host's zone made a resend after a
    # move from a UTC host to a Yekaterinburg one a REGISTRY_CONFLICT.
    seen: list[bytes] = []
    with _serve(_capture_requests(harness.server.app, seen)) as url, _client(url) as client:
        client.deliver_payments(payment_registry(INN, 6))
    naive = re.sub(r"(paidAt>[^<+Z]+)(?:[+-]\d\d:\d\d|Z)(<)", r"\1\2", seen[-1].decode())
    renumbered = naive.replace("registryNumber>6<", "registryNumber>7<")
    assert "+03:00" not in naive and renumbered != naive
    answers = []
    for host_zone in ("UTC", "Asia/Yekaterinburg"):
        monkeypatch.setenv("TZ", host_zone)
        time.tzset()
        answers.append(_post(harness.server.url, renumbered))
    monkeypatch.delenv("TZ")
    time.tzset()
    assert [status for status, _ in answers] == [200, 200], answers
    assert b"ALREADY_ACCEPTED" in answers[1][1], answers[1][1]


@pytest.mark.parametrize("fault", ["slow", "lost-answer", "unavailable", "bad-gateway"])
def test_delivery_retried_within_bounds_and_stored_once(harness: SoapHarness, fault: str) -> None:
    harness.server.faults.fail_next(fault, times=2, operation="SubmitPaymentRegistry")
    receipt = harness.client.deliver_payments(payment_registry(INN, 9))
    assert receipt.number == 9
    assert harness.calls("payments") == 3
    assert harness.server.store.acceptance_log == [(INN, 9)]


def test_delivery_that_always_fails_stops(harness: SoapHarness) -> None:
    harness.server.faults.fail_always("slow", operation="SubmitPaymentRegistry")
    with pytest.raises(BillingTimeout):
        harness.client.deliver_payments(payment_registry(INN, 10))
    assert harness.calls("payments") == harness.max_attempts
    # the slow server did the work on the first attempt; the retries found it done
    assert harness.server.store.acceptance_log == [(INN, 10)]


# -- retries and faults on reads ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("slow", BillingTimeout),
        ("unavailable", BillingUnavailable),
        ("bad-gateway", BillingUnavailable),
        ("temporary-fault", BillingUnavailable),
    ],
)
def test_transient_faults_on_reads_are_retried_then_stop(
    harness: SoapHarness, fault: str, error: type[BillingError]
) -> None:
    published = debt_records(1500)
    harness.publish_debts(PERIOD, published)
    harness.server.faults.fail_next(fault, times=2, operation="GetDebtRegistry")
    assert harness.client.fetch_debts(INN, PERIOD).records == tuple(published)
    assert harness.calls("debts") == 4  # the first page three times, the second once
    harness.server.app.reset_calls()
    harness.server.faults.fail_always(fault, operation="GetDebtRegistry")
    with pytest.raises(error):
        harness.client.fetch_debts(INN, PERIOD)
    assert harness.calls("debts") == 3


@pytest.mark.parametrize(
    ("partner", "period", "code"),
    [("7736050003", PERIOD, "UNKNOWN_PARTNER"), (INN, Period(2025, 12), "NO_REGISTRY")],
)
def test_final_faults_are_typed_and_not_retried(
    harness: SoapHarness, partner: str, period: Period, code: str
) -> None:
    harness.publish_debts(PERIOD, debt_records(2))
    with pytest.raises(BillingFault) as caught:
        harness.client.fetch_debts(partner, period)
    assert caught.value.code == code
    assert isinstance(caught.value, PesError)
    assert harness.calls("debts") == 1


def test_a_refused_connection_is_unavailable_and_bounded() -> None:
    server = ReferenceServer()
    url = server.url
    server.stop()  # nothing listens on that port any more
    sleeps: list[float] = []
    retry = BillingRetry(attempts=3, initial_wait=0.01, max_wait=0.05, sleep=sleeps.append)
    with (
        SoapBillingClient(url, timeout=1, operation_timeout=1, retry=retry) as client,
        pytest.raises(BillingUnavailable),
    ):
        client.fetch_debts(INN, PERIOD)
    assert len(sleeps) == 2  # three attempts, two waits between them
    assert all(0 < s <= 0.06 for s in sleeps)


# -- readings ----------------------------------------------------------------------------


def test_readings_are_sent_once_with_per_item_rejections(harness: SoapHarness) -> None:
    from pes_sdk import MeterReading, MeterType

    day = dt.date(2026, 1, 20)
    first = [MeterReading("001", "М-1", MeterType.HOT_WATER, (Decimal("10.5"),), day)]
    assert harness.client.deliver_readings(INN, first).accepted == 1
    lower = MeterReading("001", "М-1", MeterType.HOT_WATER, (Decimal("9.25"),), day)
    other = MeterReading("002", "М-2", MeterType.GAS, (Decimal("1.000"),), day)
    receipt = harness.client.deliver_readings(INN, [other, lower])
    assert receipt.accepted == 1
    assert [r.index for r in receipt.rejected] == [1]
    assert "below the last one" in receipt.rejected[0].reason
    harness.server.faults.fail_next("slow", operation="SubmitMeterReadings")
    with pytest.raises(BillingTimeout):
        harness.client.deliver_readings(INN, [other])
    assert harness.calls("readings") == 3  # the timed-out batch was not resent


# -- hostile XML -------------------------------------------------------------------------

_REQUEST = (
    '<?xml version="1.0"?>{doctype}<s:Envelope '
    'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="urn:pes-sdk:billing:1">'
    "<s:Body><b:GetDebtRegistryRequest><b:partnerInn>{inn}</b:partnerInn>"
    "<b:period>2026-01</b:period><b:pageSize>{size}</b:pageSize>"
    "</b:GetDebtRegistryRequest></s:Body></s:Envelope>"
)
_LAUGHS = (
    '<!DOCTYPE s:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)
_XXE = '<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
_EXTERNAL_DTD = '<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">'


@pytest.mark.parametrize(
    "body",
    [
        _REQUEST.format(doctype=_LAUGHS, inn="&c;", size=10),
        _REQUEST.format(doctype=_XXE, inn="&x;", size=10),
        _REQUEST.format(doctype=_EXTERNAL_DTD, inn=INN, size=10),
        _REQUEST.format(doctype="", inn=INN, size=10).replace("<s:Body>", "<s:Body><!ENTITY"),
        _REQUEST.format(doctype="", inn=INN, size=10)[:-20],  # not well-formed
        _REQUEST.format(doctype="", inn=INN, size=0),  # breaks the schema (pageSize ≥ 1)
        _REQUEST.format(doctype="", inn="77070838", size=10),  # ИНН of 8 digits
        _REQUEST.format(doctype="", inn=INN, size=10).replace("GetDebtRegistryRequest", "Evil"),
        "<?xml version='1.0'?><Envelope/>",
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "external-dtd",
        "entity-in-body",
        "not-well-formed",
        "schema",
        "bad-inn",
        "unknown-operation",
        "not-soap",
    ],
)
def test_hostile_or_invalid_requests_are_refused(harness: SoapHarness, body: str) -> None:
    harness.publish_debts(PERIOD, debt_records(2))
    status, answer = _post(harness.server.url, body)
    assert status == 500
    fault = etree.fromstring(answer, etree.XMLParser(resolve_entities=False, no_network=True))
    assert fault.findtext(f".//{{{NS}}}code") == "INVALID_REQUEST"
    assert b"root:" not in answer  # nothing of /etc/passwd came back
    assert harness.calls("debts") == 0  # refused before any operation ran
    assert len(harness.server.app.refused) == 1


def test_an_oversized_body_is_refused_unread() -> None:
    with ReferenceServer(max_body=1024) as server:
        status, _ = _post(server.url, "<x>" + "a" * 2048 + "</x>")
    assert status == 413


def _post_chunked(url: str, body: bytes, *, size: int = 100) -> tuple[int, bytes]:
    """POST ``body`` with Transfer-Encoding: chunked and no Content-Length, as Java and
    streaming .NET clients send requests."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        chunks = (body[i : i + size] for i in range(0, len(body), size))
        connection.request(
            "POST", parts.path, body=chunks, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _post_raw(url: str, head_and_body: bytes) -> int:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5) as sock:
        sock.sendall(head_and_body)
        sock.shutdown(socket.SHUT_WR)  # the client has no more to send
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1])


def test_a_chunked_request_is_read_and_answered(harness: SoapHarness) -> None:
    # The reference server answered a chunked request without Content-Length with 411
    # (issue 13): Java and streaming .NET clients send exactly that.
    registry = payment_registry(INN, 8)
    seen: list[bytes] = []
    with _serve(_capture_requests(harness.server.app, seen)) as url, _client(url) as client:
        client.deliver_payments(registry)
    status, answer = _post_chunked(harness.server.url, seen[-1], size=97)
    assert status == 200, answer
    assert b"ALREADY_ACCEPTED" in answer  # the same registry, read whole from its chunks
    assert harness.acceptances() == 1


def test_chunked_requests_are_bounded_and_checked() -> None:
    with ReferenceServer(max_body=1024) as server:
        status, _ = _post_chunked(server.url, b"<x>" + b"a" * 4096 + b"</x>")
        assert status == 413
        path = server.url.split("/", 3)[3]
        head = f"POST /{path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        assert _post_raw(server.url, head.encode() + b"zz\r\nabc\r\n0\r\n\r\n") == 400
        assert _post_raw(server.url, head.encode() + b"10\r\nabc") == 400  # cut short
        bare = f"POST /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert _post_raw(server.url, bare.encode()) == 411


def test_only_post_to_the_endpoint(harness: SoapHarness) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(harness.server.url, timeout=5)
    assert caught.value.code == 405
    status, _ = _post(harness.server.url.replace("/pes-billing", "/other"), "<x/>")
    assert status == 404


@pytest.mark.parametrize(
    "answer",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>',
        b"<not-soap/>",
        b"not xml at all",
    ],
    ids=["entities", "external-dtd", "not-soap", "not-xml"],
)
def test_hostile_answers_are_protocol_errors_not_retried(answer: bytes) -> None:
    calls: list[int] = []

    def evil(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        calls.append(1)
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [answer]

    with _serve(evil) as url, _client(url) as client, pytest.raises(BillingProtocolError):
        client.fetch_debts(INN, PERIOD)
    assert len(calls) == 1


# -- helpers -----------------------------------------------------------------------------


def _client(url: str, *, page_size: int = 1000) -> SoapBillingClient:
    retry = BillingRetry(attempts=3, initial_wait=0.01, max_wait=0.05)
    return SoapBillingClient(url, timeout=5, operation_timeout=5, page_size=page_size, retry=retry)


def _post(url: str, body: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=body.encode("utf-8"), headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def _rewrite(app: WsgiApp, change: Callable[[bytes], bytes | None]) -> WsgiApp:
    """The app, with each answer's body passed through ``change`` (a partner gone wrong)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]]) -> None:
            captured["status"], captured["headers"] = status, headers

        body = change(b"".join(app(environ, keep)))
        assert body is not None
        headers = [(k, v) for k, v in captured["headers"] if k != "Content-Length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def _capture_requests(app: WsgiApp, seen: list[bytes]) -> WsgiApp:
    import io

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        seen.append(body)
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return wrapped


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _serve:
    """Serve a WSGI app on 127.0.0.1 in a thread for the length of a ``with`` block."""

    def __init__(self, app: WsgiApp) -> None:
        self._server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> str:
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/pes-billing"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()


def test_debt_record_fixture_is_valid() -> None:
    # the generator the tests share makes records the model accepts (incl. advances)
    records = debt_records(20)
    assert all(isinstance(r, DebtRecord) for r in records)
    assert any(r.amount < 0 for r in records)


@pytest.mark.parametrize(
    ("find", "put"),
    [
        (b"<b:registryNumber>1<", b"<b:registryNumber>0<"),
        (b"<b:count>3<", b"<b:count>-3<"),
        (b"+00:00</b:createdAt>", b"</b:createdAt>"),  # a time without a zone
    ],
    ids=["number-0", "negative-count", "naive-time"],
)
def test_an_unusable_registry_header_is_a_protocol_error(
    harness: SoapHarness, find: bytes, put: bytes
) -> None:
    harness.publish_debts(PERIOD, debt_records(3))
    app = _rewrite(harness.server.app, lambda b: b.replace(find, put))
    with (
        _serve(app) as url,
        _client(url) as client,
        pytest.raises(BillingProtocolError),
    ):
        client.fetch_debts(INN, PERIOD)


@pytest.mark.parametrize(
    ("change", "what"),
    [
        # money with no two places: zeep read it as a decimal and the client took it
        (
            lambda b: re.sub(rb"(<b:amount>)[^<]+(</b:amount>)", rb"\g<1>-15\g<2>", b, count=1),
            "breaks the exchange's schema",
        ),
        # a time without a zone: the message named neither endpoint nor partner
        (lambda b: b.replace(b"+00:00</b:createdAt>", b"</b:createdAt>"), "time zone"),
    ],
    ids=["money-without-places", "time-without-zone"],
)
def test_a_broken_answer_names_endpoint_partner_and_operation(
    harness: SoapHarness, change: Callable[[bytes], bytes], what: str
) -> None:
    harness.publish_debts(PERIOD, debt_records(3))
    with (
        _serve(_rewrite(harness.server.app, change)) as url,
        _client(url) as client,
        pytest.raises(BillingProtocolError) as caught,
    ):
        client.fetch_debts(INN, PERIOD)
    message = str(caught.value)
    assert what in message
    assert message.startswith(f"{client.endpoint}: partner {INN}: GetDebtRegistry")
    assert caught.value.partner == INN


_amounts = st.decimals(
    min_value=Decimal("-999999999.99"), max_value=Decimal("999999999.99"), places=2
)
_text = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N", "P", "Zs"), exclude_characters="\x85\xa0"
    ),
    max_size=40,
).map(str.strip)


@settings(
    max_examples=min(settings().max_examples, 40),  # an HTTP round trip per example
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(amounts=st.lists(_amounts, min_size=1, max_size=12), service=_text, premises=_text)
def test_values_round_trip_over_the_wire(
    harness: SoapHarness, amounts: list[Decimal], service: str, premises: str
) -> None:
    records = [
        DebtRecord(f"{i:03d}", "0c5b2444-70a0-4932-980c-b4dc0d3f02b5", premises, a, service=service)
        for i, a in enumerate(amounts)
    ]
    harness.publish_debts(PERIOD, records)
    assert harness.client.fetch_debts(INN, PERIOD).records == tuple(records)
