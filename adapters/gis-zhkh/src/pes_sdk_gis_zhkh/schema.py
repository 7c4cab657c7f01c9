"""The official XSDs of the format package, loaded once with lxml, for validation.

One :class:`lxml.etree.XMLSchema` covers the payment service, the metering service and the
shared base types: a small wrapper schema imports the three namespaces from the package's
own files (by absolute file URL, so nothing is copied and nothing is fetched from the
network). Parsing is hardened like zeep's: no DTDs, no entities, no network.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lxml import etree

from pes_sdk_gis_zhkh.config import BASE_XSD, METERING_XSD, PAYMENT_XSD

__all__ = ["NS", "format_schema", "safe_parser", "validation_errors"]

#: Namespaces of format 16.3.0.0.
NS = {
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "base": "http://dom.gosuslugi.ru/schema/integration/base/",
    "pm": "http://dom.gosuslugi.ru/schema/integration/payment/",
    "dm": "http://dom.gosuslugi.ru/schema/integration/device-metering/",
    "pb": "http://dom.gosuslugi.ru/schema/integration/payments-base/",
    "ab": "http://dom.gosuslugi.ru/schema/integration/account-base/",
    "bb": "http://dom.gosuslugi.ru/schema/integration/bills-base/",
    "ob": "http://dom.gosuslugi.ru/schema/integration/organizations-base/",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


def safe_parser() -> etree.XMLParser:
    """An XML parser that refuses DTDs, entities and network access."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.lru_cache(maxsize=4)
def format_schema(package: Path) -> etree.XMLSchema:
    """The combined schema of ``package`` (a checked format package folder)."""
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(package / rel).resolve().as_uri()}"/>'
        for ns, rel in ((NS["base"], BASE_XSD), (NS["pm"], PAYMENT_XSD), (NS["dm"], METERING_XSD))
    )
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'targetNamespace="urn:pes-sdk:gis-zhkh:all" elementFormDefault="qualified">'
        f"{imports}</xs:schema>"
    )
    doc = etree.fromstring(wrapper.encode(), safe_parser(), base_url=package.as_uri() + "/")
    return etree.XMLSchema(doc)


def validation_errors(package: Path, element: etree._Element) -> list[str]:
    """Why ``element`` (a request or response body element) breaks the official schema."""
    schema = format_schema(package)
    # Validate a copy as a document of its own: the schema checks a root element.
    doc = etree.ElementTree(etree.fromstring(etree.tostring(element), safe_parser()))
    if schema.validate(doc):
        return []
    log: Any = schema.error_log  # lxml-stubs lack _ErrorLog.__iter__
    return [f"line {e.line}: {e.message}" for e in log]
