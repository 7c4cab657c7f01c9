"""The three registry formats of the 1C registry XML, as the SDK's :class:`RegistryFormat`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from pes_sdk.formats.base import (
    SERVICE_FIELDS,
    FormatCapabilities,
    Policy,
    Record,
    RegistryFormat,
    WriteReport,
)
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk_1c_xml.codec import CODECS
from pes_sdk_1c_xml.reader import XmlRegistryReader
from pes_sdk_1c_xml.writer import write_registry

__all__ = [
    "CAPABILITIES",
    "OneCXmlDebts",
    "OneCXmlFormat",
    "OneCXmlPayments",
    "OneCXmlReadings",
    "all_formats",
]

CAPABILITIES = FormatCapabilities(
    read=True,
    write=True,
    streaming=True,
    control_totals=True,
    escapes_formulas=False,
    encodings=("utf-8",),
    max_line_length=None,
    tagged_fields=True,
    service_fields=SERVICE_FIELDS,  # serviceCode and service on Debt and Payment
)


class OneCXmlFormat(RegistryFormat):
    """A registry in pes-sdk's own XML for 1C (namespace ``urn:pes-sdk:registry:1``)."""

    capabilities = CAPABILITIES

    def open(
        self,
        path: Path,
        *,
        policy: Policy = Policy.STRICT,
        rejects_path: Path | None = None,
    ) -> XmlRegistryReader:
        return XmlRegistryReader(
            Path(path), CODECS[self.kind], policy=policy, rejects_path=rejects_path
        )

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        return write_registry(Path(path), CODECS[self.kind], header, records)

    def filename(self, header: RegistryHeader) -> str | None:
        """``<kind>_<ИНН>_<period or date>_<NNN>.xml``.

        For example ``payments_7707083893_2026-11-27_001.xml``; None when the header lacks
        the ИНН, the number or the period (debts) or date.
        """
        when = header.period if self.kind is RegistryKind.DEBTS else header.date or header.period
        if header.partner_inn is None or header.number is None or when is None:
            return None
        return f"{self.kind}_{header.partner_inn}_{when}_{header.number:03d}.xml"


class OneCXmlDebts(OneCXmlFormat):
    name = "1c-xml-debts"
    kind = RegistryKind.DEBTS
    description = "Debt registry (реестр задолженности) in pes-sdk XML for 1C, XSD-backed"


class OneCXmlPayments(OneCXmlFormat):
    name = "1c-xml-payments"
    kind = RegistryKind.PAYMENTS
    description = "Payment registry (реестр оплат) in pes-sdk XML for 1C, XSD-backed"


class OneCXmlReadings(OneCXmlFormat):
    name = "1c-xml-readings"
    kind = RegistryKind.READINGS
    capabilities = attrs.evolve(CAPABILITIES, service_fields=("service",))
    description = "Meter readings (реестр показаний) in pes-sdk XML for 1C, XSD-backed"


def all_formats() -> list[RegistryFormat]:
    """One instance of each format of this distribution."""
    return [OneCXmlDebts(), OneCXmlPayments(), OneCXmlReadings()]
