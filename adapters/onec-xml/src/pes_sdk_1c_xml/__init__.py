"""pes-sdk registry XML for 1C: debt, payment and meter-reading registries, XSD-backed.

Formats ``1c-xml-debts``, ``1c-xml-payments`` and ``1c-xml-readings`` (namespace
:data:`NAMESPACE`); the XSD is package data (:func:`schema_path`, :func:`load_schema`).
See ``docs/1c-xml.md`` for the format and for loading it in 1C through XDTO.
"""

from pes_sdk_1c_xml.formats import (
    OneCXmlDebts,
    OneCXmlFormat,
    OneCXmlPayments,
    OneCXmlReadings,
    all_formats,
)
from pes_sdk_1c_xml.reader import XmlRegistryReader
from pes_sdk_1c_xml.schema import NAMESPACE, load_schema, schema_path

__all__ = [
    "NAMESPACE",
    "OneCXmlDebts",
    "OneCXmlFormat",
    "OneCXmlPayments",
    "OneCXmlReadings",
    "XmlRegistryReader",
    "all_formats",
    "load_schema",
    "schema_path",
]
