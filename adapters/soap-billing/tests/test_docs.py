"""docs/soap-billing.md keeps up with the contract: every operation, fault code and setting."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from lxml import etree
from pes_sdk_soap_billing import plugin
from pes_sdk_soap_billing.client import wsdl_path
from pes_sdk_soap_billing.server import OPERATIONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "soap-billing.md"
XS = "{http://www.w3.org/2001/XMLSchema}"


def _enumeration(name: str) -> list[str]:
    xsd = etree.parse(str(wsdl_path().parent / "billing.xsd"))
    node = xsd.find(f"{XS}simpleType[@name='{name}']")
    assert node is not None
    return [e.get("value", "") for e in node.iter(f"{XS}enumeration")]


def test_every_operation_and_fault_code_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name in (*OPERATIONS, *_enumeration("FaultCode"), *_enumeration("SubmitStatus")):
        assert f"`{name}`" in doc, f"docs/soap-billing.md does not mention `{name}`"


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    source = inspect.getsource(plugin.client_from_settings)
    keys = set(re.findall(r"settings(?:\.get\(|\[)\"(\w+)\"", source))
    keys |= set(re.findall(r"_number\(settings, \"(\w+)\"", source))
    assert {"url", "timeout", "operation_timeout", "page_size", "attempts"} <= keys
    for key in keys:
        assert f"`{key}`" in doc, f"the setting {key!r} is not in docs/soap-billing.md"


# -- the rules "For partners on node-soap, .NET and Java" states about the kit's side ----------

XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
INN = "7707083893"


def _problem(xml: str) -> str | None:
    from pes_sdk_soap_billing.schema import schema_problem

    return schema_problem(etree.fromstring(xml))


def _request(children: str, *, prefix: str = "b") -> str:
    colon = f"{prefix}:" if prefix else ""
    xmlns = f"xmlns:{prefix}" if prefix else "xmlns"
    return (
        f'<{colon}GetDebtRegistryRequest {xmlns}="urn:pes-sdk:billing:1" xmlns:xsi="{XSI}">'
        f"{children.replace('<b:', f'<{colon}').replace('</b:', f'</{colon}')}"
        f"</{colon}GetDebtRegistryRequest>"
    )


def _answer(amount: str, *, record: str = "") -> str:
    return (
        f'<b:GetDebtRegistryResponse xmlns:b="urn:pes-sdk:billing:1" xmlns:xsi="{XSI}">'
        "<b:registryNumber>1</b:registryNumber><b:createdAt>2026-01-15T09:30:00+03:00</b:createdAt>"
        f"<b:totals><b:count>0</b:count><b:amount>{amount}</b:amount></b:totals>{record}"
        "</b:GetDebtRegistryResponse>"
    )


FIELDS = "<b:partnerInn>7707083893</b:partnerInn><b:period>2026-01</b:period>"


def test_money_has_a_point_and_exactly_two_places() -> None:
    for good in ("100.00", "-15.00", "0.00"):
        assert _problem(_answer(good)) is None, good
    for bad in ("100", "100.0", "100.000", "1E+2", "+1.00", "1,00"):
        assert _problem(_answer(bad)) is not None, bad


def test_an_optional_element_is_left_out_never_nil_or_empty() -> None:
    assert _problem(_request(FIELDS + "<b:pageSize>10</b:pageSize>")) is None
    nil = FIELDS + '<b:pageToken xsi:nil="true"/><b:pageSize>10</b:pageSize>'
    assert _problem(_request(nil)) is not None
    assert _problem(_request(FIELDS + "<b:pageToken/><b:pageSize>10</b:pageSize>")) is not None
    record = (
        "<b:record><b:account>1</b:account>"
        "<b:houseGuid>0c5b2444-70a0-4932-980c-b4dc0d3f02b5</b:houseGuid>"
        '<b:premises>1</b:premises><b:amount>1.00</b:amount><b:service xsi:nil="true"/>'
        "</b:record>"
    )
    assert "nillable" in (_problem(_answer("1.00", record=record)) or "")


def test_order_matters_and_the_namespace_does_the_prefix_does_not() -> None:
    for prefix in ("b", "ns1", ""):
        assert _problem(_request(FIELDS + "<b:pageSize>10</b:pageSize>", prefix=prefix)) is None
    swapped = "<b:period>2026-01</b:period><b:partnerInn>7707083893</b:partnerInn>"
    assert "not expected" in (_problem(_request(swapped + "<b:pageSize>10</b:pageSize>")) or "")
    unqualified = FIELDS.replace("b:", "") + "<pageSize>10</pageSize>"
    assert _problem(_request(unqualified)) is not None


def _post(url: str, envelope: str, content_type: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=envelope.encode(), headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def test_soap_11_without_soapaction_is_served_and_soap_12_refused() -> None:
    from pes_sdk_soap_billing.server import MemoryBillingStore, ReferenceServer

    from pes_sdk.period import Period

    store = MemoryBillingStore(partners=[INN])
    store.publish_debts(INN, Period(2026, 1), [])
    body = _request(FIELDS + "<b:pageSize>10</b:pageSize>", prefix="ns1")
    with ReferenceServer(store) as server:
        status, answer = _post(
            server.url,
            f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>{body}</s:Body></s:Envelope>',
            "text/xml; charset=utf-8",
        )
        assert status == 200, answer  # dispatched by the body element, any prefix
        status, answer = _post(
            server.url,
            f'<s:Envelope xmlns:s="{SOAP12}"><s:Body>{body}</s:Body></s:Envelope>',
            "application/soap+xml; charset=utf-8",
        )
    assert status == 500
    assert b"INVALID_REQUEST" in answer and b"SOAP 1.1" in answer
