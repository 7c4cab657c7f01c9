"""The billing exchange's message schema (``wsdl/billing.xsd``): one checker for both sides.

The reference server checks every request against it and the client every answer: zeep
reads a value such as ``-15`` as a decimal although the schema's money has exactly two
places, so the schema itself, not zeep's conversion, decides what a message may hold.
"""

from __future__ import annotations

import importlib.resources
import threading
from typing import Any

from lxml import etree

from pes_sdk.safexml import HARDENED_PARSER_OPTIONS

__all__ = ["NS", "schema", "schema_problem"]

NS = "urn:pes-sdk:billing:1"

_SCHEMA: etree.XMLSchema | None = None
# lxml's schema object keeps its error log as state: one check at a time.
_LOCK = threading.Lock()


def schema() -> etree.XMLSchema:
    """The message schema, loaded once from the package data."""
    global _SCHEMA
    with _LOCK:
        if _SCHEMA is None:
            xsd = importlib.resources.files("pes_sdk_soap_billing") / "wsdl" / "billing.xsd"
            doc = etree.fromstring(xsd.read_bytes(), etree.XMLParser(**HARDENED_PARSER_OPTIONS))
            _SCHEMA = etree.XMLSchema(doc)
        return _SCHEMA


def schema_problem(element: etree._Element) -> str | None:
    """Why ``element`` (a request or an answer) breaks the schema, or None when it does not."""
    xsd = schema()
    with _LOCK:
        if xsd.validate(element):
            return None
        log: Any = xsd.error_log  # lxml-stubs lack _ErrorLog.last_error
        return str(log.last_error.message) if log.last_error is not None else "invalid"
