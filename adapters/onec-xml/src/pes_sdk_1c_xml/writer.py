"""The streaming writer of the registry XML.

Records are written one element at a time with :class:`lxml.etree.xmlfile` (the tree is
never built) into a temporary file that becomes the target only when everything is written
(:func:`pes_sdk.files.atomic_path`). The control totals go into a ``Totals`` element after
the records: they are known only once the records have gone by, and putting them last keeps
both the writer and the reader single-pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from pes_sdk.errors import FormatError
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import Record, WriteReport
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk_1c_xml import schema
from pes_sdk_1c_xml.codec import Codec, check_text, format_amount, format_datetime
from pes_sdk_1c_xml.i18n import tr

__all__ = ["header_attributes", "write_registry"]


#: The root element's attribute that carries each header fact (docs/1c-xml.md).
HEADER_ATTRIBUTES = {
    "partner_inn": "partnerInn",
    "partner_account": "partnerAccount",
    "number": "number",
    "period": "period",
    "date": "date",
    "created_at": "createdAt",
}
#: The line of the root element in a written file (line 1 is the XML declaration).
ROOT_LINE = 2


def header_attributes(
    kind: RegistryKind, header: RegistryHeader, *, path: Path | None = None
) -> dict[str, str]:
    """The root element's attributes for ``header``.

    Raises :class:`~pes_sdk.errors.FormatError` for a fact the root element cannot carry
    (missing or malformed): its ``field`` is the header's fact (``partner_inn``), its
    message names the root element and attribute (``DebtRegistry/@partnerInn``), and, given
    ``path`` (the file being written), it names that file and the root element's line, as
    the reader's errors do.
    """
    element = schema.ROOT_ELEMENT[kind]

    def refuse(message: str, name: str) -> FormatError:
        return FormatError(
            tr(
                "{element}/@{attribute}: {detail}",
                element=element,
                attribute=HEADER_ATTRIBUTES[name],
                detail=message,
            ),
            path=path,
            line=ROOT_LINE if path is not None else 0,
            field=name,
        )

    def need(value: object, name: str) -> None:
        if value is None:
            raise refuse(
                tr("a {kind} registry needs the header's {name}", kind=kind, name=name), name
            )

    need(header.partner_inn, "partner_inn")
    need(header.number, "number")
    out = {"partnerInn": str(header.partner_inn)}
    if header.partner_account is not None:
        if not schema.BANK_ACCOUNT.fullmatch(header.partner_account):
            raise refuse(tr("a bank account (р/с) is 20 digits"), "partner_account")
        out["partnerAccount"] = header.partner_account
    out["number"] = str(header.number)
    if kind is RegistryKind.DEBTS:
        need(header.period, "period")
        out["period"] = str(header.period)
    elif kind is RegistryKind.PAYMENTS:
        need(header.date, "date")
        assert header.date is not None
        out["date"] = header.date.isoformat()
    else:
        if header.period is not None:
            out["period"] = str(header.period)
        if header.date is not None:
            out["date"] = header.date.isoformat()
    if header.created_at is not None:
        try:
            out["createdAt"] = format_datetime(header.created_at)
        except ValueError as exc:
            raise refuse(str(exc), "created_at") from None
    if not schema.INN.fullmatch(out["partnerInn"]):
        raise refuse(tr("an ИНН is 10 or 12 digits"), "partner_inn")
    if not schema.POSITIVE.fullmatch(out["number"]):
        raise refuse(tr("a registry number is a positive integer"), "number")
    return out


def write_registry(
    path: Path, codec: Codec, header: RegistryHeader, records: Iterable[Record]
) -> WriteReport:
    """Write ``records`` to ``path`` atomically and return what was written.

    A record the format cannot hold (a value too long for its type, a character XML 1.0
    cannot carry) raises :class:`~pes_sdk.errors.FormatError` naming the record's position;
    the target is then left as it was.
    """
    kind = codec.kind
    root_attrs = header_attributes(kind, header, path=path)
    ns = schema.NAMESPACE
    record_tag = schema.qname(codec.record)
    tag_tag = schema.qname(schema.TAG_ELEMENT)
    sum_names = schema.TOTALS_SUMS[kind]
    count = 0
    to_attrs, sums = codec.attribute_writer()
    tag_key, tag_value = tr("a tag key"), tr("a tag value")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        with etree.xmlfile(fh, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(schema.qname(schema.ROOT_ELEMENT[kind]), root_attrs, nsmap={None: ns}):
                element = xf.element
                write = xf.write
                for count, rec in enumerate(records, start=1):
                    try:
                        attrib = to_attrs(rec)
                        write("\n  ")
                        tags: Any = getattr(rec, "tags", ())
                        with element(record_tag, attrib):
                            if tags:
                                for key, value in tags:
                                    check_text(key, tag_key)
                                    check_text(value, tag_value)
                                    write("\n    ")
                                    with element(tag_tag, {"key": key}):
                                        write(value)
                                write("\n  ")
                    except (ValueError, TypeError) as exc:
                        raise FormatError(
                            tr("record {count}: {detail}", count=count, detail=str(exc)),
                            path=path,
                        ) from None
                totals = {"count": str(count)}
                values = sums()
                try:
                    for name in sum_names:
                        totals[name] = format_amount(values[name])
                except ValueError as exc:
                    raise FormatError(tr("Totals: {detail}", detail=str(exc)), path=path) from None
                write("\n  ")
                with element(schema.qname(schema.TOTALS_ELEMENT), totals):
                    pass
                write("\n")
        fh.write(b"\n")  # a text file ends with a newline
    return WriteReport(Path(path), count, sums().get("amount", Decimal("0.00")))
