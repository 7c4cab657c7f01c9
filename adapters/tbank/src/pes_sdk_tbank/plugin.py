"""Entry point of the T-Bank gateway: the ``tbank`` factory for ``pes_payment_gateways``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.gateways.contract import GatewayFactory
from pes_sdk.models.receipts import ReceiptVat
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_tbank.client import TBankGateway

# The client (HTTP transport) is imported when a gateway is built, not when the plugin host
# loads this module for every `pes` command.

__all__ = ["TBankFactory", "pes_payment_gateways"]


def _codes(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    return default if value is None else tuple(c.strip() for c in value.split(",") if c.strip())


@attrs.frozen
class TBankFactory:
    """Builds T-Bank gateways from settings.

    Required: ``terminal_key``, ``password``. Optional: ``url`` (default the production
    API), ``notification_url``, ``timeout`` (seconds, default 10), ``taxation``,
    ``receipt_email`` / ``receipt_phone`` (the service's own contact for receipts that name
    none of the client's; without any, no ``Receipt`` is sent), ``fee_vat`` (a
    :class:`ReceiptVat` name), and the comma-separated ``not_found_codes``,
    ``duplicate_order_codes``, ``amount_exceeded_codes``, ``invalid_refund_codes``,
    ``refused_refund_codes`` (``ErrorCode`` values; see docs/gateway-tbank.md).
    """

    name: str = "tbank"
    description: str = "T-Bank internet acquiring API v2 (card, SberPay via the form, СБП)"

    def create(self, settings: Mapping[str, str]) -> TBankGateway:
        missing = [k for k in ("terminal_key", "password") if not settings.get(k)]
        if missing:
            raise ConfigError(f"tbank gateway: missing settings {', '.join(missing)}")
        try:
            timeout = float(settings.get("timeout", "10"))
            fee_vat = ReceiptVat(settings.get("fee_vat", "none"))
        except ValueError as exc:
            raise ConfigError(f"tbank gateway: {exc}") from None
        from pes_sdk_tbank.client import (
            DUPLICATE_ORDER_CODES,
            INVALID_REFUND_CODES,
            REFUSED_REFUND_CODES,
            TBankGateway,
        )

        extra: dict[str, Any] = {"base_url": settings["url"]} if settings.get("url") else {}
        return TBankGateway(
            **extra,
            terminal_key=settings["terminal_key"],
            password=settings["password"],
            notification_url=settings.get("notification_url"),
            timeout=timeout,
            taxation=settings.get("taxation", "usn_income"),
            receipt_email=settings.get("receipt_email"),
            receipt_phone=settings.get("receipt_phone"),
            fee_vat=fee_vat,
            not_found_codes=_codes(settings.get("not_found_codes"), ("7",)),
            duplicate_order_codes=_codes(
                settings.get("duplicate_order_codes"), DUPLICATE_ORDER_CODES
            ),
            amount_exceeded_codes=_codes(settings.get("amount_exceeded_codes"), ("330",)),
            invalid_refund_codes=_codes(settings.get("invalid_refund_codes"), INVALID_REFUND_CODES),
            refused_refund_codes=_codes(settings.get("refused_refund_codes"), REFUSED_REFUND_CODES),
        )


@hookimpl
def pes_payment_gateways() -> Sequence[GatewayFactory]:
    """T-Bank acquiring."""
    return [TBankFactory()]
