"""Monthly bills (квитанции) with the ГОСТ Р 56042-2014 payment QR code, as PDF.

A partner's debt registry gives one :class:`Bill` per account (:func:`bills_from_records`);
a :class:`BillRenderer` writes each as PDF, in Russian, with the payee's requisites, the
services and their amounts, the total due and the QR code every bank app reads.
``docs/bills.md`` has the details::

    from pes_sdk.bills import BillRenderer, bills_from_records

    renderer = BillRenderer()                  # DejaVu Sans, or $PES_BILL_FONT
    for bill in bills_from_records(partner, registry.period, sorted_records):
        renderer.write(bill, f"bills/{bill.account}.pdf")
"""

from __future__ import annotations

from pes_sdk.bills.model import Bill, BillError, BillLine, bills_from_records, month_year, rubles
from pes_sdk.bills.pdf import (
    FONT_CANDIDATES,
    FONT_ENV,
    BillFontError,
    BillRenderer,
    find_font,
    settle,
    write_atomic,
)

__all__ = [
    "FONT_CANDIDATES",
    "FONT_ENV",
    "Bill",
    "BillError",
    "BillFontError",
    "BillLine",
    "BillRenderer",
    "bills_from_records",
    "find_font",
    "month_year",
    "rubles",
    "settle",
    "write_atomic",
]
