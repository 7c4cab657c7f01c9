"""What a bank needs in a payment order that the models leave optional."""

from __future__ import annotations

from pes_sdk.models.transfers import PaymentOrder


def missing_bank_details(order: PaymentOrder) -> list[tuple[str, str, str]]:
    """The bank name and city a bank file needs and ``order`` lacks.

    Each as ``(side, field, message)``: side ``payer`` or ``payee``, field ``name`` or
    ``city``. A payment order shows each bank by name and city (form 0401060, fields 10/13
    and 14/11); 1CClientBankExchange 1.03 requires them in a file sent to the bank
    (``…Банк1``, ``…Банк2``) and a DirectBank ``Bank`` has ``Name`` and ``City``.
    """
    out = []
    for side, party in (("payer", order.payer), ("payee", order.payee)):
        for field, attr, value in (
            ("name", "bank_name", party.bank.bank_name),
            ("city", "city", party.bank.city),
        ):
            if not value.strip():
                out.append(
                    (
                        side,
                        field,
                        f"order № {order.number}: the {side}'s bank {field} is missing: set "
                        f"BankDetails.{attr} (bank.{field} in PARTNERS.toml or the runner "
                        "configuration)",
                    )
                )
    return out
