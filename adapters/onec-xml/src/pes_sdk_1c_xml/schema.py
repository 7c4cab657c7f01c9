"""The vocabulary of the registry XML: namespace, element names, lexical rules, the XSD.

Everything the reader and the writer agree on lives here, so that the two cannot drift
apart: the writer checks the text it writes with the same patterns the reader accepts, and
those patterns are the ones of the XSD (``xsd/pes-registry-1.xsd``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lxml import etree

from pes_sdk.models.registry import RegistryKind

__all__ = [
    "MAX_TEXT",
    "NAMESPACE",
    "RECORD_ELEMENT",
    "ROOT_ELEMENT",
    "TAG_ELEMENT",
    "TOTALS_ELEMENT",
    "TOTALS_SUMS",
    "load_schema",
    "qname",
    "schema_path",
]

#: The namespace of version 1 of the format. A new major version gets a new namespace.
NAMESPACE = "urn:pes-sdk:registry:1"

ROOT_ELEMENT: dict[RegistryKind, str] = {
    RegistryKind.DEBTS: "DebtRegistry",
    RegistryKind.PAYMENTS: "PaymentRegistry",
    RegistryKind.READINGS: "ReadingRegistry",
}
RECORD_ELEMENT: dict[RegistryKind, str] = {
    RegistryKind.DEBTS: "Debt",
    RegistryKind.PAYMENTS: "Payment",
    RegistryKind.READINGS: "Reading",
}
TOTALS_ELEMENT = "Totals"
TAG_ELEMENT = "Tag"
#: The sums each kind's ``Totals`` element carries (besides ``count``).
TOTALS_SUMS: dict[RegistryKind, tuple[str, ...]] = {
    RegistryKind.DEBTS: ("amount",),
    RegistryKind.PAYMENTS: ("amount", "transfer", "fee"),
    RegistryKind.READINGS: (),
}

# Lexical rules, the same as the XSD's patterns. re.ASCII: without it \d accepts Arabic-Indic
# or fullwidth digits, which Decimal() would then happily read.
AMOUNT = re.compile(r"-?\d{1,15}\.\d{2}", re.ASCII)
METER_VALUE = re.compile(r"\d{1,15}(?:\.\d{1,8})?", re.ASCII)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII
)
INN = re.compile(r"\d{10}|\d{12}", re.ASCII)
BANK_ACCOUNT = re.compile(r"\d{20}", re.ASCII)
POSITIVE = re.compile(r"[1-9]\d{0,11}", re.ASCII)
COUNT = re.compile(r"0|[1-9]\d{0,11}", re.ASCII)
METER_TYPE = re.compile(r"[1-9]|1[0-3]", re.ASCII)
#: A narrow form of a personal account that the reader's fast path takes without asking the
#: core: letters (Latin, Cyrillic) and digits, with spaces, ``/ . _ - №`` inside. Every text
#: it matches passes :func:`pes_sdk.identifiers.check_personal_account` (a test holds them
#: so); anything else goes to the slow path, where the core's own rule decides.
FAST_ACCOUNT = re.compile(
    r"[0-9A-Za-z\u0400-\u04ff](?:[0-9A-Za-z\u0400-\u04ff /._\-№]{0,28}[0-9A-Za-z\u0400-\u04ff])?"
)

#: The longest free text (service, operationId, channel, meterNumber, tags) the format holds.
#: Longer values are refused on writing and are issues on reading; the limit also keeps a
#: hostile file's megabyte attribute out of messages and the rejects file.
MAX_TEXT = 1000

#: The XSD's file name inside the package.
SCHEMA_FILE = "pes-registry-1.xsd"


def qname(local: str) -> str:
    """The Clark name (``{namespace}local``) lxml uses for an element of the format."""
    return f"{{{NAMESPACE}}}{local}"


def schema_path() -> Path:
    """Where the XSD is installed (package data), to hand to 1C or to a validator."""
    return Path(str(resources.files("pes_sdk_1c_xml").joinpath("xsd", SCHEMA_FILE)))


@lru_cache(maxsize=1)
def load_schema() -> etree.XMLSchema:
    """The format's XSD as an :class:`lxml.etree.XMLSchema`, for validating whole files.

    The reader does not validate against it (that needs the whole tree); it checks the same
    rules while streaming. Use this on files of modest size, e.g. in tests or before a
    hand-over.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(schema_path()), parser))
