"""What the YooKassa API v3 (ЮKassa) says, in one place: shared by the adapter and the simulator.

Sources: yookassa.ru/developers (API reference, "Входящие уведомления", "Коды ответа HTTP",
"Отправка чеков: справочник значений параметров"). Values the public pages did not settle
are marked *unverified* here and in docs/gateway-yookassa.md, and are configurable.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable

from pes_sdk.gateways.models import Decline
from pes_sdk.models.payments import PaymentMethod
from pes_sdk.models.receipts import ReceiptVat

__all__ = [
    "API_URL",
    "CANCELLED_REASONS",
    "DECLINES",
    "DEFAULT_WEBHOOK_NETWORKS",
    "IDEMPOTENCE_HEADER",
    "MAX_DESCRIPTION",
    "MAX_IDEMPOTENCE_KEY",
    "METHOD_TYPES",
    "SAVABLE_TYPES",
    "VAT_CODES",
    "Networks",
    "basic_auth",
]

#: The production API root.
API_URL = "https://api.yookassa.ru/v3"
IDEMPOTENCE_HEADER = "Idempotence-Key"
#: ЮKassa accepts keys of up to 64 characters, valid for 24 hours.
MAX_IDEMPOTENCE_KEY = 64
#: ``description`` of a payment or a refund: at most 128 characters.
MAX_DESCRIPTION = 128

#: The networks ЮKassa sends notifications from, as published on its "Входящие уведомления"
#: page. Webhooks are not signed, so the source address is the only authenticity check the
#: protocol offers (followed by a re-fetch of the object). Configurable: ЮKassa may change
#: the list; check the page when deploying.
DEFAULT_WEBHOOK_NETWORKS: tuple[str, ...] = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)

#: ``payment_method_data.type`` per method: bank card, SberPay (``sberbank``), СБП (``sbp``).
METHOD_TYPES: dict[PaymentMethod, str] = {
    PaymentMethod.CARD: "bank_card",
    PaymentMethod.SBERPAY: "sberbank",
    PaymentMethod.SBP: "sbp",
}

#: ``cancellation_details.reason`` values that mean "cancelled" (nobody declined the client:
#: the merchant cancelled, or the time ran out); every other reason is a decline (failed).
#: ``permission_revoked`` is not here: it is the decline of a charge of a saved method whose
#: holder withdrew the permission for autopayments ("Неуспешные платежи").
CANCELLED_REASONS = frozenset(
    {"canceled_by_merchant", "expired_on_confirmation", "expired_on_capture"}
)

#: ``cancellation_details.reason`` of a declined payment → :class:`Decline`, the terms
#: autopay acts on (docs/gateways.md, "Saved methods"). A reason not listed (ЮKassa may add
#: some) is :attr:`Decline.OTHER`: a bounded number of retries, never "gone" by guess.
DECLINES: dict[str, Decline] = {
    # not enough money, or a limit of the card or the wallet: a later attempt may pass
    "insufficient_funds": Decline.FUNDS,
    "payment_method_limit_exceeded": Decline.FUNDS,
    # the saved method cannot be charged again: the client must link a method anew
    "card_expired": Decline.METHOD_GONE,
    "permission_revoked": Decline.METHOD_GONE,
    "payment_method_restricted": Decline.METHOD_GONE,  # blocked, e.g. reported lost
    "invalid_card_number": Decline.METHOD_GONE,
    "country_forbidden": Decline.METHOD_GONE,
    "unsupported_mobile_operator": Decline.METHOD_GONE,
    # the issuer or ЮKassa said no for another reason: retry a bounded number of times
    "general_decline": Decline.OTHER,
    "call_issuer": Decline.OTHER,
    "fraud_suspected": Decline.OTHER,
    "issuer_unavailable": Decline.OTHER,
    "internal_timeout": Decline.OTHER,
    "3d_secure_failed": Decline.OTHER,
    "invalid_csc": Decline.OTHER,
    "identification_required": Decline.OTHER,  # the wallet's holder must identify first
}

#: ``payment_method.type`` values ЮKassa can save during a payment, of those this adapter
#: pays with (bank card, SberPay, СБП: "Привязка платежного средства во время платежа")
SAVABLE_TYPES = frozenset({"bank_card", "sberbank", "sbp"})

#: ``receipt.items[].vat_code`` (1..12). 11 and 12 (22%, 22/122) apply from 2026-01-01.
VAT_CODES: dict[ReceiptVat, int] = {
    ReceiptVat.NONE: 1,
    ReceiptVat.VAT0: 2,
    ReceiptVat.VAT10: 3,
    ReceiptVat.VAT20: 4,
    ReceiptVat.VAT10_110: 5,
    ReceiptVat.VAT20_120: 6,
    ReceiptVat.VAT5: 7,
    ReceiptVat.VAT7: 8,
    ReceiptVat.VAT5_105: 9,
    ReceiptVat.VAT7_107: 10,
    ReceiptVat.VAT22: 11,
    ReceiptVat.VAT22_122: 12,
}


def basic_auth(shop_id: str, secret_key: str) -> str:
    """The ``Authorization`` header value: HTTP Basic with ``shopId:secretKey``."""
    if not shop_id or not secret_key:
        raise ValueError("YooKassa needs a shop id and a secret key")
    token = base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode("ascii")
    return f"Basic {token}"


class Networks:
    """An allow-list of source networks (CIDRs, IPv4 and IPv6)."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(c.strip(), strict=True) for c in cidrs)
        if not self.networks:
            raise ValueError("an allow-list of webhook networks must not be empty")

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:185.71.76.1 from a dual-stack socket
        return any(ip.version == n.version and ip in n for n in self.networks)

    def __repr__(self) -> str:
        return f"Networks({[str(n) for n in self.networks]!r})"
