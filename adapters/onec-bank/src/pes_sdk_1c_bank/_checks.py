"""What a bank needs in a payment order that the models leave optional."""

from __future__ import annotations

from pes_sdk.models.transfers import PaymentOrder
from pes_sdk_1c_bank.i18n import tr


def missing_bank_details(order: PaymentOrder) -> list[tuple[str, str, str]]:
    """The bank name and city a bank file needs and ``order`` lacks.

    Each as ``(side, field, message)``: side ``payer`` or ``payee``, field ``name`` or
    ``city``. A payment order shows each bank by name and city (form 0401060, fields 10/13
    and 14/11); 1CClientBankExchange 1.03 requires them in a file sent to the bank
    (``…Банк1``, ``…Банк2``) and a DirectBank ``Bank`` has ``Name`` and ``City``.
    """
    out = []
    for side, party in (("payer", order.payer), ("payee", order.payee)):
        for field, value in (("name", party.bank.bank_name), ("city", party.bank.city)):
            if not value.strip():
                out.append((side, field, _missing(side, field, order.number)))
    return out


def _missing(side: str, field: str, number: str) -> str:
    # One whole sentence for each case: Russian words for "payer's bank name" change with
    # both, so the sentence is translated as a whole, not assembled from parts.
    if (side, field) == ("payer", "name"):
        return tr(
            "order № {number}: the payer's bank name is missing: set BankDetails.bank_name "
            "(bank.name in PARTNERS.toml or the runner configuration)",
            number=number,
        )
    if (side, field) == ("payer", "city"):
        return tr(
            "order № {number}: the payer's bank city is missing: set BankDetails.city "
            "(bank.city in PARTNERS.toml or the runner configuration)",
            number=number,
        )
    if (side, field) == ("payee", "name"):
        return tr(
            "order № {number}: the payee's bank name is missing: set BankDetails.bank_name "
            "(bank.name in PARTNERS.toml or the runner configuration)",
            number=number,
        )
    return tr(
        "order № {number}: the payee's bank city is missing: set BankDetails.city "
        "(bank.city in PARTNERS.toml or the runner configuration)",
        number=number,
    )
